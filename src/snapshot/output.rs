//! Where a snapshot is written: `--output` checked before anything runs (a
//! new name or a regular file to replace; a link, device, FIFO, socket or
//! directory is refused), then the JPEG written whole to a hidden temporary
//! file beside it and renamed over it.

use crate::error::usage;
use crate::fs::{Dir, FileKind};
use anyhow::{bail, Context as _};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where the JPEG goes: an open directory and a name in it. Everything after
/// the check works on the directory's descriptor, so the path's components
/// can no longer change under the snapshot.
#[derive(Debug)]
pub struct Target {
    dir: Dir,
    name: OsString,
    /// The absolute path, for messages and the state.
    shown: PathBuf,
    /// The permissions of the file being replaced, or 0644 for a new one.
    mode: u32,
    /// The directory could be opened for reading, so it can be synced.
    can_sync: bool,
}

/// What an existing `-o` is, when it is not a regular file.
fn kind_of(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Fifo => "a FIFO (named pipe)",
        FileKind::Unknown => "not a regular file",
        k => k.describe(),
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
    let (dir, can_sync) = match Dir::open_dir_to_write(dir_path) {
        Ok(opened) => opened,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Err(usage(format!(
                "-o {}: directory {} does not exist",
                output.display(),
                dir_path.display()
            )))
        }
        Err(e) => {
            return Err(e).with_context(|| format!("opening directory {}", dir_path.display()))
        }
    };
    let existing = dir
        .stat(name)
        .with_context(|| format!("looking at {}", abs.display()))?;
    let mode = match existing.map(|st| (FileKind::of(st.st_mode), st.st_mode)) {
        None => 0o644,
        Some((FileKind::Regular, m)) => m & 0o777,
        Some((FileKind::Symlink, _)) => {
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
        Some((kind, _)) => {
            let msg = format!(
                "-o {}: is {}; expected the name of a regular file \
                 (a new one, or a JPEG to replace)",
                output.display(),
                kind_of(kind)
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
    let random = crate::fs::sys::random_u64()
        .ok_or_else(|| std::io::Error::other("cannot read random bytes"))?;
    let base = name.as_bytes();
    let mut out = b".".to_vec();
    out.extend_from_slice(&base[..base.len().min(64)]);
    out.extend_from_slice(b".tmp-");
    out.extend_from_slice(format!("{random:016x}").as_bytes());
    Ok(OsString::from_vec(out))
}

/// A temporary file being written; removed on drop unless renamed.
pub(super) struct TempFile<'a> {
    name: OsString,
    shown: PathBuf,
    file: fs::File,
    renamed: bool,
    target: &'a Target,
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = self.target.dir.unlink(&self.name);
        }
    }
}

impl Target {
    pub(crate) fn path(&self) -> &Path {
        &self.shown
    }

    /// A new file beside the target: `O_CREAT|O_EXCL|O_NOFOLLOW`, so it is
    /// never an existing file nor reached through a link someone planted.
    pub(super) fn create_temp(&self) -> anyhow::Result<TempFile<'_>> {
        let shown_dir = self.shown.parent().unwrap_or(Path::new("/"));
        for _ in 0..16 {
            let name = temp_name(&self.name).context("drawing a temporary file name")?;
            match self.dir.create_new(&name, 0o600) {
                Ok(file) => {
                    return Ok(TempFile {
                        shown: shown_dir.join(&name),
                        name,
                        file,
                        renamed: false,
                        target: self,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| {
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
    pub(crate) fn replace_with(&self, jpeg: &[u8]) -> anyhow::Result<()> {
        self.replace_from(jpeg)
    }

    /// [`Target::replace_with`] for what `src` reads (a clip made in a
    /// private directory), copied without holding it all in memory.
    pub(crate) fn replace_from(&self, mut src: impl std::io::Read) -> anyhow::Result<()> {
        // Checked again: between the first look and now the name may have
        // been given to something else. A rename would replace a link or a
        // device node itself, never write through it, but it is not ours.
        if let Some(st) = self
            .dir
            .stat(&self.name)
            .with_context(|| format!("looking at {}", self.shown.display()))?
        {
            let kind = FileKind::of(st.st_mode);
            if kind != FileKind::Regular {
                bail!(
                    "{} became {} while the snapshot was taken; left alone",
                    self.shown.display(),
                    kind_of(kind)
                );
            }
        }
        let mut tmp = self.create_temp()?;
        let written = (|| -> std::io::Result<()> {
            std::io::copy(&mut src, &mut tmp.file)?;
            tmp.file
                .set_permissions(fs::Permissions::from_mode(self.mode))?;
            tmp.file.sync_all()
        })();
        written.with_context(|| format!("writing {}", tmp.shown.display()))?;
        self.dir.rename(&tmp.name, &self.name).with_context(|| {
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
        self.dir.sync().with_context(|| {
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
