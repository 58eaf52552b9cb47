//! Where the state lives: the default state directory and the locks
//! directory (in the state directory, else a private directory of this
//! user's under the temporary directory).

use super::*;
use files::Dir;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The state directory to use: the flag / `HOOK_STATE_DIR` when given, else
/// `/var/lib/mediamtx-hook` when writable, else `$XDG_STATE_HOME/mediamtx-hook`
/// (`~/.local/state/mediamtx-hook`).
pub(crate) fn default_state_dir() -> PathBuf {
    let system = PathBuf::from("/var/lib/mediamtx-hook");
    if dir_is_writable(&system) {
        return system;
    }
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("mediamtx-hook");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".local/state/mediamtx-hook");
    }
    std::env::temp_dir().join("mediamtx-hook")
}

/// `<tmp>/mediamtx-hook-<uid>/locks`, when that directory is this user's
/// own (mode 0700, not a symlink): in a shared temporary directory nobody
/// else may choose where the lock files go. Err says why it cannot be used
/// and how to fix it.
pub(super) fn private_locks_dir(tmp: &Path) -> std::result::Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = crate::fs::sys::euid();
    let base = tmp.join(format!("mediamtx-hook-{uid}"));
    match fs::DirBuilder::new().mode(0o700).create(&base) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", base.display())),
    }
    let meta = fs::symlink_metadata(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(format!(
            "{} is not a directory of this user's (it is a link or a file): remove it",
            base.display()
        ));
    }
    if meta.uid() != uid {
        return Err(format!(
            "{} belongs to uid {}, not to this user (uid {uid}): another user made it first; remove it (as root: rm -r {}) or set TMPDIR to a directory of this user's",
            base.display(),
            meta.uid(),
            base.display()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is open to other users (mode {:04o}): run `chmod 700 {}`",
            base.display(),
            meta.mode() & 0o7777,
            base.display()
        ));
    }
    let locks = base.join("locks");
    Dir::open_nofollow(&locks, true).map_err(|e| format!("{}: {e}", locks.display()))?;
    Ok(locks)
}

pub(super) fn dir_is_writable(dir: &Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_ok()
}

impl StateStore {
    /// Directory of the per-device lock files: `locks/` in the state
    /// directory, created here. When it cannot be created (a state directory
    /// that cannot be written) the locks go to this user's private directory
    /// under the system's temporary directory instead: streaming needs the
    /// device lock, not the state, and every instance falls back alike.
    ///
    /// A `locks` that is refused (a link, a state directory writable by
    /// everyone) is returned as it is: taking a lock in it fails with the
    /// reason. A fallback directory that cannot be used either (another
    /// user made it first) is logged as an error saying how to fix it.
    pub fn locks_dir(&self) -> PathBuf {
        let dir = self.dir.join("locks");
        let made = self.open_state_dir(true).and_then(|d| d.sub("locks", true));
        match made {
            Ok(_) => return dir,
            Err(e) if files::is_refusal(&e) => return dir,
            Err(_) => {}
        }
        match private_locks_dir(&std::env::temp_dir()) {
            Ok(fallback) => {
                log::debug!(
                    "cannot create {}; device locks go to {}",
                    dir.display(),
                    fallback.display()
                );
                fallback
            }
            Err(why) => {
                static SAID: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    log::error!(
                        "cannot create the device lock directory {} and cannot use the fallback: {why}",
                        dir.display()
                    );
                }
                dir
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::store::tests::tmp;
    use std::fs;

    #[test]
    fn locks_fall_back_to_a_private_directory() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        assert_eq!(store.locks_dir(), dir.join("locks"));
        assert!(dir.join("locks").is_dir());

        let blocker = dir.join("file");
        fs::write(&blocker, b"").unwrap();
        let unwritable = StateStore::new(blocker.join("state"));
        let fallback = unwritable.locks_dir();
        assert!(fallback.is_dir(), "{}", fallback.display());
        assert!(!fallback.starts_with(&blocker));
        assert_eq!(fallback, private_locks_dir(&std::env::temp_dir()).unwrap());
        // A locks directory planted as a link is returned as it is (taking a
        // lock in it is refused: see `camera::device_lock`'s tests).
        let planted = tmp();
        let elsewhere = tmp();
        std::os::unix::fs::symlink(&elsewhere, planted.join("locks")).unwrap();
        let store = StateStore::new(&planted);
        assert_eq!(store.locks_dir(), planted.join("locks"));

        // Somebody else's (or a too open) directory is never used.
        let shared = tmp();
        let uid = crate::fs::sys::euid();
        let base = shared.join(format!("mediamtx-hook-{uid}"));
        fs::create_dir(&base).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&base, fs::Permissions::from_mode(0o777)).unwrap();
        let why = private_locks_dir(&shared).unwrap_err();
        assert!(
            why.contains(&format!("chmod 700 {}", base.display())),
            "{why}"
        );
        fs::remove_dir(&base).unwrap();
        std::os::unix::fs::symlink(&dir, &base).unwrap();
        let why = private_locks_dir(&shared).unwrap_err();
        assert!(why.contains("is not a directory of this user's"), "{why}");
    }
}
