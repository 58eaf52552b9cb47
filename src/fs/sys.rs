//! The system calls the safe-file types are built on, each behind a small
//! safe function taking and returning owned descriptors (`nix` underneath;
//! the one `unsafe` left is where nix 0.29 hands back a bare descriptor).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

/// `openat(2)` relative to `dir`, always `O_CLOEXEC`.
pub(crate) fn openat(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlag,
    mode: u32,
) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        flags | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )?;
    // SAFETY: nix 0.29's `openat` returns the descriptor it has just opened
    // as a bare `RawFd` (0.30 returns an `OwnedFd`): nothing else owns it,
    // and it is valid, so it becomes owned here exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the directory at `path` (followed as given) for reading; with
/// `path_only`, as `O_PATH` (a directory this user may enter but not list).
pub(crate) fn open_dir(path: &Path, path_only: bool) -> io::Result<OwnedFd> {
    let extra = if path_only { libc::O_PATH } else { 0 };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | extra)
        .open(path)?;
    Ok(OwnedFd::from(file))
}

/// `fstat(2)`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<FileStat> {
    Ok(nix::sys::stat::fstat(fd.as_raw_fd())?)
}

/// `fstatat(2)` with `AT_SYMLINK_NOFOLLOW`: what `name` in `dir` is itself
/// (a link is a link); `Ok(None)` when nothing has that name.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<FileStat>> {
    match nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `mkdirat(2)`.
pub(crate) fn mkdirat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    Ok(nix::sys::stat::mkdirat(
        Some(dir.as_raw_fd()),
        name,
        Mode::from_bits_truncate(mode),
    )?)
}

/// `renameat(2)` within one directory: an entry at `to` is replaced (a link
/// itself, never its target).
pub(crate) fn renameat(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let fd = Some(dir.as_raw_fd());
    Ok(nix::fcntl::renameat(fd, from, fd, to)?)
}

/// `unlinkat(2)` of a non-directory (a link itself, never its target).
pub(crate) fn unlinkat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    Ok(nix::unistd::unlinkat(
        Some(dir.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    )?)
}

/// `fsync(2)` (a directory, after a rename).
pub(crate) fn fsync(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(nix::unistd::fsync(fd.as_raw_fd())?)
}

/// `fchown(2)`.
pub(crate) fn fchown(fd: impl AsFd, uid: u32, gid: u32) -> io::Result<()> {
    Ok(nix::unistd::fchown(
        fd.as_fd().as_raw_fd(),
        Some(uid.into()),
        Some(gid.into()),
    )?)
}

/// This process's effective user id.
pub(crate) fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// What a file's mode says it is, with the file's type only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

impl FileKind {
    pub(crate) fn of(mode: u32) -> FileKind {
        match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFREG => FileKind::Regular,
            SFlag::S_IFDIR => FileKind::Directory,
            SFlag::S_IFLNK => FileKind::Symlink,
            SFlag::S_IFIFO => FileKind::Fifo,
            SFlag::S_IFSOCK => FileKind::Socket,
            SFlag::S_IFCHR => FileKind::CharDevice,
            SFlag::S_IFBLK => FileKind::BlockDevice,
            _ => FileKind::Unknown,
        }
    }

    /// "a regular file", "a symbolic link"…, for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Unknown => "of an unknown type",
        }
    }
}

/// 64 random bits from the kernel (`/dev/urandom`, which never blocks),
/// or `None` when it cannot be read.
pub(crate) fn random_u64() -> Option<u64> {
    use std::io::Read;
    let mut buf = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .ok()?;
    Some(u64::from_ne_bytes(buf))
}
