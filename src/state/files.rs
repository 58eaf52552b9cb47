//! Files in the state directory, opened so that whoever can write the
//! directory cannot make this process write, read or chown anything else.
//!
//! The state directory belongs to the user MediaMTX runs as, while an
//! operator runs `sudo hook status`, `sudo hook record start …`: a link
//! planted in the directory must never lead root elsewhere. So, below the
//! state directory (whose own path is configuration, trusted as given):
//!
//! - every file and subdirectory is opened relative to its directory's
//!   descriptor with `O_NOFOLLOW`: a symbolic link is refused, with an error
//!   naming it;
//! - every file is checked with `fstat` to be a regular file (a FIFO, a
//!   device or a directory is refused, and opening never blocks on a FIFO:
//!   `O_NONBLOCK`, which means nothing for a regular file); when root opens
//!   a file with other hard links that does not belong to the directory's
//!   owner, it is refused too (a system file linked in);
//! - a file or directory is handed to the directory's owner (`fchown` on
//!   this process's own descriptor) only when this process has just created
//!   it, and only when running as root;
//! - temporary files are created with `O_EXCL` under an unpredictable name;
//! - a state directory writable by every user (`o+w`, sticky or not) is
//!   refused: anyone on the machine could plant files in it. Group write is
//!   allowed (a group of operators is an administrator's choice, and the
//!   rules above hold against whoever can write the directory).
//!
//! [`name_stem`] is the one place where a MediaMTX path name becomes a file
//! name.

use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Longest stem [`name_stem`] returns (file names may have 255 bytes; the
/// callers add a prefix and a suffix).
const MAX_STEM: usize = 200;

/// The file-name stem for a MediaMTX path name (or any other name that
/// becomes a file name, such as a device path): letters, digits, `_`, `-`,
/// `~` and `.` stay as they are, except a leading `.`; every other byte
/// (`/`, `%`, spaces, control characters, non-ASCII) becomes `%XX`. So
/// `site1/camera0` is `site1%2Fcamera0`, two names never share a stem, and
/// no stem is empty, hidden, `.`, `..` or has a `/`: whatever the name
/// (validated or not) its file stays inside its directory. A stem longer
/// than 200 bytes is cut and ends in `%~` and a hash of the whole name
/// (`%~` never appears otherwise).
pub fn name_stem(name: &str) -> String {
    if name.is_empty() {
        return "%".to_string();
    }
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'_' | b'-' | b'~')
            || (b == b'.' && !out.is_empty());
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_STEM {
        // Cut before a `%XX` that would be split.
        let mut cut = MAX_STEM - 20;
        while out.as_bytes()[cut - 1] == b'%' || out.as_bytes()[cut - 2] == b'%' {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(&format!("%~{:016x}", fnv1a(name.as_bytes())));
    }
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A file or directory in the state directory that is refused (a link, not
/// a regular file, a directory too open…). Carried inside `io::Error`.
#[derive(Debug)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(msg: String) -> io::Error {
    io::Error::other(Refused(msg))
}

/// True when `e` is a refusal of this module (rather than a failure of the
/// system call itself).
pub fn is_refusal(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|r| r.is::<Refused>() || r.is::<crate::error::UsageError>())
}

fn cstr(name: &str) -> io::Result<CString> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a file name inside a directory"),
        ));
    }
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a name"))
}

fn path_cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
}

fn fstat(fd: i32) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat(2) on a descriptor we own, into a valid buffer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

fn kind_of(mode: libc::mode_t) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFREG => "a regular file",
        libc::S_IFDIR => "a directory",
        libc::S_IFLNK => "a symbolic link",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        _ => "of an unknown type",
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() }
}

/// How a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
    /// Write, `O_APPEND`.
    Append,
    /// Write, emptied (`O_TRUNC`).
    Truncate,
}

impl Access {
    fn flags(self) -> i32 {
        match self {
            Access::Read => libc::O_RDONLY,
            Access::ReadWrite => libc::O_RDWR,
            // Readable too: the ledger looks at its last byte before appending.
            Access::Append => libc::O_RDWR | libc::O_APPEND,
            Access::Truncate => libc::O_WRONLY | libc::O_TRUNC,
        }
    }
}

/// An open directory in (or the) state directory.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
    uid: u32,
    gid: u32,
}

impl Dir {
    /// Opens the state directory itself. Its path is followed as given (it
    /// is configuration, and may well be a link to another disk); a
    /// directory writable by every user is refused.
    pub fn open_state(path: &Path) -> io::Result<Dir> {
        let c = path_cstr(path)?;
        // SAFETY: open(2) with a valid NUL-terminated path.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let st = fstat(fd.as_raw_fd())?;
        if st.st_mode & libc::S_IWOTH != 0 {
            // A setting to correct, not a failure: exit 2.
            return Err(io::Error::other(crate::error::UsageError(format!(
                "state directory {} is writable by every user (mode {:04o}): anyone could plant files in it; run `chmod o-w {}` (it should belong to the user MediaMTX runs as)",
                path.display(),
                st.st_mode & 0o7777,
                path.display()
            ))));
        }
        Dir::with_stat(fd, path.to_path_buf(), &st)
    }

    /// Opens a directory whose last component must not be a link (a
    /// directory of lock files); its ancestors are followed as given.
    /// `create` makes it when it is missing (handed to its parent's owner
    /// when root made it), and its parent as given when that is missing.
    pub fn open_nofollow(path: &Path, create: bool) -> io::Result<Dir> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Dir::open_state(path);
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let c = path_cstr(parent)?;
        let open_parent = || {
            // SAFETY: open(2) with a valid NUL-terminated path.
            let fd = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                Err(io::Error::last_os_error())
            } else {
                // SAFETY: fd was just opened and is owned by nobody else.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            }
        };
        // The parent (the state directory) is made as given when missing.
        let fd = match open_parent() {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(parent)?;
                open_parent()?
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
        let st = fstat(fd.as_raw_fd())?;
        Dir::with_stat(fd, path, &st)
    }

    fn with_stat(fd: OwnedFd, path: PathBuf, st: &libc::stat) -> io::Result<Dir> {
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(refused(format!("{} is not a directory", path.display())));
        }
        Ok(Dir {
            fd,
            path,
            uid: st.st_uid,
            gid: st.st_gid,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory (for messages).
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Hands what this process has just created to the directory's owner,
    /// when running as root and that owner is not root. Failures are
    /// ignored: root can still use the file.
    fn give_away(&self, fd: i32) {
        if self.uid != 0 && euid() == 0 {
            // SAFETY: fchown(2) on a descriptor this process just opened.
            let _ = unsafe { libc::fchown(fd, self.uid, self.gid) };
        }
    }

    /// The subdirectory `name`, never through a link; made when `create`
    /// and missing.
    pub fn sub(&self, name: &str, create: bool) -> io::Result<Dir> {
        let c = cstr(name)?;
        let open = || {
            // SAFETY: openat(2) relative to our directory descriptor.
            let fd = unsafe {
                libc::openat(
                    self.fd.as_raw_fd(),
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                Err(io::Error::last_os_error())
            } else {
                // SAFETY: fd was just opened and is owned by nobody else.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            }
        };
        let mut created = false;
        let fd = match open() {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                // SAFETY: mkdirat(2) relative to our directory descriptor.
                if unsafe { libc::mkdirat(self.fd.as_raw_fd(), c.as_ptr(), 0o777) } == 0 {
                    created = true;
                } else {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::AlreadyExists {
                        return Err(e);
                    }
                }
                open()
            }
            other => other,
        }
        .map_err(|e| self.explain(name, e, "a directory"))?;
        if created {
            self.give_away(fd.as_raw_fd());
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
        let what = self.lstat_kind(name).unwrap_or("not usable");
        refused(format!(
            "{} is {what}, not {wanted}: refusing to follow or use it (nothing in the state directory may be a link; remove it)",
            self.join(name).display()
        ))
    }

    fn lstat_kind(&self, name: &str) -> Option<&'static str> {
        let c = cstr(name).ok()?;
        // SAFETY: an all-zero stat is a valid value to be overwritten.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstatat(2) relative to our directory, not following links.
        let r = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        (r == 0).then(|| kind_of(st.st_mode))
    }

    fn openat(&self, c: &CString, flags: i32) -> io::Result<File> {
        // SAFETY: openat(2) relative to our directory descriptor.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
                0o666 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Opens the regular file `name`, never through a link; `create` makes
    /// it when missing (handed to the directory's owner when root made it).
    pub fn open(&self, name: &str, access: Access, create: bool) -> io::Result<File> {
        let c = cstr(name)?;
        // O_TRUNC only once the file is known to be a regular file of ours.
        let flags = access.flags() & !libc::O_TRUNC;
        let mut created = false;
        let mut result = self.openat(&c, flags);
        if create {
            for _ in 0..3 {
                match &result {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    _ => break,
                }
                let new = flags | libc::O_CREAT | libc::O_EXCL;
                let new = if access == Access::Read {
                    new & !libc::O_ACCMODE | libc::O_RDWR
                } else {
                    new
                };
                result = match self.openat(&c, new) {
                    Ok(f) => {
                        created = true;
                        Ok(f)
                    }
                    // Made by someone else meanwhile: open what is there.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.openat(&c, flags),
                    Err(e) => Err(e),
                };
            }
        }
        let file = result.map_err(|e| self.explain(name, e, "a regular file"))?;
        self.check_file(&file, name, created)?;
        if created {
            self.give_away(file.as_raw_fd());
        } else if access == Access::Truncate {
            file.set_len(0)?;
        }
        Ok(file)
    }

    /// Creates a new file (`O_EXCL`) named `prefix` and a random suffix, for
    /// a temporary file; returns it and its name.
    pub fn create_temp(&self, prefix: &str) -> io::Result<(File, String)> {
        let mut last = None;
        for _ in 0..8 {
            let name = format!("{prefix}{:016x}", random_u64());
            let c = cstr(&name)?;
            match self.openat(&c, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL) {
                Ok(file) => {
                    self.check_file(&file, &name, true)?;
                    self.give_away(file.as_raw_fd());
                    return Ok((file, name));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    fn check_file(&self, file: &File, name: &str, created: bool) -> io::Result<()> {
        let st = fstat(file.as_raw_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(refused(format!(
                "{} is {}, not a regular file: refusing to use it (remove it)",
                self.join(name).display(),
                kind_of(st.st_mode)
            )));
        }
        // A system file hard-linked in by whoever can write the directory
        // (where the kernel's fs.protected_hardlinks does not stop it).
        if !created && euid() == 0 && st.st_nlink > 1 && st.st_uid != self.uid {
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
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (f, t) = (cstr(from)?, cstr(to)?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: renameat(2) relative to our directory descriptor.
        if unsafe { libc::renameat(fd, f.as_ptr(), fd, t.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Removes the entry `name` (a link itself, never its target).
    pub fn unlink(&self, name: &str) -> io::Result<()> {
        let c = cstr(name)?;
        // SAFETY: unlinkat(2) relative to our directory descriptor.
        if unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// True when `name` exists (as anything, links included).
    pub fn exists(&self, name: &str) -> bool {
        self.lstat_kind(name).is_some()
    }

    /// fsync of the directory (after a rename).
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: fsync(2) on our own descriptor.
        if unsafe { libc::fsync(self.fd.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Reads the regular file `name` in directory `dir` (opened as
/// [`Dir::open_state`] does), never through a link, at most `cap` bytes
/// (more is an error).
pub fn read_regular(dir: &Path, name: &str, cap: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let dir = Dir::open_state(dir)?;
    let file = dir.open(name, Access::Read, false)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(refused(format!(
            "{} is larger than {cap} bytes",
            dir.join(name).display()
        )));
    }
    Ok(bytes)
}

/// Replaces the file `name` in directory `dir` (created when missing) with
/// `bytes`: a new temporary file (`O_EXCL`, unpredictable name), then a
/// rename over `name` (which replaces a link, never follows it). No fsync:
/// for caches.
pub fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let dir = Dir::open_state(dir)?;
    let (mut file, tmp) = dir.create_temp(&format!(".{name}."))?;
    let written = file.write_all(bytes).and_then(|()| dir.rename(&tmp, name));
    if written.is_err() {
        let _ = dir.unlink(&tmp);
    }
    written
}

/// 64 random bits from the kernel (`getrandom`), falling back to the clock
/// and pid (only the name's unpredictability suffers; `O_EXCL` still holds).
fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom(2) into a buffer of the given length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), libc::GRND_NONBLOCK) };
    if n == buf.len() as isize {
        return u64::from_ne_bytes(buf);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hook-files-unit-{tag}-{}-{}",
            std::process::id(),
            crate::state::now().unix_timestamp_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn stems_keep_names_inside_their_directory() {
        assert_eq!(name_stem("camera0"), "camera0");
        assert_eq!(name_stem("cam_0.x-y~z"), "cam_0.x-y~z");
        assert_eq!(name_stem("site1/camera0"), "site1%2Fcamera0");
        assert_eq!(name_stem("a%2Fb"), "a%252Fb");
        assert_eq!(name_stem(".."), "%2E.");
        assert_eq!(name_stem("."), "%2E");
        assert_eq!(name_stem(""), "%");
        assert_eq!(name_stem("a/../../x"), "a%2F..%2F..%2Fx");
        assert_eq!(name_stem("/etc/shadow"), "%2Fetc%2Fshadow");
        assert_eq!(name_stem("a b\n\u{e9}"), "a%20b%0A%C3%A9");
        let hostile = [
            "..",
            ".",
            "",
            "a/../../x",
            "../x",
            "/",
            "//",
            ".hidden",
            "x/.",
            "x/..",
            "a\0b",
        ];
        for name in hostile {
            let stem = name_stem(name);
            assert!(!stem.is_empty() && !stem.contains('/') && !stem.starts_with('.'));
            let file = Path::new("/state/ledger").join(format!("{stem}.jsonl"));
            assert_eq!(file.parent(), Some(Path::new("/state/ledger")), "{name:?}");
            assert!(cstr(&stem).is_ok(), "{name:?}");
        }
        // Distinct names, distinct stems; long names stay short and distinct.
        assert_ne!(name_stem("a/b"), name_stem("a%2Fb"));
        let long_a = "/".repeat(128);
        let long_b = format!("{}x", "/".repeat(127));
        let (a, b) = (name_stem(&long_a), name_stem(&long_b));
        assert!(a.len() <= MAX_STEM && b.len() <= MAX_STEM, "{a} {b}");
        assert_ne!(a, b);
        assert!(a.contains("%~"));
    }

    #[test]
    fn links_and_special_files_are_refused() {
        let d = tmp("links");
        let target = d.join("target");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, d.join("link")).unwrap();
        std::os::unix::fs::symlink(&d, d.join("dirlink")).unwrap();
        let fifo = path_cstr(&d.join("fifo")).unwrap();
        // SAFETY: mkfifo(3) with a valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let dir = Dir::open_state(&d).unwrap();
        for access in [Access::Read, Access::Append, Access::Truncate] {
            let e = dir.open("link", access, true).unwrap_err();
            assert!(is_refusal(&e), "{e}");
            assert!(e.to_string().contains("is a symbolic link"), "{e}");
        }
        let e = dir.open("fifo", Access::Append, true).unwrap_err();
        assert!(e.to_string().contains("a FIFO, not a regular file"), "{e}");
        let e = dir.sub("dirlink", true).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        let e = dir.sub("target", true).unwrap_err();
        assert!(
            e.to_string().contains("a regular file, not a directory"),
            "{e}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");

        let mut f = dir.open("new", Access::Append, true).unwrap();
        std::io::Write::write_all(&mut f, b"x").unwrap();
        assert_eq!(std::fs::read(d.join("new")).unwrap(), b"x");
        let (_, name) = dir.create_temp("t.").unwrap();
        assert!(name.starts_with("t.") && name.len() == 18, "{name}");
        dir.rename(&name, "link").unwrap();
        assert!(std::fs::symlink_metadata(d.join("link")).unwrap().is_file());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(dir.sub("sub", true).unwrap().path().ends_with("sub"));

        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = Dir::open_state(&d).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("chmod o-w {}", d.display())),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
