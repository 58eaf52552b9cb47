//! Event recording with a pre-roll, on armed paths.
//!
//! An armed path (`arm`) is held like a recording session and recorded in
//! short segments. A finished segment that no event covers goes to the
//! path's ring (`ring`), which `segment-complete` rolls (`roll`): the ring
//! keeps only the pre-roll. An event (`trigger`, a `record start` on an
//! armed path) keeps the ring's segments inside its window and every
//! segment up to its post-roll. `clip_plan` decides which segments make a
//! clip of an event or a stretch of time, `clip` joins them; `resume`
//! starts again, after a reboot or a MediaMTX restart, every session and
//! arm that should run.

pub(crate) mod arm;
pub(crate) mod clip;
pub(crate) mod clip_plan;
pub(crate) mod resume;
pub(crate) mod ring;
pub(crate) mod roll;
pub(crate) mod trigger;
