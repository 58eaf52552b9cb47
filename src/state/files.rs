//! Files in the state directory, opened so that whoever can write the
//! directory cannot make this process write, read or chown anything else.
//!
//! The state directory belongs to the user MediaMTX runs as, while an
//! operator runs `sudo hook status`, `sudo hook record start …`: a link
//! planted in the directory must never lead root elsewhere. Everything
//! below the state directory (whose own path is configuration, trusted as
//! given) is opened through [`crate::fs::Dir`], which never follows a link,
//! checks file types, hands what root creates to the directory's owner and
//! creates temporary files with `O_EXCL`; here a state directory writable by
//! every user (`o+w`, sticky or not) is refused as well: anyone on the
//! machine could plant files in it. Group write is allowed (a group of
//! operators is an administrator's choice, and the rules hold against
//! whoever can write the directory).
//!
//! [`name_stem`] is the one place where a MediaMTX path name becomes a file
//! name.

use std::io;
use std::path::Path;

pub(crate) use crate::fs::{is_refusal, Access, Dir};

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
pub(crate) fn name_stem(name: &str) -> String {
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

impl Dir {
    /// Opens the state directory itself. Its path is followed as given (it
    /// is configuration, and may well be a link to another disk); a
    /// directory writable by every user is refused.
    pub(crate) fn open_state(path: &Path) -> io::Result<Dir> {
        let dir = Dir::open_dir(path)?;
        let st = crate::fs::sys::fstat(dir.fd())?;
        if st.st_mode & libc::S_IWOTH != 0 {
            // A setting to correct, not a failure: exit 2.
            return Err(io::Error::other(crate::error::UsageError(format!(
                "state directory {} is writable by every user (mode {:04o}): anyone could plant files in it; run `chmod o-w {}` (it should belong to the user MediaMTX runs as)",
                path.display(),
                st.st_mode & 0o7777,
                path.display()
            ))));
        }
        Ok(dir)
    }
}

/// Reads the regular file `name` in directory `dir` (opened as
/// [`Dir::open_state`] does), never through a link, at most `cap` bytes
/// (more is an error).
pub(crate) fn read_regular(dir: &Path, name: &str, cap: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let dir = Dir::open_state(dir)?;
    let file = dir.open(name, Access::Read, false)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(crate::fs::refusal::refused(format!(
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
pub(crate) fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let dir = Dir::open_state(dir)?;
    dir.replace(name, &format!(".{name}."), bytes, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tmp(tag: &str) -> PathBuf {
        tempfile::Builder::new()
            .prefix(&format!("hook-files-unit-{tag}-"))
            .tempdir()
            .unwrap()
            .keep()
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
            assert!(crate::fs::dir::entry(&stem).is_ok(), "{name:?}");
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
        nix::unistd::mkfifo(
            &d.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .unwrap();
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
