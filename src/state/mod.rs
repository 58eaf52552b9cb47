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
            pub(crate) fn as_str(self) -> &'static str {
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

pub(crate) mod cause;
mod dirs;
pub(crate) mod events;
pub(crate) mod files;
mod ledger;
pub(crate) mod model;
pub(crate) mod observe;
pub(crate) mod outage;
mod publisher;
mod raw;
pub(crate) mod stills;
pub(crate) mod storage;
pub(crate) mod store;
pub(crate) mod write_window;

pub(crate) use crate::process::identity;
pub use cause::{Cause, Failure};
pub(crate) use dirs::default_state_dir;
pub use model::*;
pub use publisher::*;
pub use store::*;
