//! [`LockFile`]: the one lock-file type, for the per-device locks and the
//! per-path session locks.
//!
//! The lock is `flock` through `std::fs::File::lock` / `try_lock` (in std
//! since Rust 1.89, so no extra crate): the kernel drops it when the last
//! descriptor of the open file goes away, which makes a crashed owner
//! harmless, and a child that inherits the descriptor keeps it held. The
//! file is opened without following a link, neither at the file nor at its
//! directory (made when missing), and anything but a regular file is
//! refused (see [`super::Dir`]). Its owner writes who it is into it, for
//! "held by pid N" messages ([`LockFile::holder`]); the lock works without.
//!
//! Waiting for a lock is one loop ([`LockFile::lock_within`]) or, for a
//! caller with its own event loop, one step of it ([`LockWait::step`]).

use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::dir::{Access, Dir};

/// An open lock file, held once [`LockFile::try_lock`] (or a wait) says so;
/// released when dropped (and when every process that inherited it is gone).
#[derive(Debug)]
pub(crate) struct LockFile {
    file: File,
    path: PathBuf,
}

/// How a wait for a lock ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited<E> {
    /// The lock is held.
    Held,
    /// The deadline passed with the lock still held by someone else.
    TimedOut,
    /// The caller's check between tries said to give up.
    Stopped(E),
}

/// What one step of a wait found (see [`LockWait`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Held,
    TimedOut,
    /// Still held by someone else: try again at this instant.
    TryAt(Instant),
}

/// Opens the lock file `path` without following a link (see the module
/// docs); `create` makes it (and its directory) when missing and opens it
/// for writing.
fn open(path: &Path, create: bool) -> io::Result<File> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a lock file path", path.display()),
        ));
    };
    let access = if create {
        Access::ReadWrite
    } else {
        Access::Read
    };
    Dir::open_nofollow(dir, create)?.open(name, access, create)
}

impl LockFile {
    /// Opens (creating when missing) the lock file `path`; not locked yet.
    pub(crate) fn open(path: &Path) -> io::Result<LockFile> {
        Ok(LockFile {
            file: open(path, true)?,
            path: path.to_path_buf(),
        })
    }

    /// Takes the lock if it is free: `Ok(true)` when it is now held through
    /// this open file, `Ok(false)` when another open file holds it.
    pub(crate) fn try_lock(&self) -> io::Result<bool> {
        match self.file.try_lock() {
            Ok(()) => Ok(true),
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Opens `path` and takes its lock if it is free; `Ok(None)` when
    /// someone holds it.
    pub(crate) fn try_acquire(path: &Path) -> io::Result<Option<LockFile>> {
        let lock = LockFile::open(path)?;
        Ok(lock.try_lock()?.then_some(lock))
    }

    /// Tries every `poll` until the lock is held or `deadline` passes.
    /// `between` runs after each failed try; its error ends the wait
    /// ([`Waited::Stopped`]).
    pub(crate) fn lock_within<E>(
        &self,
        deadline: Instant,
        poll: Duration,
        mut between: impl FnMut() -> Result<(), E>,
    ) -> io::Result<Waited<E>> {
        let mut wait = LockWait::new(deadline, poll);
        loop {
            let step = wait.step(self, Instant::now())?;
            if step == Step::Held {
                return Ok(Waited::Held);
            }
            if let Err(e) = between() {
                return Ok(Waited::Stopped(e));
            }
            match step {
                Step::TryAt(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
                _ => return Ok(Waited::TimedOut),
            }
        }
    }

    /// Writes `owner` (who holds the lock, for [`LockFile::holder`]) as the
    /// file's whole content.
    pub(crate) fn write_owner(&mut self, owner: &str) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        writeln!(self.file, "{owner}")
    }

    /// What the current (or last) owner of the lock file `path` wrote in
    /// it, trimmed; `None` when it cannot be read.
    pub(crate) fn holder(path: &Path) -> Option<String> {
        let mut text = String::new();
        open(path, false).ok()?.read_to_string(&mut text).ok()?;
        Some(text.trim().to_string())
    }

    /// The descriptor a child must inherit to share the lock.
    pub(crate) fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// A wait for a lock until a deadline, one try at a time: what
/// [`LockFile::lock_within`] loops over, for callers that run their own
/// event loop between tries.
#[derive(Debug)]
pub(crate) struct LockWait {
    deadline: Instant,
    poll: Duration,
}

impl LockWait {
    pub(crate) fn new(deadline: Instant, poll: Duration) -> LockWait {
        LockWait { deadline, poll }
    }

    /// One try at `now`: held, timed out (still taken at or after the
    /// deadline), or when to try next (never later than the deadline).
    pub(crate) fn step(&mut self, lock: &LockFile, now: Instant) -> io::Result<Step> {
        if lock.try_lock()? {
            return Ok(Step::Held);
        }
        if now >= self.deadline {
            return Ok(Step::TimedOut);
        }
        Ok(Step::TryAt((now + self.poll).min(self.deadline)))
    }
}
