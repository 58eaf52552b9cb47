//! Error kinds that decide the exit status.
//!
//! Exit status: 0 success or a requested stop; 1 a runtime failure; 2 a usage
//! or input error. MediaMTX throws exit codes away, so every failure is also
//! logged and, where a path is known, written to the state.

use std::fmt;

/// Exit status for a usage or input error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;

/// A bad input: a variable, flag or config value that is not what is expected.
/// Carried inside `anyhow::Error`; the binary (`main.rs`) maps it to exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Builds an `anyhow::Error` that exits with status 2.
pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// True when the error (or anything in its chain) is a usage error.
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<UsageError>().is_some()
            || e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<UsageError>())
    })
}
