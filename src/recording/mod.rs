//! The recording wing: recording sessions and their rules, the per-path
//! session lock, re-triggers, the hold, revival, segment accounting and
//! event recording. Its functions take the [`Context`](crate::context::Context)
//! (or the store and policy) and MediaMTX's API client; the commands read
//! the command line, call these and print what they return.
//!
//! A recording session on a path (`record start`) switches MediaMTX's
//! `record` on and starts a *hold* that reads the stream, because an
//! on-demand path records only while something reads it. The files, in the
//! order a session meets them:
//!
//! - `start`: `record start` as a whole (an event on an armed path, a
//!   re-trigger of a live session, or a new one); `begin`: a new session
//!   switched on, its hold started and waited for, or everything undone.
//! - `lock`: the per-path session lock that serialises every change of a
//!   session.
//! - `session`: the session's statuses and rules (live, held, stale), the
//!   start and stop deadlines, how a session ends.
//! - `retrigger`: a start on a live session moves its end later.
//! - `spawn` starts the hold process; `hold` is what it does.
//! - `switch`: MediaMTX's `record` switch, and putting it back on.
//! - `revive`: a new hold for a session whose hold died.
//! - `stop`: stopping recording on a path, whatever state it is in.
//! - `segments`: `segment-complete`'s accounting (start times, gaps,
//!   recovery, gone files, the disk budget).
//! - `events`: armed paths, their ring, events, clips and `resume`.
//! - `text`: how times are written in what is printed and logged.
//!
//! Layer: below `commands`, above the state store, the policy, MediaMTX's
//! client, the supervisor and `process`.

pub(crate) mod begin;
pub(crate) mod events;
pub(crate) mod hold;
pub(crate) mod lock;
pub(crate) mod retrigger;
pub(crate) mod revive;
pub mod segments;
pub mod session;
pub(crate) mod spawn;
pub(crate) mod start;
pub(crate) mod stop;
pub(crate) mod switch;
pub(crate) mod text;
