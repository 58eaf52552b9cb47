//! Safe files, the bottom layer: everything the program opens in a
//! directory someone else may write (the state directory, its lock files,
//! a snapshot's `-o`) goes through these types, built on `nix`.
//!
//! - [`Dir`] (`dir`): an open directory whose entries are reached relative
//!   to its descriptor and never through a link (a path walked component by
//!   component), with file-type checks, exclusive temporary files and
//!   atomic replacement (rename, then fsync of the file and the directory);
//! - [`Refused`] (`refusal`): what is not what it must be, told apart from a
//!   failing system call;
//! - [`space`] (`space`): a file system's size and free space;
//! - [`LockFile`] (`lock`): the one lock-file type, with try-acquire, a wait
//!   within a deadline and who holds it;
//! - `sys`: the system calls themselves, each behind a small safe function.
//!
//! Nothing here imports another layer of the program (but the usage error
//! kind, which [`is_refusal`] recognises).

pub(crate) mod dir;
pub(crate) mod lock;
pub(crate) mod refusal;
pub(crate) mod space;
pub(crate) mod sys;

#[cfg(test)]
mod tests;

pub(crate) use dir::{Access, Dir};
pub(crate) use lock::{LockFile, LockWait, Step, Waited};
pub(crate) use refusal::is_refusal;
pub(crate) use space::{space, Space};
pub(crate) use sys::FileKind;
