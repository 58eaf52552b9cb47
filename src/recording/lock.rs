//! The per-path session lock (`locks/session-PATH.lock` in the state
//! directory): one lock serialises every change of a path's recording
//! session. A start holds it until its session is active or undone, a stop
//! until the session has ended, a hold while it ends its session. So a
//! start never runs inside a stop, two starts never both start holds, and a
//! `starting` session found under the lock has lost its `record start`
//! (killed): it is stale, and the next start or stop cleans it up.
//!
//! The API is small: [`try_lock`], [`lock_within`] (a wait with a deadline,
//! asking the caller between tries) and [`holder`] (who holds it, for the
//! message of a wait that gives up), thin uses of `crate::fs::LockFile`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::context::Context;
use crate::fs::{LockFile, Waited};

/// How often a busy session lock is tried again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// The path's session lock file, in the state directory's `locks/`.
pub(crate) fn lock_file(ctx: &Context, path: &str) -> PathBuf {
    ctx.store.locks_dir().join(format!(
        "session-{}.lock",
        crate::state::files::name_stem(path)
    ))
}

/// The held session lock of one path; released when dropped (or when its
/// holder dies: it is a `flock`, see [`LockFile`]).
#[derive(Debug)]
pub(crate) struct SessionLock {
    _lock: LockFile,
}

/// Opens `path`'s session lock file (not locked yet).
fn open(ctx: &Context, path: &str) -> anyhow::Result<(LockFile, PathBuf)> {
    let file_name = lock_file(ctx, path);
    let lock = LockFile::open(&file_name)
        .with_context(|| format!("opening session lock {}", file_name.display()))?;
    Ok((lock, file_name))
}

/// Takes `path`'s session lock, waiting up to `limit` while another hook
/// command holds it. `busy` is asked between tries; its error ends the wait
/// (a start that is refused, a hold told to stop).
pub(crate) fn lock_within(
    ctx: &Context,
    path: &str,
    limit: Duration,
    busy: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<SessionLock> {
    let (lock, file_name) = open(ctx, path)?;
    let waited = lock
        .lock_within(Instant::now() + limit, LOCK_POLL, busy)
        .with_context(|| format!("locking {}", file_name.display()))?;
    match waited {
        Waited::Held => Ok(claim(lock)),
        Waited::Stopped(e) => Err(e),
        Waited::TimedOut => anyhow::bail!(
            "{path}: another hook command ({}) has been changing its recording session for more than {}; try again, or see `hook status {path}`",
            holder(ctx, path).unwrap_or_else(|| "pid unknown".to_string()),
            crate::policy::duration::Dur(limit)
        ),
    }
}

/// Takes `path`'s session lock when it is free at once; `None` when another
/// hook command holds it.
pub(crate) fn try_lock(ctx: &Context, path: &str) -> anyhow::Result<Option<SessionLock>> {
    let (lock, file_name) = open(ctx, path)?;
    let held = lock
        .try_lock()
        .with_context(|| format!("locking {}", file_name.display()))?;
    Ok(held.then(|| claim(lock)))
}

/// Who holds (or last held) `path`'s session lock, as its holder wrote it
/// (`pid 123 (hook record)`); `None` when that is unknown.
pub(crate) fn holder(ctx: &Context, path: &str) -> Option<String> {
    LockFile::holder(&lock_file(ctx, path)).filter(|h| !h.is_empty())
}

/// The lock just taken, with who holds it written in it (for the message
/// of a wait that gives up; the lock works without it).
fn claim(mut lock: LockFile) -> SessionLock {
    let me = std::env::args().nth(1).unwrap_or_default();
    let _ = lock.write_owner(&format!("pid {} (hook {me})", std::process::id()));
    SessionLock { _lock: lock }
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_lock_names_keep_inside_their_directory() {
        use crate::state::files::name_stem;
        assert_eq!(name_stem("cam0"), "cam0");
        assert_eq!(name_stem("a/b"), "a%2Fb");
        assert_eq!(name_stem("a%2Fb"), "a%252Fb");
        assert_ne!(name_stem("a/b"), name_stem("a%2Fb"));
    }
}
