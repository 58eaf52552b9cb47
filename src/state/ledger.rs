//! The per-path segment ledger (`ledger/<stem>.jsonl`): one JSON line per
//! recorded segment, appended durably under the state lock, so that the
//! state keeps totals and the ledger the segments.

use super::store::*;
use super::*;
use anyhow::{Context, Result};
use files::{name_stem, Access};
use serde::Serialize;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

pub(super) fn ledger_name(path: &str) -> String {
    format!("{}.jsonl", name_stem(path))
}

impl StateStore {
    /// The per-path append-only segment ledger:
    /// `ledger/<stem>.jsonl`, the stem made by [`files::name_stem`]
    /// (`site1/camera0` → `site1%2Fcamera0`).
    pub(crate) fn ledger_file(&self, path: &str) -> PathBuf {
        self.ledger_dir().join(ledger_name(path))
    }

    pub(super) fn ledger_dir(&self) -> PathBuf {
        self.dir.join("ledger")
    }

    /// Appends one segment to `path`'s ledger as a JSON line, durably, and
    /// returns the ledger's new length. Call it inside [`StateStore::update`]
    /// and keep the length in the state (`SegmentTotals::ledger_bytes`):
    /// ledger lines and totals then change under the same lock, and a line
    /// left by a writer killed before its state was written (beyond the
    /// committed length) is dropped before the next one is appended, so the
    /// ledger holds exactly the segments the totals count. With no committed
    /// length known (a fresh state) nothing is dropped.
    ///
    /// The file name comes from [`files::name_stem`], so whatever the
    /// path name nothing is written outside the ledger directory, and the
    /// ledger is never opened through a link.
    pub(crate) fn append_ledger(
        &self,
        path: &str,
        committed: Option<u64>,
        record: &impl Serialize,
    ) -> Result<u64> {
        self.append_ledger_then(path, committed, record, true)
    }

    /// [`StateStore::append_ledger`] that leaves the `fdatasync` to a later
    /// append or to [`StateStore::sync_ledger`] when `sync` is false, so
    /// several lines of one update cost one flush. The state must not be
    /// written before that flush.
    pub(crate) fn append_ledger_then(
        &self,
        path: &str,
        committed: Option<u64>,
        record: &impl Serialize,
        sync: bool,
    ) -> Result<u64> {
        let file = self.ledger_file(path);
        let mut line = serde_json::to_vec(record).context("serializing a ledger line")?;
        line.push(b'\n');
        let append = || -> std::io::Result<u64> {
            let dir = self.open_state_dir(true)?.sub("ledger", true)?;
            let mut f = dir.open(&ledger_name(path), Access::Append, true)?;
            let mut len = f.metadata()?.len();
            if let Some(committed) = committed.filter(|&c| c < len) {
                f.set_len(committed)?;
                len = committed;
            }
            // A torn last line (a write cut by a crash, a ledger shorter
            // than the state says): the new line starts a line of its own,
            // so one torn line never spoils a second one; readers skip it.
            let mut last = [0u8; 1];
            let torn = len > 0 && f.read_at(&mut last, len - 1)? == 1 && last[0] != b'\n';
            let mut out = Vec::with_capacity(line.len() + 1);
            if torn {
                log::warn!(
                    "segment ledger {} ends in a torn line (no newline at byte {len}{}); it is left on a line of its own and skipped",
                    file.display(),
                    match committed {
                        Some(c) if c > len => format!(", {} bytes short of the {c} recorded", c - len),
                        _ => String::new(),
                    }
                );
                out.push(b'\n');
            }
            out.extend_from_slice(&line);
            // One write(2) of the whole line: O_APPEND keeps lines whole.
            f.write_all(&out)?;
            if sync {
                f.sync_data()?;
            }
            Ok(len + out.len() as u64)
        };
        append().with_context(|| format!("appending to segment ledger {}", file.display()))
    }

    /// Flushes `path`'s ledger to disk (after appends without a flush).
    pub(crate) fn sync_ledger(&self, path: &str) -> Result<()> {
        let file = self.ledger_file(path);
        let sync = || -> std::io::Result<()> {
            let dir = self.open_state_dir(true)?.sub("ledger", true)?;
            dir.open(&ledger_name(path), Access::Append, true)?
                .sync_data()
        };
        sync().with_context(|| format!("flushing segment ledger {}", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::store::tests::tmp;
    use std::fs;

    #[test]
    fn ledger_names_stay_inside_the_ledger_directory() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        let rec = SegmentRecord {
            file: "x.mp4".into(),
            start: now(),
            duration: 1.0,
            size: 1,
            gap_before: None,
            gap_cause: None,
            start_from: StartSource::Mtime,
            recovered: false,
            session: None,
        };
        for (name, file) in [
            ("site1/camera0", "site1%2Fcamera0.jsonl"),
            ("../x", "%2E.%2Fx.jsonl"),
            ("a/../../x", "a%2F..%2F..%2Fx.jsonl"),
            ("", "%.jsonl"),
            (".hidden", "%2Ehidden.jsonl"),
        ] {
            assert_eq!(store.ledger_file(name), dir.join("ledger").join(file));
            store.append_ledger(name, None, &rec).unwrap();
            assert!(dir.join("ledger").join(file).is_file(), "{name:?}");
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "only ledger/");
        let one = store.append_ledger("cam0", None, &rec).unwrap();
        let two = store.append_ledger("cam0", Some(one), &rec).unwrap();
        let text = fs::read_to_string(store.ledger_file("cam0")).unwrap();
        assert_eq!(text.len() as u64, two);
        assert_eq!(text.lines().count(), 2);
        let back: SegmentRecord = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back, rec);
        // A line beyond the committed length (its writer died before the
        // state was written) is dropped; with no length known, none is.
        let three = store.append_ledger("cam0", Some(one), &rec).unwrap();
        assert_eq!(three, two);
        let four = store.append_ledger("cam0", None, &rec).unwrap();
        assert_eq!(
            fs::read_to_string(store.ledger_file("cam0"))
                .unwrap()
                .lines()
                .count(),
            3
        );
        assert_eq!(four, three + (two - one));
    }
}
