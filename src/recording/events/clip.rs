//! Clips (`hook clip`): the kept segments of an event or a stretch of time
//! joined into one MP4 without re-encoding.
//!
//! The segments come from the path's ledger (`clip_plan`); FFmpeg joins them
//! with its concat demuxer and `-c copy` (run like every child, through
//! `process`, within a time limit), from a list file in a private directory
//! (mode 0700, made fresh, removed afterwards), into a file in that
//! directory. The command copies the result to `-o` with the snapshot's
//! checks (a new name or a regular file, written to a hidden temporary file
//! beside it and renamed over it, so a reader never sees a half-written
//! clip).

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use time::OffsetDateTime;

use crate::context::Context;
use crate::error::usage;
use crate::process::ChildCommand;
use crate::process::{run_bounded, BoundedEnd};
use crate::recording::events::clip_plan::{holes, pieces, Hole, Piece};
use crate::recording::text::rfc3339;
use crate::state::now;

/// What a clip covers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Window {
    /// An event's window, by its id.
    Event(u64),
    /// A stretch of time.
    Stretch {
        since: OffsetDateTime,
        until: OffsetDateTime,
    },
}

/// A clip joined in its private directory, to be copied to its place.
pub(crate) struct Clip {
    work: PrivateDir,
    file: PathBuf,
    pieces: Vec<Piece>,
    gaps: Vec<Hole>,
    since: OffsetDateTime,
    until: OffsetDateTime,
    /// The window reached beyond now: the clip ends now.
    open: bool,
    what: String,
}

/// Joins `path`'s recorded segments of `window` with `ffmpeg`, within
/// `timeout`: the joined clip, in a private directory removed with it.
pub(crate) fn make(
    ctx: &Context,
    path: &str,
    window: Window,
    ffmpeg: &Path,
    timeout: Duration,
) -> anyhow::Result<Clip> {
    let state = ctx.store.read()?;
    let p = state.paths.get(path);
    let (since, until, what) = match window {
        Window::Event(id) => {
            let e = p
                .and_then(|p| p.events.iter().find(|e| e.id == id))
                .ok_or_else(|| {
                    let known: Vec<String> = p
                        .map(|p| p.events.iter().map(|e| e.id.to_string()).collect())
                        .unwrap_or_default();
                    usage(format!(
                        "--event {id}: {path} has no such event in its state (known: {})",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ))
                })?;
            (e.window_start(), e.window_end(), format!("event {id}"))
        }
        Window::Stretch { since, until } => {
            if until <= since {
                return Err(usage(format!(
                    "--until {} is not after --since {}",
                    rfc3339(until),
                    rfc3339(since)
                )));
            }
            (since, until, "the stretch".to_string())
        }
    };
    let at = now();
    let open = until > at;
    let until = until.min(at);
    let ledger = ctx.store.ledger_file(path);
    let text = match std::fs::read_to_string(&ledger) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading ledger {}", ledger.display())),
    };
    let mut found = pieces(&text, since, until);
    let missing: Vec<String> = found
        .iter()
        .filter(|s| !Path::new(&s.file).is_file())
        .map(|s| s.file.clone())
        .collect();
    found.retain(|s| !missing.contains(&s.file));
    for m in &missing {
        log::warn!("segment {m} is in the ledger but not on disk: left out");
    }
    if found.is_empty() {
        bail!(
            "{path}: no recorded segment of {what} ({} to {}) is on disk",
            rfc3339(since),
            rfc3339(until)
        );
    }
    let tolerance = time::Duration::try_from(ctx.policy.recording.gap_tolerance.0)
        .context("gap tolerance out of range")?;
    let gaps = holes(&found, since, until, tolerance);
    let work = PrivateDir::new()?;
    let file = join(ffmpeg, &found, &work.0, Instant::now() + timeout)?;
    Ok(Clip {
        work,
        file,
        pieces: found,
        gaps,
        since,
        until,
        open,
        what,
    })
}

impl Clip {
    /// The joined clip, in the private directory.
    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// What was written to `target`, as one line to print; the private
    /// directory is removed.
    pub(crate) fn done(self, target: &Path) -> String {
        drop(self.work);
        let found = &self.pieces;
        let first = found.first().expect("not empty").start;
        let last = found.iter().map(Piece::end).max().expect("not empty");
        let gaps = &self.gaps;
        let gap_text = if gaps.is_empty() {
            "no gaps".to_string()
        } else {
            let list: Vec<String> = gaps
                .iter()
                .map(|h| {
                    format!(
                        "{} to {} ({:.1}s)",
                        rfc3339(h.from),
                        rfc3339(h.to),
                        (h.to - h.from).as_seconds_f64()
                    )
                })
                .collect();
            format!("{} gap(s): {}", gaps.len(), list.join(", "))
        };
        format!(
            "clip of {} written to {}: {} segments covering {} to {} ({:.1}s; asked {} to {}){}; {gap_text}",
            self.what,
            target.display(),
            found.len(),
            rfc3339(first),
            rfc3339(last),
            (last - first).as_seconds_f64(),
            rfc3339(self.since),
            rfc3339(self.until),
            if self.open { ", still being recorded: the clip ends now" } else { "" },
        )
    }
}

/// FFmpeg's concat list: one `file` line per segment, each name quoted
/// (`'` as `'\''`, the demuxer's own escape).
pub(crate) fn concat_list(pieces: &[Piece]) -> String {
    let mut list = String::from("ffconcat version 1.0\n");
    for p in pieces {
        list += &format!("file '{}'\n", p.file.replace('\'', "'\\''"));
    }
    list
}

/// Joins `pieces` into `dir/clip.mp4` with FFmpeg (`-c copy`).
fn join(ffmpeg: &Path, pieces: &[Piece], dir: &Path, deadline: Instant) -> anyhow::Result<PathBuf> {
    let list = dir.join("segments.ffconcat");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&list)
        .with_context(|| format!("creating {}", list.display()))?;
    f.write_all(concat_list(pieces).as_bytes())
        .with_context(|| format!("writing {}", list.display()))?;
    drop(f);
    let out = dir.join("clip.mp4");
    let args: Vec<OsString> = [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
    ]
    .iter()
    .map(OsString::from)
    .chain([list.into_os_string()])
    .chain(
        [
            "-map",
            "0",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ]
        .iter()
        .map(OsString::from),
    )
    .chain([out.clone().into_os_string()])
    .collect();
    let run = run_bounded(ChildCommand::tool(ffmpeg, &args), deadline, 64 * 1024)
        .with_context(|| format!("starting {}", ffmpeg.display()))?;
    let stderr = String::from_utf8_lossy(&run.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    match run.end {
        BoundedEnd::Exited(status) if status.code() == Some(0) => Ok(out),
        BoundedEnd::Exited(status) => Err(anyhow!(
            "FFmpeg could not join the segments ({status}): {}",
            tail.join(" | ")
        )),
        BoundedEnd::TimedOut => {
            bail!("FFmpeg did not finish joining within the time limit (killed it; --timeout)")
        }
        BoundedEnd::TooMuchOutput => bail!("FFmpeg wrote too much to its stdout (killed it)"),
    }
}

/// A directory only this user can enter, made fresh under the system's
/// temporary directory and removed when dropped.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> anyhow::Result<PrivateDir> {
        let base = std::env::temp_dir();
        for _ in 0..16 {
            let name = match crate::fs::sys::random_u64() {
                Some(random) => format!("{random:016x}"),
                None => anyhow::bail!("drawing a directory name: cannot read random bytes"),
            };
            let dir = base.join(format!("hook-clip-{name}"));
            // mkdir never follows a link and fails on any existing name.
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(PrivateDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
            }
        }
        bail!(
            "creating a private directory in {}: 16 random names were all taken",
            base.display()
        )
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_list_are_quoted() {
        let p = |f: &str| Piece {
            file: f.into(),
            start: time::macros::datetime!(2026-01-01 00:00:00 UTC),
            duration: 1.0,
        };
        assert_eq!(
            concat_list(&[p("/r/a.mp4"), p("/r/it's.mp4")]),
            "ffconcat version 1.0\nfile '/r/a.mp4'\nfile '/r/it'\\''s.mp4'\n"
        );
    }
}
