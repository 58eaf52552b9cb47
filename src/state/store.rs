//! The state store: `state.json` in the state directory.
//!
//! Every change happens under an exclusive lock on `state.lock` (a separate
//! file, because `state.json` itself is replaced by rename), is written to a
//! temporary file, fsynced, renamed over `state.json`, and the directory is
//! fsynced: a crash at any instant leaves the old or the new state, never a
//! torn one. Every file is opened through `state::files` (no link followed,
//! regular files only, handed to the directory's owner only when created).
//!
//! Readers never write: a file that does not parse reads as an empty state,
//! a path entry that does not parse is left out, each with a warning. Writers
//! (under the lock) move a corrupt file aside (`state.json.corrupt-<time>`)
//! and set bad entries aside (`state.json.bad-<time>`), keeping the others;
//! they check entries with the same schema as readers.
//!
//! The state grows with paths, not segments: segments go to the per-path
//! ledger (`ledger/<stem>.jsonl`, append-only, one JSON line per segment,
//! appended under the same lock); the state keeps totals and the last few.
//!
//! A state file written by a newer hook (a higher schema version) is left
//! alone: reading or changing it is an error, so a downgrade never destroys
//! what the newer version wrote.
//!
//! The file is compact JSON (`hook status --json` is the readable view).
//! [`StateStore::update_path`], used by the hooks that run per event,
//! serializes only the entry it changes.

use super::raw::*;
use super::*;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use time::OffsetDateTime;

use files::{name_stem, Access, Dir};

/// The state directory and its files.
#[derive(Clone, Debug)]
pub struct StateStore {
    pub(super) dir: PathBuf,
}

/// The state lock, held, with the state directory open.
pub(super) struct Locked {
    dir: Dir,
    _file: File,
}

impl StateStore {
    /// A store rooted at `dir`; nothing is created until the first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateStore { dir: dir.into() }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The log of `path`'s recording hold (`holds/<stem>.log`).
    pub(crate) fn hold_log_file(&self, path: &str) -> PathBuf {
        self.dir
            .join("holds")
            .join(format!("{}.log", name_stem(path)))
    }

    /// The policy `path`'s recording hold runs with (`holds/<stem>.policy.json`).
    pub(crate) fn hold_policy_file(&self, path: &str) -> PathBuf {
        self.dir
            .join("holds")
            .join(format!("{}.policy.json", name_stem(path)))
    }

    /// Creates (or empties) the hold's log and writes the policy it runs
    /// with, never through a link (see `state::files`); returns the log.
    pub(crate) fn create_hold_files(&self, path: &str, policy: &[u8]) -> Result<File> {
        self.hold_files(path, Some(policy))
    }

    /// The hold's log, for a hold started again with the policy file its
    /// session's first hold was given (written with `fallback` when it is
    /// missing).
    pub(crate) fn reopen_hold_files(&self, path: &str, fallback: &[u8]) -> Result<File> {
        let keep = self.hold_policy_file(path).is_file();
        self.hold_files(path, (!keep).then_some(fallback))
    }

    fn hold_files(&self, path: &str, policy: Option<&[u8]>) -> Result<File> {
        let stem = name_stem(path);
        let holds = self
            .open_dir_creating()?
            .sub("holds", true)
            .with_context(|| format!("creating {}", self.dir.join("holds").display()))?;
        let log_name = format!("{stem}.log");
        let log = holds
            // Appended to: never truncate the log of a hold that may still write.
            .open(&log_name, Access::Append, true)
            .with_context(|| format!("opening hold log {}", holds.join(&log_name).display()))?;
        if let Some(policy) = policy {
            let policy_name = format!("{stem}.policy.json");
            holds
                .open(&policy_name, Access::Truncate, true)
                .and_then(|mut f| f.write_all(policy))
                .with_context(|| format!("writing {}", holds.join(&policy_name).display()))?;
        }
        Ok(log)
    }

    /// Opens the state directory (`create`: making it when missing).
    pub(super) fn open_state_dir(&self, create: bool) -> std::io::Result<Dir> {
        match Dir::open_state(&self.dir) {
            Err(e) if create && e.kind() == ErrorKind::NotFound => {
                fs::create_dir_all(&self.dir)?;
                Dir::open_state(&self.dir)
            }
            other => other,
        }
    }

    /// The state directory, made when missing, for a writer.
    pub(super) fn open_dir_creating(&self) -> Result<Dir> {
        self.open_state_dir(true).map_err(|e| {
            if files::is_refusal(&e) {
                anyhow::Error::new(e)
            } else {
                anyhow::Error::new(e).context(format!(
                    "state directory {} cannot be written (give a writable one with --state-dir or HOOK_STATE_DIR)",
                    self.dir.display()
                ))
            }
        })
    }

    /// Takes the exclusive state lock; released when the returned value
    /// drops. Creates the state directory on first use.
    pub(super) fn lock(&self) -> Result<Locked> {
        let dir = self.open_dir_creating()?;
        let path = dir.join("state.lock");
        let file = dir
            .open("state.lock", Access::ReadWrite, true)
            .map_err(|e| {
                let refusal = files::is_refusal(&e);
                let err =
                    anyhow::Error::new(e).context(format!("opening state lock {}", path.display()));
                if refusal {
                    err
                } else {
                    err.context(format!(
                        "state directory {} cannot be written (give a writable one with --state-dir or HOOK_STATE_DIR)",
                        self.dir.display()
                    ))
                }
            })?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(Locked { dir, _file: file })
    }

    /// Reads the state without taking the lock (the file is only ever
    /// replaced whole), and without ever writing: a missing file or
    /// directory is an empty state; a file that does not parse is shown as
    /// an empty state and a path entry that does not parse is left out,
    /// each with a warning. The next change (under the lock) moves a
    /// corrupt file aside, or sets such entries aside in
    /// `state.json.bad-<time>`.
    pub fn read(&self) -> Result<State> {
        let dir = match Dir::open_state(&self.dir) {
            Ok(dir) => dir,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(State::empty()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("opening state directory {}", self.dir.display()))
            }
        };
        let Some(bytes) = self.read_bytes(&dir)? else {
            return Ok(State::empty());
        };
        match split(&bytes) {
            Ok(doc) => {
                let (state, bad) = doc.into_state();
                for b in &bad {
                    log::warn!(
                        "state file {}: the entry of path {:?} does not parse ({}); leaving it out (the next change to the state sets it aside in a state.json.bad-<time> file)",
                        self.state_file().display(),
                        b.path,
                        b.error
                    );
                }
                Ok(state)
            }
            Err(Split::Newer(version)) => Err(self.newer_error(version)),
            Err(Split::Corrupt(why)) => {
                log::warn!(
                    "state file {} is corrupt ({why}); showing an empty state (the next change to the state moves it aside as state.json.corrupt-<time>)",
                    self.state_file().display()
                );
                Ok(State::empty())
            }
        }
    }

    /// Applies `change` to the state under the exclusive lock and replaces
    /// the file atomically. Returns what `change` returned.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let locked = self.lock()?;
        let mut state = self.load_locked(&locked.dir)?;
        let out = change(&mut state)?;
        state.schema_version = SCHEMA_VERSION;
        self.write_locked(&locked.dir, &state)?;
        Ok(out)
    }

    /// Applies `change` to one path's entry (created when missing) and stamps
    /// its `updated_at`, under the lock, replacing the file atomically.
    ///
    /// Only that entry is serialized: the other paths are copied through
    /// as the JSON text they were (checked to parse as an entry, like a
    /// reader would; one that does not is set aside), so the hooks that run
    /// once per segment stay fast however many paths the state holds.
    pub(crate) fn update_path<T>(
        &self,
        path: &str,
        change: impl FnOnce(&mut PathState) -> Result<T>,
    ) -> Result<T> {
        let locked = self.lock()?;
        let bytes = self.read_bytes(&locked.dir)?;
        let mut doc = match bytes.as_deref().map(split) {
            None => RawDoc::default(),
            Some(Ok(doc)) => doc,
            Some(Err(Split::Newer(version))) => return Err(self.newer_error(version)),
            Some(Err(Split::Corrupt(why))) => {
                self.quarantine(&locked.dir, &why)?;
                RawDoc::default()
            }
        };
        let mut entry = PathState::default();
        let mut bad = Vec::new();
        doc.paths.retain(
            |name, raw| match serde_json::from_str::<PathState>(raw.get()) {
                Ok(parsed) => {
                    if name == path {
                        entry = parsed;
                    }
                    true
                }
                Err(e) => {
                    bad.push(Bad {
                        path: name.clone(),
                        raw: raw.get().to_string(),
                        error: e.to_string(),
                    });
                    false
                }
            },
        );
        self.set_aside(&locked.dir, &bad)?;
        let out = change(&mut entry)?;
        entry.updated_at = Some(now());
        let rendered = doc.render(path, &entry)?;
        self.write_bytes_locked(&locked.dir, &rendered)?;
        Ok(out)
    }

    /// The bytes of `state.json`, `None` when there is none.
    pub(super) fn read_bytes(&self, dir: &Dir) -> Result<Option<Vec<u8>>> {
        use std::io::Read;
        let file = match dir.open("state.json", Access::Read, false) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading state file {}", self.state_file().display()))
            }
        };
        let mut bytes = Vec::new();
        (&file)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading state file {}", self.state_file().display()))?;
        Ok(Some(bytes))
    }

    pub(super) fn newer_error(&self, version: u32) -> anyhow::Error {
        anyhow::anyhow!(
            "state file {} has schema version {version}, newer than this hook's {SCHEMA_VERSION}: it was written by a newer hook; leaving it untouched (run the newer hook, or move the file away to start afresh)",
            self.state_file().display()
        )
    }

    /// Loads the state; the caller holds the lock. A corrupt file is moved
    /// aside, entries that do not parse are set aside.
    pub(super) fn load_locked(&self, dir: &Dir) -> Result<State> {
        let Some(bytes) = self.read_bytes(dir)? else {
            return Ok(State::empty());
        };
        match split(&bytes) {
            Ok(doc) => {
                let (state, bad) = doc.into_state();
                self.set_aside(dir, &bad)?;
                Ok(state)
            }
            Err(Split::Newer(version)) => Err(self.newer_error(version)),
            Err(Split::Corrupt(why)) => {
                self.quarantine(dir, &why)?;
                Ok(State::empty())
            }
        }
    }

    /// A name `state.json.<what>-<time>` not taken yet.
    pub(super) fn aside_name(dir: &Dir, what: &str) -> String {
        let stamp = file_stamp(now());
        let mut name = format!("state.json.{what}-{stamp}");
        let mut n = 1;
        while dir.exists(&name) {
            name = format!("state.json.{what}-{stamp}-{n}");
            n += 1;
        }
        name
    }

    /// Moves a corrupt `state.json` aside; the caller holds the lock.
    pub(super) fn quarantine(&self, dir: &Dir, why: &str) -> Result<()> {
        let path = self.state_file();
        let aside = dir.join(&Self::aside_name(dir, "corrupt"));
        let name = aside.file_name().and_then(|n| n.to_str()).unwrap_or("");
        dir.rename("state.json", name).with_context(|| {
            format!(
                "moving corrupt state file {} aside to {}",
                path.display(),
                aside.display()
            )
        })?;
        log::warn!(
            "state file {} was corrupt ({why}); kept it as {} and started a fresh state",
            path.display(),
            aside.display()
        );
        Ok(())
    }

    /// Writes entries that do not parse to a new `state.json.bad-<time>`
    /// (`{"set_aside_at", "errors": {path: why}, "paths": {path: entry}}`),
    /// durably, before the state is written without them; the caller holds
    /// the lock.
    pub(super) fn set_aside(&self, dir: &Dir, bad: &[Bad]) -> Result<()> {
        if bad.is_empty() {
            return Ok(());
        }
        let name = Self::aside_name(dir, "bad");
        let file = dir.join(&name);
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"set_aside_at\":");
        serde_json::to_writer(&mut out, &now().unix_timestamp())?;
        out.extend_from_slice(b",\"errors\":");
        let errors: BTreeMap<&str, &str> = bad
            .iter()
            .map(|b| (b.path.as_str(), b.error.as_str()))
            .collect();
        serde_json::to_writer(&mut out, &errors)?;
        out.extend_from_slice(b",\"paths\":{");
        for (i, b) in bad.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, &b.path)?;
            out.push(b':');
            out.extend_from_slice(b.raw.as_bytes());
        }
        out.extend_from_slice(b"}}\n");
        dir.open(&name, Access::Append, true)
            .and_then(|mut f| {
                f.write_all(&out)?;
                f.sync_all()
            })
            .with_context(|| format!("setting bad state entries aside in {}", file.display()))?;
        for b in bad {
            log::warn!(
                "state file {}: the entry of path {:?} did not parse ({}); set it aside in {} and started that path afresh",
                self.state_file().display(),
                b.path,
                b.error,
                file.display()
            );
        }
        Ok(())
    }

    /// Writes the state atomically; the caller holds the lock.
    pub(super) fn write_locked(&self, dir: &Dir, state: &State) -> Result<()> {
        let mut bytes = serde_json::to_vec(state).context("serializing state")?;
        bytes.push(b'\n');
        self.write_bytes_locked(dir, &bytes)
    }

    /// Replaces `state.json` with `bytes`: a new temporary file (`O_EXCL`,
    /// unpredictable name), fsync, rename, directory fsync. The caller
    /// holds the lock. (A writer killed half-way leaves its
    /// `state.json.tmp-…`; nothing reads it, and it may be deleted.)
    pub(super) fn write_bytes_locked(&self, dir: &Dir, bytes: &[u8]) -> Result<()> {
        let path = self.state_file();
        dir.replace("state.json", "state.json.tmp-", bytes, true)
            .with_context(|| format!("writing state file {}", path.display()))
    }
}

/// `20261124T034319.123Z`: a UTC time for file names, sortable, no colons.
pub(super) fn file_stamp(t: OffsetDateTime) -> String {
    const STAMP: &[time::format_description::FormatItem<'_>] = time::macros::format_description!(
        "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(STAMP)
        .expect("a date and time always format")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn tmp() -> PathBuf {
        tempfile::Builder::new()
            .prefix("hook-state-unit-")
            .tempdir()
            .unwrap()
            .keep()
    }

    #[test]
    fn update_round_trips() {
        let store = StateStore::new(tmp());
        store
            .update_path("cam0", |p| {
                p.publisher.phase = Phase::Running;
                p.publisher.restarts = 3;
                Ok(())
            })
            .unwrap();
        let s = store.read().unwrap();
        assert_eq!(s.schema_version, SCHEMA_VERSION);
        assert_eq!(s.paths["cam0"].publisher.phase, Phase::Running);
        assert_eq!(s.paths["cam0"].publisher.restarts, 3);
    }

    #[test]
    fn update_path_keeps_the_other_paths_as_they_were() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        let other =
            r#"{"phase":"running","restarts":7,"field_of_a_newer_hook":[1,{"a":"\u00e9"}]}"#;
        fs::write(
            dir.join("state.json"),
            format!(r#"{{"schema_version":1,"extra":{{"k":true}},"paths":{{"b":{other},"a":{{"restarts":1}}}}}}"#),
        )
        .unwrap();
        store
            .update_path("a", |p| {
                assert_eq!(p.publisher.restarts, 1);
                p.publisher.restarts = 2;
                Ok(())
            })
            .unwrap();
        store
            .update_path("new", |p| {
                p.publisher.restarts = 5;
                Ok(())
            })
            .unwrap();
        let text = fs::read_to_string(dir.join("state.json")).unwrap();
        assert!(text.contains(&format!(r#""b":{other}"#)), "{text}");
        assert!(text.contains(r#""extra":{"k":true}"#), "{text}");
        let s = store.read().unwrap();
        assert_eq!(s.paths["a"].publisher.restarts, 2);
        assert!(s.paths["a"].updated_at.is_some());
        assert_eq!(s.paths["b"].publisher.restarts, 7);
        assert_eq!(s.paths["new"].publisher.restarts, 5);
        assert_eq!(s.paths.keys().collect::<Vec<_>>(), ["a", "b", "new"]);
    }

    fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
        fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path())
            .collect()
    }

    #[test]
    fn a_bad_entry_is_left_out_by_readers_and_set_aside_by_writers() {
        let dir = tmp();
        let store = StateStore::new(&dir);
        let bad = r#"{"schema_version":1,"paths":{"a":{"restarts":"many"},"b":{"restarts":7},"c":{"phase":"sleeping"}}}"#;
        fs::write(dir.join("state.json"), bad).unwrap();
        // A reader keeps what parses and writes nothing.
        let s = store.read().unwrap();
        assert_eq!(s.paths.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(s.paths["b"].publisher.restarts, 7);
        assert_eq!(fs::read_to_string(dir.join("state.json")).unwrap(), bad);
        assert!(files_starting(&dir, "state.json.").is_empty());

        // A writer sets the bad entries aside and keeps the others.
        store
            .update_path("a", |p| {
                assert_eq!(p.publisher.restarts, 0, "started afresh");
                p.publisher.restarts = 1;
                Ok(())
            })
            .unwrap();
        let s = store.read().unwrap();
        assert_eq!(s.paths["a"].publisher.restarts, 1);
        assert_eq!(s.paths["b"].publisher.restarts, 7);
        assert!(!s.paths.contains_key("c"));
        let aside = files_starting(&dir, "state.json.bad-");
        assert_eq!(aside.len(), 1);
        let kept: serde_json::Value =
            serde_json::from_slice(&fs::read(&aside[0]).unwrap()).unwrap();
        assert_eq!(kept["paths"]["a"]["restarts"], "many");
        assert_eq!(kept["paths"]["c"]["phase"], "sleeping");
        assert!(kept["errors"]["c"].as_str().unwrap().contains("sleeping"));
        assert!(files_starting(&dir, "state.json.corrupt-").is_empty());

        // The full route does the same.
        let text = fs::read_to_string(dir.join("state.json")).unwrap();
        let text = text.replacen(r#""b":{"#, r#""b":{"child_pid":-1,"#, 1);
        fs::write(dir.join("state.json"), text).unwrap();
        store.update(|_| Ok(())).unwrap();
        let s = store.read().unwrap();
        assert_eq!(s.paths.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(files_starting(&dir, "state.json.bad-").len(), 2);
    }

    #[test]
    fn corrupt_file_is_left_by_readers_and_quarantined_by_writers() {
        let dir = tmp();
        fs::write(dir.join("state.json"), b"{\"paths\": {\"x\": [").unwrap();
        let store = StateStore::new(&dir);
        let s = store.read().unwrap();
        assert!(s.paths.is_empty());
        assert!(files_starting(&dir, "state.json.corrupt-").is_empty());
        store.update(|_| Ok(())).unwrap();
        let aside = files_starting(&dir, "state.json.corrupt-");
        assert_eq!(aside.len(), 1);
        assert_eq!(fs::read(&aside[0]).unwrap(), b"{\"paths\": {\"x\": [");
        assert!(store.read().unwrap().paths.is_empty());
    }

    #[test]
    fn state_files_are_never_written_through_links() {
        let dir = tmp();
        let outside = tmp();
        let target = outside.join("target");
        fs::write(&target, b"precious").unwrap();
        let store = StateStore::new(&dir);
        store.update_path("a", |_| Ok(())).unwrap();
        for name in ["state.lock", "state.json"] {
            let link = dir.join(name);
            fs::rename(&link, dir.join("moved")).unwrap();
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let err = store.update_path("a", |_| Ok(())).unwrap_err();
            assert!(format!("{err:#}").contains("is a symbolic link"), "{err:#}");
            fs::remove_file(&link).unwrap();
            fs::rename(dir.join("moved"), &link).unwrap();
        }
        fs::remove_file(dir.join("state.json")).unwrap();
        std::os::unix::fs::symlink(&target, dir.join("state.json")).unwrap();
        let err = store.read().unwrap_err();
        assert!(format!("{err:#}").contains("is a symbolic link"), "{err:#}");
        assert_eq!(fs::read(&target).unwrap(), b"precious");
    }

    #[test]
    fn newer_schema_is_left_untouched() {
        let dir = tmp();
        let newer = format!(
            "{{\"schema_version\": {}, \"paths\": {{}}}}",
            SCHEMA_VERSION + 1
        );
        fs::write(dir.join("state.json"), &newer).unwrap();
        let store = StateStore::new(&dir);
        let err = store.read().unwrap_err();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
        assert!(store.update(|_| Ok(())).is_err());
        assert_eq!(fs::read_to_string(dir.join("state.json")).unwrap(), newer);
    }

    #[test]
    fn file_stamps_sort_and_have_no_colons() {
        let t = time::macros::datetime!(2026-11-24 03:43:19.123 +01:00);
        assert_eq!(file_stamp(t), "20261124T024319.123Z");
    }
}
