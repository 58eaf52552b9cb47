//! Where the live stills go (`stills.dir`, default `stills/` in the state
//! directory) and what is known of one: its file's time and size.
//!
//! `hook run` makes the directory (never through a link, like the other
//! subdirectories of the state directory) and hands the file's path to
//! FFmpeg, which rewrites it atomically; `hook status` and `hook snapshot
//! --max-age` look at the file itself, so a still keeps its time after the
//! stream stops.

use std::io;
use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use time::OffsetDateTime;

use super::files::{name_stem, Access, Dir};
use super::{StateStore, StillRecord};

/// The still's file name for a MediaMTX path name: `<stem>.jpg`.
pub(crate) fn still_file_name(path: &str) -> String {
    format!("{}.jpg", name_stem(path))
}

impl StateStore {
    /// The stills directory for `configured` (`stills.dir`): as given when
    /// absolute, else in the state directory.
    pub(crate) fn stills_dir(&self, configured: &str) -> PathBuf {
        self.dir.join(configured)
    }

    /// The still file of `path` in the stills directory `configured`.
    pub(crate) fn still_file(&self, configured: &str, path: &str) -> PathBuf {
        self.stills_dir(configured).join(still_file_name(path))
    }

    /// Makes the stills directory when missing and checks it: a relative
    /// one is made component by component in the state directory, none of
    /// them through a link; an absolute one's last component must not be a
    /// link (its ancestors are configuration, followed as given).
    pub(crate) fn create_stills_dir(&self, configured: &str) -> anyhow::Result<PathBuf> {
        let shown = self.stills_dir(configured);
        let made = if Path::new(configured).is_absolute() {
            Dir::open_nofollow(Path::new(configured), true).map(|_| ())
        } else {
            (|| {
                let mut dir = self.open_state_dir(true)?;
                for c in Path::new(configured).components() {
                    match c {
                        Component::Normal(name) => {
                            let name = name.to_str().ok_or_else(|| {
                                io::Error::new(io::ErrorKind::InvalidInput, "name is not UTF-8")
                            })?;
                            dir = dir.sub(name, true)?;
                        }
                        Component::CurDir => {}
                        _ => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidInput,
                                "expected a directory below the state directory",
                            ))
                        }
                    }
                }
                Ok(())
            })()
        };
        made.with_context(|| format!("creating the stills directory {}", shown.display()))?;
        Ok(shown)
    }
}

/// The still `recorded` as it is now: its file's modification time and
/// size, or `at`/`bytes` none when there is no regular file there (not
/// written yet, or removed). A link is not followed.
pub(crate) fn look_at_still(recorded: &StillRecord) -> StillRecord {
    let meta = std::fs::symlink_metadata(&recorded.file)
        .ok()
        .filter(|m| m.file_type().is_file());
    StillRecord {
        file: recorded.file.clone(),
        every_ms: recorded.every_ms,
        at: meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .map(OffsetDateTime::from),
        bytes: meta.map(|m| m.len()),
    }
}

/// Reads the still at `file` (at most `cap` bytes): the directory is opened
/// as given, the file itself never through a link and only when it is a
/// regular file. Returns its bytes and modification time.
pub(crate) fn read_still(file: &Path, cap: u64) -> io::Result<(Vec<u8>, OffsetDateTime)> {
    use std::io::Read;
    let (Some(dir), Some(name)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file in a directory", file.display()),
        ));
    };
    let dir = Dir::open_state(dir)?;
    let f = dir.open(name, Access::Read, false)?;
    let at = OffsetDateTime::from(f.metadata()?.modified()?);
    let mut bytes = Vec::new();
    f.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::other(format!(
            "{} is larger than {cap} bytes",
            file.display()
        )));
    }
    Ok((bytes, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::store::tests::tmp;

    #[test]
    fn the_stills_directory_is_made_in_the_state_directory_never_through_a_link() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        assert_eq!(
            store.create_stills_dir("stills").unwrap(),
            dir.join("stills")
        );
        assert!(dir.join("stills").is_dir());
        assert_eq!(
            store.still_file("stills", "site/cam0"),
            dir.join("stills/site%2Fcam0.jpg")
        );
        assert!(store.create_stills_dir("a/b").unwrap().is_dir());
        let abs = tmp();
        let wanted = abs.join("www");
        let got = store.create_stills_dir(wanted.to_str().unwrap()).unwrap();
        assert_eq!(got, wanted);
        assert!(wanted.is_dir());

        let planted = tmp();
        let elsewhere = tmp();
        std::os::unix::fs::symlink(&elsewhere, planted.join("stills")).unwrap();
        let err = StateStore::new(&planted)
            .create_stills_dir("stills")
            .unwrap_err();
        assert!(format!("{err:#}").contains("stills"), "{err:#}");
        let link = abs.join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(store.create_stills_dir(link.to_str().unwrap()).is_err());
    }

    #[test]
    fn a_still_is_looked_at_and_read_without_following_links() {
        let dir = tmp();
        let file = dir.join("cam0.jpg");
        let record = |f: &Path| StillRecord {
            file: f.to_str().unwrap().into(),
            every_ms: Some(1000),
            ..Default::default()
        };
        let seen = look_at_still(&record(&file));
        assert_eq!((seen.at, seen.bytes), (None, None));
        std::fs::write(&file, b"12345").unwrap();
        let seen = look_at_still(&record(&file));
        assert_eq!(seen.bytes, Some(5));
        assert_eq!(seen.every_ms, Some(1000));
        assert!(seen.at.is_some());
        let (bytes, _) = read_still(&file, 100).unwrap();
        assert_eq!(bytes, b"12345");
        assert!(read_still(&file, 4).is_err());
        let link = dir.join("link.jpg");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(look_at_still(&record(&link)).bytes, None);
        assert!(read_still(&link, 100).is_err());
    }
}
