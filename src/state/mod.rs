//! The state: what every path is doing, kept in `state.json` in the state
//! directory (`model` the structs, `publisher` the publisher's part of a
//! path's entry, `store` the locked, atomic reads and
//! writes, `raw` the entry-by-entry document, `ledger` the segments,
//! `write_window` the recent write rate), the
//! safe opening of files there (`files`) and the identity of the processes
//! it names (`identity`, kept with the processes in `crate::process`).

/// `as_str` and `Display` for an enum the state writes as a word: each
/// variant's word, the same as its serde name (the tests of `model` and
/// `publisher` check both).
macro_rules! words {
    ($ty:ident { $($variant:ident => $word:literal,)* }) => {
        impl $ty {
            /// The word the state file, status and messages use.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word,)*
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

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
