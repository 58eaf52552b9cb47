//! The state: what every path is doing, kept in `state.json` in the state
//! directory (`model` the structs, `publisher` the publisher's part of a
//! path's entry, `store` the locked, atomic reads and
//! writes, `raw` the entry-by-entry document, `ledger` the segments,
//! `write_window` the recent write rate), the
//! safe opening of files there (`files`) and the identity of the processes
//! it names (`identity`, kept with the processes in `crate::process`).

pub mod cause;
mod dirs;
pub mod events;
pub mod files;
mod ledger;
pub mod model;
pub mod observe;
pub mod outage;
mod publisher;
mod raw;
pub mod stills;
pub mod storage;
pub mod store;
pub mod write_window;

pub use crate::process::identity;
pub use cause::{Cause, Failure};
pub use dirs::default_state_dir;
pub use model::*;
pub use publisher::*;
pub use store::*;
