//! `state.json` read entry by entry: the document split into its path
//! entries as raw JSON, so a reader leaves out (and a writer sets aside) only
//! the entry that does not parse, and a writer serializes only the entry it
//! changes.

use super::*;
use anyhow::{Context, Result};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// A path's entry that does not parse, set aside by a writer.
pub(super) struct Bad {
    pub(super) path: String,
    pub(super) raw: String,
    pub(super) error: String,
}

/// `state.json` split into its top-level fields and its paths, each kept as
/// the JSON text it was: what [`StateStore::update_path`] needs to change
/// one path without re-serializing the others, and what the reader parses
/// entry by entry.
#[derive(Default)]
pub(super) struct RawDoc<'a> {
    pub(super) version: u32,
    pub(super) top: BTreeMap<String, &'a RawValue>,
    pub(super) paths: BTreeMap<String, &'a RawValue>,
}

pub(super) enum Split {
    /// Written by a newer hook: never touched.
    Newer(u32),
    Corrupt(String),
}

/// Splits the file's text; a file that is not a JSON object with a numeric
/// `schema_version` (or none) and an object `paths` (or none) is corrupt.
pub(super) fn split(bytes: &[u8]) -> std::result::Result<RawDoc<'_>, Split> {
    let corrupt = |e: serde_json::Error| Split::Corrupt(e.to_string());
    let top: BTreeMap<String, &RawValue> = serde_json::from_slice(bytes).map_err(corrupt)?;
    let version: u32 = match top.get("schema_version") {
        Some(v) => serde_json::from_str(v.get()).map_err(corrupt)?,
        None => 0,
    };
    if version > SCHEMA_VERSION {
        return Err(Split::Newer(version));
    }
    let paths: BTreeMap<String, &RawValue> = match top.get("paths") {
        Some(v) => serde_json::from_str(v.get()).map_err(corrupt)?,
        None => BTreeMap::new(),
    };
    Ok(RawDoc {
        version,
        top,
        paths,
    })
}

impl RawDoc<'_> {
    /// Every entry parsed; those that do not parse are returned apart.
    pub(super) fn into_state(self) -> (State, Vec<Bad>) {
        let mut state = State {
            schema_version: self.version,
            paths: BTreeMap::new(),
            recording_root: self
                .top
                .get("recording_root")
                .and_then(|v| serde_json::from_str(v.get()).ok()),
        };
        let mut bad = Vec::new();
        for (name, raw) in self.paths {
            match serde_json::from_str::<PathState>(raw.get()) {
                Ok(entry) => {
                    state.paths.insert(name, entry);
                }
                Err(e) => bad.push(Bad {
                    path: name,
                    raw: raw.get().to_string(),
                    error: e.to_string(),
                }),
            }
        }
        (state, bad)
    }

    /// The whole file again, with the entry of `path` replaced by `entry`.
    pub(super) fn render(&self, path: &str, entry: &PathState) -> Result<Vec<u8>> {
        let entry = serde_json::to_string(entry).context("serializing state")?;
        let mut paths: BTreeMap<&str, &str> = self
            .paths
            .iter()
            .map(|(k, v)| (k.as_str(), v.get()))
            .collect();
        paths.insert(path, &entry);
        let size = paths
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>()
            + 64;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(format!("{{\"schema_version\":{SCHEMA_VERSION}").as_bytes());
        for (k, v) in &self.top {
            if k != "schema_version" && k != "paths" {
                out.push(b',');
                serde_json::to_writer(&mut out, k)?;
                out.push(b':');
                out.extend_from_slice(v.get().as_bytes());
            }
        }
        out.extend_from_slice(b",\"paths\":{");
        for (i, (k, v)) in paths.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, k)?;
            out.push(b':');
            out.extend_from_slice(v.as_bytes());
        }
        out.extend_from_slice(b"}}\n");
        Ok(out)
    }
}
