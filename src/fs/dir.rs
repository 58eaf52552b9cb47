//! [`Dir`]: an open directory whose entries are reached relative to its
//! descriptor and never through a link, with exclusive temporary files and
//! atomic replacement in it.
//!
//! Below a directory opened as given (its own path is configuration,
//! trusted as given):
//!
//! - every file and subdirectory is opened relative to its directory's
//!   descriptor with `O_NOFOLLOW`, a path walked component by component: a
//!   symbolic link is refused, with an error naming it;
//! - every file is checked with `fstat` to be a regular file (a FIFO, a
//!   device or a directory is refused, and opening never blocks on a FIFO:
//!   `O_NONBLOCK`, which means nothing for a regular file); when root opens
//!   a file with other hard links that does not belong to the directory's
//!   owner, it is refused too (a system file linked in);
//! - a file or directory is handed to the directory's owner (`fchown` on
//!   this process's own descriptor) only when this process has just created
//!   it, and only when running as root;
//! - temporary files are created with `O_EXCL` under an unpredictable name.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::FileStat;

use super::refusal::refused;
use super::sys::{self, FileKind};

/// How a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    ReadWrite,
    /// Write, `O_APPEND`.
    Append,
    /// Write, emptied (`O_TRUNC`).
    Truncate,
}

impl Access {
    fn flags(self) -> OFlag {
        match self {
            Access::Read => OFlag::O_RDONLY,
            Access::ReadWrite => OFlag::O_RDWR,
            // Readable too: the ledger looks at its last byte before appending.
            Access::Append => OFlag::O_RDWR | OFlag::O_APPEND,
            Access::Truncate => OFlag::O_WRONLY | OFlag::O_TRUNC,
        }
    }
}

/// A name that is one entry of a directory: not empty, `.`, `..`, nor with
/// a `/` or a NUL.
pub(crate) fn entry<N: AsRef<OsStr> + ?Sized>(name: &N) -> io::Result<&OsStr> {
    use std::os::unix::ffi::OsStrExt;
    let name = name.as_ref();
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a file name inside a directory"),
        ));
    }
    if b.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "NUL in a name"));
    }
    Ok(name)
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
    path: PathBuf,
    uid: u32,
    gid: u32,
}

impl Dir {
    /// Opens the directory at `path`, followed as given (configuration,
    /// which may well be a link to another disk).
    pub(crate) fn open_dir(path: &Path) -> io::Result<Dir> {
        let fd = sys::open_dir(path, false)?;
        Dir::from_fd(fd, path.to_path_buf())
    }

    /// [`Dir::open_dir`] for a directory to create files in: one this user
    /// may write into but not list (mode 0733) can only be opened as a path
    /// (`O_PATH`), and then cannot be synced. The flag says whether it can.
    pub(crate) fn open_dir_to_write(path: &Path) -> io::Result<(Dir, bool)> {
        match sys::open_dir(path, false) {
            Ok(fd) => Ok((Dir::from_fd(fd, path.to_path_buf())?, true)),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                let fd = sys::open_dir(path, true)?;
                Ok((Dir::from_fd(fd, path.to_path_buf())?, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the directory at `path` following its ancestors as given but
    /// not its last component (a directory of lock files). `create` makes
    /// it when it is missing (handed to its parent's owner when root made
    /// it), and its parent as given when that is missing.
    pub(crate) fn open_nofollow(path: &Path, create: bool) -> io::Result<Dir> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Dir::open_dir(path);
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        // The parent is made as given when missing.
        let fd = match sys::open_dir(parent, false) {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(parent)?;
                sys::open_dir(parent, false)?
            }
            other => other?,
        };
        let parent = Dir::from_fd(fd, parent.to_path_buf())?;
        let name = name.to_str().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "directory name is not UTF-8")
        })?;
        parent.sub(name, create)
    }

    fn from_fd(fd: OwnedFd, path: PathBuf) -> io::Result<Dir> {
        let st = sys::fstat(fd.as_fd())?;
        Dir::with_stat(fd, path, &st)
    }

    /// A directory from a descriptor and what `fstat` said of it.
    pub(crate) fn with_stat(fd: OwnedFd, path: PathBuf, st: &FileStat) -> io::Result<Dir> {
        if FileKind::of(st.st_mode) != FileKind::Directory {
            return Err(refused(format!("{} is not a directory", path.display())));
        }
        Ok(Dir {
            fd,
            path,
            uid: st.st_uid,
            gid: st.st_gid,
        })
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory (for messages).
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Hands what this process has just created to the directory's owner,
    /// when running as root and that owner is not root. Failures are
    /// ignored: root can still use the file.
    fn give_away(&self, fd: impl AsFd) {
        if self.uid != 0 && sys::euid() == 0 {
            let _ = sys::fchown(fd, self.uid, self.gid);
        }
    }

    /// The subdirectory at `rel`, walked component by component, never
    /// through a link (`O_NOFOLLOW | O_DIRECTORY` at each step); each
    /// missing one made when `create`. `rel` is relative, without `..`.
    pub(crate) fn sub(&self, rel: &str, create: bool) -> io::Result<Dir> {
        let invalid = || {
            entry(rel).err().unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "not a relative directory path")
            })
        };
        let mut names = Vec::new();
        for c in Path::new(rel).components() {
            match c {
                Component::Normal(n) => names.push(n.to_str().ok_or_else(invalid)?),
                Component::CurDir => {}
                _ => return Err(invalid()),
            }
        }
        let Some((first, rest)) = names.split_first() else {
            return Err(invalid());
        };
        let mut dir = self.sub1(first, create)?;
        for name in rest {
            dir = dir.sub1(name, create)?;
        }
        Ok(dir)
    }

    /// One step of [`Dir::sub`].
    fn sub1(&self, name: &str, create: bool) -> io::Result<Dir> {
        let c = entry(name)?;
        let open = || {
            sys::openat(
                self.fd(),
                c,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
                0,
            )
        };
        let mut created = false;
        let fd = match open() {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                match sys::mkdirat(self.fd(), c, 0o777) {
                    Ok(()) => created = true,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                open()
            }
            other => other,
        }
        .map_err(|e| self.explain(name, e, "a directory"))?;
        if created {
            self.give_away(&fd);
        }
        Dir::from_fd(fd, self.join(name))
    }

    /// Turns the errors of a name that is not what it should be into a
    /// refusal saying what is there instead.
    fn explain(&self, name: &str, e: io::Error, wanted: &str) -> io::Error {
        // What open(2) says when the name is a link (O_NOFOLLOW), not a
        // directory, a directory, or a FIFO / device with nobody behind it.
        let odd = [
            libc::ELOOP,
            libc::ENOTDIR,
            libc::EISDIR,
            libc::ENXIO,
            libc::ENODEV,
        ];
        if !e.raw_os_error().is_some_and(|c| odd.contains(&c)) {
            return e;
        }
        let what = self
            .kind(name)
            .ok()
            .flatten()
            .map_or("not usable", FileKind::describe);
        refused(format!(
            "{} is {what}, not {wanted}: refusing to follow or use it (nothing in the state directory may be a link; remove it)",
            self.join(name).display()
        ))
    }

    /// What `name` is itself (`fstatat` without following a link);
    /// `Ok(None)` when nothing has that name.
    pub(crate) fn kind(&self, name: impl AsRef<OsStr>) -> io::Result<Option<FileKind>> {
        Ok(self.stat(name)?.map(|st| FileKind::of(st.st_mode)))
    }

    /// `fstatat` of `name` without following a link; `Ok(None)` when
    /// nothing has that name.
    pub(crate) fn stat(&self, name: impl AsRef<OsStr>) -> io::Result<Option<FileStat>> {
        sys::lstat_at(self.fd(), entry(&name)?)
    }

    fn openat(&self, c: &OsStr, flags: OFlag) -> io::Result<File> {
        let fd = sys::openat(
            self.fd(),
            c,
            flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
            0o666,
        )?;
        Ok(File::from(fd))
    }

    /// Opens the regular file `name`, never through a link; `create` makes
    /// it when missing (handed to the directory's owner when root made it).
    pub(crate) fn open(&self, name: &str, access: Access, create: bool) -> io::Result<File> {
        let c = entry(name)?;
        // O_TRUNC only once the file is known to be a regular file of ours.
        let flags = access.flags() & !OFlag::O_TRUNC;
        let mut created = false;
        let mut result = self.openat(c, flags);
        if create {
            for _ in 0..3 {
                match &result {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    _ => break,
                }
                let new = flags | OFlag::O_CREAT | OFlag::O_EXCL;
                let new = if access == Access::Read {
                    new & !OFlag::O_ACCMODE | OFlag::O_RDWR
                } else {
                    new
                };
                result = match self.openat(c, new) {
                    Ok(f) => {
                        created = true;
                        Ok(f)
                    }
                    // Made by someone else meanwhile: open what is there.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.openat(c, flags),
                    Err(e) => Err(e),
                };
            }
        }
        let file = result.map_err(|e| self.explain(name, e, "a regular file"))?;
        self.check_file(&file, name, created)?;
        if created {
            self.give_away(&file);
        } else if access == Access::Truncate {
            file.set_len(0)?;
        }
        Ok(file)
    }

    /// Creates a new file (`O_CREAT | O_EXCL | O_NOFOLLOW`, so never an
    /// existing file nor one reached through a link) named `name`, with
    /// permissions `mode` (less the umask).
    pub(crate) fn create_new(&self, name: impl AsRef<OsStr>, mode: u32) -> io::Result<File> {
        let c = entry(&name)?;
        let fd = sys::openat(
            self.fd(),
            c,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW,
            mode,
        )?;
        Ok(File::from(fd))
    }

    /// Creates a new file (`O_EXCL`) named `prefix` and a random suffix, for
    /// a temporary file; returns it and its name.
    pub(crate) fn create_temp(&self, prefix: &str) -> io::Result<(File, String)> {
        let mut last = None;
        for _ in 0..8 {
            let name = format!("{prefix}{:016x}", random_or_clock());
            let c = entry(&name)?;
            match self.openat(c, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL) {
                Ok(file) => {
                    self.check_file(&file, &name, true)?;
                    self.give_away(&file);
                    return Ok((file, name));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    fn check_file(&self, file: &File, name: &str, created: bool) -> io::Result<()> {
        let st = sys::fstat(file.as_fd())?;
        let kind = FileKind::of(st.st_mode);
        if kind != FileKind::Regular {
            return Err(refused(format!(
                "{} is {}, not a regular file: refusing to use it (remove it)",
                self.join(name).display(),
                kind.describe()
            )));
        }
        // A system file hard-linked in by whoever can write the directory
        // (where the kernel's fs.protected_hardlinks does not stop it).
        if !created && sys::euid() == 0 && st.st_nlink > 1 && st.st_uid != self.uid {
            return Err(refused(format!(
                "{} has {} hard links and belongs to uid {}, not to the state directory's owner (uid {}): refusing to use it as root (remove it)",
                self.join(name).display(),
                st.st_nlink,
                st.st_uid,
                self.uid
            )));
        }
        Ok(())
    }

    /// `rename(from, to)` within this directory (a link at `to` is
    /// replaced, never followed).
    pub(crate) fn rename(&self, from: impl AsRef<OsStr>, to: impl AsRef<OsStr>) -> io::Result<()> {
        sys::renameat(self.fd(), entry(&from)?, entry(&to)?)
    }

    /// Removes the entry `name` (a link itself, never its target).
    pub(crate) fn unlink(&self, name: impl AsRef<OsStr>) -> io::Result<()> {
        sys::unlinkat(self.fd(), entry(&name)?)
    }

    /// True when `name` exists (as anything, links included).
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.kind(name).ok().flatten().is_some()
    }

    /// fsync of the directory (after a rename).
    pub(crate) fn sync(&self) -> io::Result<()> {
        sys::fsync(self.fd())
    }

    /// Replaces `name` with `bytes` atomically: a new temporary file named
    /// `tmp_prefix` and a random suffix (`O_EXCL`), written whole, then
    /// renamed over `name` (which replaces a link, never follows it). With
    /// `durable`, the file is synced before the rename and the directory
    /// after it, so a crash leaves the old content or the new, whole. On an
    /// error `name` is untouched and the temporary file gone.
    pub(crate) fn replace(
        &self,
        name: &str,
        tmp_prefix: &str,
        bytes: &[u8],
        durable: bool,
    ) -> io::Result<()> {
        use std::io::Write;
        let (mut file, tmp) = self.create_temp(tmp_prefix)?;
        let result = (|| {
            file.write_all(bytes)?;
            if durable {
                file.sync_all()?;
            }
            self.rename(&tmp, name)?;
            if durable {
                self.sync()?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = self.unlink(&tmp);
        }
        result
    }
}

/// 64 random bits, falling back to the clock and pid (only a temporary
/// name's unpredictability suffers; `O_EXCL` still holds).
fn random_or_clock() -> u64 {
    sys::random_u64().unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 32)
    })
}
