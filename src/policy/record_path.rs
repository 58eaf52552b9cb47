//! Where MediaMTX's `recordPath` puts segments, seen from the hook (which
//! runs in MediaMTX's working directory): the recording root (the part
//! before the first `%` field) and whether a file carries the pattern's
//! name, which the disk budget requires before it deletes anything.

use std::path::{Path, PathBuf};

/// A `recordPath` resolved against the working directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RecordPattern {
    /// The directory every segment lies under, absolute.
    pub root: PathBuf,
    /// The pattern after the root (`%path/%Y-%m-%d_%H-%M-%S-%f`).
    rest: String,
}

impl RecordPattern {
    /// `record_path` (`./recordings/%path/%Y-%m-%d_%H-%M-%S-%f`) made
    /// absolute; `None` when the working directory is unknown.
    pub(crate) fn new(record_path: &str) -> Option<RecordPattern> {
        let first = record_path.find('%').unwrap_or(record_path.len());
        let cut = record_path[..first].rfind('/').map_or(0, |i| i + 1);
        let (prefix, rest) = record_path.split_at(cut);
        let prefix = if prefix.is_empty() { "." } else { prefix };
        let root = std::path::absolute(Path::new(prefix)).ok()?;
        Some(RecordPattern {
            root,
            rest: rest.to_string(),
        })
    }

    /// True when `file` (absolute, as the ledger holds it) is a segment
    /// MediaMTX named for `path` with this pattern: under the root, every
    /// field in place (`%Y` four digits, `%m %d %H %M %S` two, `%f` six,
    /// `%s` digits, `%path` the path's name), then MediaMTX's optional
    /// `~N` and `.mp4` or `.ts`. No `.` or `..` component anywhere.
    pub(crate) fn names(&self, path: &str, file: &str) -> bool {
        let Some(rel) = Path::new(file)
            .strip_prefix(&self.root)
            .ok()
            .and_then(|r| r.to_str())
        else {
            return false;
        };
        if !Path::new(file).is_absolute()
            || rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return false;
        }
        fields(self.rest.as_bytes(), rel.as_bytes(), path.as_bytes())
    }
}

fn digits(s: &[u8], n: usize) -> bool {
    s.len() >= n && s[..n].iter().all(u8::is_ascii_digit)
}

/// Matches `name` against `pat` field by field.
fn fields(pat: &[u8], name: &[u8], path: &[u8]) -> bool {
    if pat.is_empty() {
        return ending(name);
    }
    if pat.starts_with(b"%path") {
        return name.starts_with(path) && fields(&pat[5..], &name[path.len()..], path);
    }
    if pat.len() >= 2 && pat[0] == b'%' {
        let width = match pat[1] {
            b'Y' => Some(4),
            b'm' | b'd' | b'H' | b'M' | b'S' => Some(2),
            b'f' => Some(6),
            b's' => None,
            _ => {
                return name.first() == Some(&b'%') && fields(&pat[1..], &name[1..], path);
            }
        };
        return match width {
            Some(n) => digits(name, n) && fields(&pat[2..], &name[n..], path),
            None => (1..=name.len())
                .take_while(|&n| digits(name, n))
                .any(|n| fields(&pat[2..], &name[n..], path)),
        };
    }
    name.first() == Some(&pat[0]) && fields(&pat[1..], &name[1..], path)
}

/// `.mp4` or `.ts`, after an optional `~N`.
fn ending(rest: &[u8]) -> bool {
    let rest = match rest.strip_prefix(b"~") {
        Some(r) => {
            let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            &r[n..]
        }
        None => rest,
    };
    rest == b".mp4" || rest == b".ts"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_part_before_the_first_field() {
        let p = RecordPattern::new("/srv/rec/%path/%Y-%m-%d_%H-%M-%S-%f").unwrap();
        assert_eq!(p.root, PathBuf::from("/srv/rec"));
        let p = RecordPattern::new("./recordings/%path/%s-%f").unwrap();
        assert_eq!(p.root, std::env::current_dir().unwrap().join("recordings"));
        let p = RecordPattern::new("/srv/rec/cam-%path/%s-%f").unwrap();
        assert_eq!(p.root, PathBuf::from("/srv/rec"));
    }

    #[test]
    fn only_mediamtx_names_under_the_root() {
        let p = RecordPattern::new("/srv/rec/%path/%Y-%m-%d_%H-%M-%S-%f").unwrap();
        let ok = "/srv/rec/cam0/2026-11-24_03-43-19-123456.mp4";
        assert!(p.names("cam0", ok));
        assert!(p.names("cam0", "/srv/rec/cam0/2026-11-24_03-43-19-123456~2.ts"));
        assert!(p.names(
            "site/cam",
            "/srv/rec/site/cam/2026-11-24_03-43-19-123456.mp4"
        ));
        for bad in [
            "/srv/rec/cam1/2026-11-24_03-43-19-123456.mp4",
            "/srv/rec/cam0/2026-11-24_03-43-19-12345.mp4",
            "/srv/rec/cam0/2026-11-24_03-43-19-123456.mkv",
            "/srv/rec/cam0/2026-11-24_03-43-19-123456.mp4.bak",
            "/srv/rec/cam0/../cam0/2026-11-24_03-43-19-123456.mp4",
            "/srv/other/cam0/2026-11-24_03-43-19-123456.mp4",
            "/etc/passwd",
            "srv/rec/cam0/2026-11-24_03-43-19-123456.mp4",
        ] {
            assert!(!p.names("cam0", bad), "{bad}");
        }
        let s = RecordPattern::new("/srv/rec/%path/%s-%f").unwrap();
        assert!(s.names("cam0", "/srv/rec/cam0/1764000000-000001.mp4"));
        assert!(!s.names("cam0", "/srv/rec/cam0/-000001.mp4"));
    }
}
