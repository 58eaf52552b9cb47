//! [`Refused`]: a file or directory that is not what it must be (a link, not
//! a regular file, a directory too open…), carried inside `io::Error` so
//! that callers tell it from a failing system call.

use std::fmt;
use std::io;

/// A file or directory that is refused. Carried inside `io::Error`.
#[derive(Debug)]
pub(crate) struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

pub(crate) fn refused(msg: String) -> io::Error {
    io::Error::other(Refused(msg))
}

/// True when `e` is a refusal (rather than a failure of the system call
/// itself): a [`Refused`], or a setting to correct (a usage error).
pub(crate) fn is_refusal(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|r| r.is::<Refused>() || r.is::<crate::error::UsageError>())
}
