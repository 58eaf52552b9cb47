//! Where a snapshot is written: `--output` checked before anything runs (a
//! new name or a regular file to replace; a link, device, FIFO, socket or
//! directory is refused), then the JPEG written whole to a hidden temporary
//! file beside it and renamed over it.

use crate::error::usage;
use anyhow::{bail, Context as _};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Where the JPEG goes: an open directory and a name in it. Everything after
/// the check works on the directory's descriptor, so the path's components
/// can no longer change under the snapshot.
#[derive(Debug)]
pub struct Target {
    dir: OwnedFd,
    name: OsString,
    /// The absolute path, for messages and the state.
    shown: PathBuf,
    /// The permissions of the file being replaced, or 0644 for a new one.
    mode: u32,
    /// The directory could be opened for reading, so it can be synced.
    can_sync: bool,
}

/// What an existing `-o` is, when it is not a regular file.
pub(super) fn kind_of(mode: u32) -> &'static str {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFIFO => "a FIFO (named pipe)",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFREG => "a regular file",
        _ => "not a regular file",
    }
}

/// Looks at `name` in `dir` without following a link: `Ok(None)` when
/// nothing has that name, else its mode bits.
pub(super) fn lstat_at(dir: RawFd, name: &OsStr) -> std::io::Result<Option<u32>> {
    match nix::sys::stat::fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st.st_mode)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Checks `-o FILE`: a new name or an existing regular file, in an existing
/// directory. Anything else is a usage error naming the file and what it is.
pub fn check_output(output: &Path) -> anyhow::Result<Target> {
    check_output_for(output, "JPEG")
}

/// [`check_output`] for a file of kind `what` (`JPEG`, `MP4`), named in
/// the message when `-o` names no file.
pub fn check_output_for(output: &Path, what: &str) -> anyhow::Result<Target> {
    let expected = || {
        usage(format!(
            "-o {:?}: expected the name of the {what} file to write",
            output.display().to_string()
        ))
    };
    let raw = output.as_os_str().as_bytes();
    let Some(name) = output.file_name() else {
        return Err(expected());
    };
    if raw.ends_with(b"/") || raw.ends_with(b"/.") {
        return Err(expected());
    }
    let abs = if output.is_absolute() {
        output.to_path_buf()
    } else {
        std::env::current_dir()
            .context("reading the current directory")?
            .join(output)
    };
    let dir_path = abs.parent().unwrap_or(Path::new("/"));
    let open_dir = |how: OFlag| {
        nix::fcntl::open(
            dir_path,
            how | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    // A directory this user may write into but not list (mode 0733) can
    // only be opened as a path: then it cannot be synced after the rename.
    let mut can_sync = true;
    let opened = open_dir(OFlag::O_RDONLY).or_else(|e| match e {
        Errno::EACCES => {
            can_sync = false;
            open_dir(OFlag::O_PATH)
        }
        e => Err(e),
    });
    let dir = match opened {
        // SAFETY: `open` just returned this descriptor; nothing else owns it.
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
        Err(Errno::ENOENT | Errno::ENOTDIR) => {
            return Err(usage(format!(
                "-o {}: directory {} does not exist",
                output.display(),
                dir_path.display()
            )))
        }
        Err(e) => {
            return Err(std::io::Error::from(e))
                .with_context(|| format!("opening directory {}", dir_path.display()))
        }
    };
    let existing =
        lstat_at(dir.as_raw_fd(), name).with_context(|| format!("looking at {}", abs.display()))?;
    let mode = match existing {
        None => 0o644,
        Some(m) if m & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits() => m & 0o777,
        Some(m) if m & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits() => {
            let to = fs::read_link(&abs)
                .map(|t| format!(" to {}", t.display()))
                .unwrap_or_default();
            let msg = format!(
                "-o {}: is a symbolic link{to}; a snapshot never writes through a link: \
                 give the file it points to, or another name",
                output.display()
            );
            return Err(usage(msg));
        }
        Some(m) => {
            let msg = format!(
                "-o {}: is {}; expected the name of a regular file \
                 (a new one, or a JPEG to replace)",
                output.display(),
                kind_of(m)
            );
            return Err(usage(msg));
        }
    };
    Ok(Target {
        dir,
        name: name.to_os_string(),
        shown: abs,
        mode,
        can_sync,
    })
}

/// A hidden, unpredictable name beside the target: `.NAME.tmp-` and 16 random
/// hex digits (NAME cut to 64 bytes, so the result stays a valid name).
pub(super) fn temp_name(name: &OsStr) -> std::io::Result<OsString> {
    let mut random = [0u8; 8];
    // SAFETY: getrandom(2) fills the buffer we own.
    let n = unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
    if n != random.len() as isize {
        return Err(std::io::Error::last_os_error());
    }
    let base = name.as_bytes();
    let mut out = b".".to_vec();
    out.extend_from_slice(&base[..base.len().min(64)]);
    out.extend_from_slice(b".tmp-");
    for b in random {
        out.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    Ok(OsString::from_vec(out))
}

/// A temporary file being written; removed on drop unless renamed.
pub(super) struct TempFile<'a> {
    dir: RawFd,
    name: OsString,
    shown: PathBuf,
    file: fs::File,
    renamed: bool,
    _target: &'a Target,
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = nix::unistd::unlinkat(
                Some(self.dir),
                self.name.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

impl Target {
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// A new file beside the target: `O_CREAT|O_EXCL|O_NOFOLLOW`, so it is
    /// never an existing file nor reached through a link someone planted.
    pub(super) fn create_temp(&self) -> anyhow::Result<TempFile<'_>> {
        let dir = self.dir.as_raw_fd();
        let shown_dir = self.shown.parent().unwrap_or(Path::new("/"));
        for _ in 0..16 {
            let name = temp_name(&self.name).context("drawing a temporary file name")?;
            match nix::fcntl::openat(
                Some(dir),
                name.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            ) {
                Ok(fd) => {
                    return Ok(TempFile {
                        dir,
                        shown: shown_dir.join(&name),
                        name,
                        // SAFETY: `openat` just returned this descriptor.
                        file: unsafe { fs::File::from_raw_fd(fd) },
                        renamed: false,
                        _target: self,
                    });
                }
                Err(Errno::EEXIST) => continue,
                Err(e) => {
                    return Err(std::io::Error::from(e)).with_context(|| {
                        format!("creating a temporary file in {}", shown_dir.display())
                    })
                }
            }
        }
        bail!(
            "creating a temporary file in {}: 16 random names were all taken",
            shown_dir.display()
        )
    }

    /// Writes `jpeg` whole into a temporary file, syncs it and renames it
    /// over the target, then syncs the directory. On any error the target
    /// is untouched and the temporary file is gone.
    pub fn replace_with(&self, jpeg: &[u8]) -> anyhow::Result<()> {
        self.replace_from(jpeg)
    }

    /// [`Target::replace_with`] for what `src` reads (a clip made in a
    /// private directory), copied without holding it all in memory.
    pub fn replace_from(&self, mut src: impl std::io::Read) -> anyhow::Result<()> {
        // Checked again: between the first look and now the name may have
        // been given to something else. A rename would replace a link or a
        // device node itself, never write through it, but it is not ours.
        if let Some(m) = lstat_at(self.dir.as_raw_fd(), &self.name)
            .with_context(|| format!("looking at {}", self.shown.display()))?
        {
            if m & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
                bail!(
                    "{} became {} while the snapshot was taken; left alone",
                    self.shown.display(),
                    kind_of(m)
                );
            }
        }
        let mut tmp = self.create_temp()?;
        let written = (|| -> std::io::Result<()> {
            std::io::copy(&mut src, &mut tmp.file)?;
            nix::sys::stat::fchmod(tmp.file.as_raw_fd(), Mode::from_bits_truncate(self.mode))?;
            tmp.file.sync_all()
        })();
        written.with_context(|| format!("writing {}", tmp.shown.display()))?;
        nix::fcntl::renameat(
            Some(tmp.dir),
            tmp.name.as_os_str(),
            Some(self.dir.as_raw_fd()),
            self.name.as_os_str(),
        )
        .map_err(std::io::Error::from)
        .with_context(|| {
            format!(
                "renaming {} to {}",
                tmp.shown.display(),
                self.shown.display()
            )
        })?;
        tmp.renamed = true;
        if !self.can_sync {
            log::debug!("directory not readable: the rename is not synced");
            return Ok(());
        }
        nix::unistd::fsync(self.dir.as_raw_fd())
            .map_err(std::io::Error::from)
            .with_context(|| {
                format!(
                    "syncing directory {}",
                    self.shown.parent().unwrap_or(Path::new("/")).display()
                )
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_hidden_unpredictable_and_bounded() {
        let a = temp_name(OsStr::new("snap.jpg")).unwrap();
        let b = temp_name(OsStr::new("snap.jpg")).unwrap();
        assert_ne!(a, b);
        let a = a.to_string_lossy();
        assert!(a.starts_with(".snap.jpg.tmp-"), "{a}");
        assert_eq!(a.len(), ".snap.jpg.tmp-".len() + 16, "{a}");
        let long = "x".repeat(255);
        let t = temp_name(OsStr::new(&long)).unwrap();
        assert_eq!(t.len(), 1 + 64 + 5 + 16);
    }
}
