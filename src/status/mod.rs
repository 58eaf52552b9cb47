//! How `hook status` shows what it observed: human text, JSON, Prometheus
//! metrics (`units` the units people read); `view` puts the status together (the state checked against the
//! living processes by `state::observe`, the recording's trouble, the disk
//! budget) and renders it in the format asked for.

pub(crate) mod events;
pub(crate) mod forecast;
pub(crate) mod human;
pub(crate) mod json;
pub mod prometheus;
pub mod recording;
pub(crate) mod storage;
pub(crate) mod units;
pub(crate) mod view;
