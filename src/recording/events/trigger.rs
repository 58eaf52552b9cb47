//! An event: `hook record start PATH --duration D` on an armed path. It
//! keeps everything from the path's pre-roll before the call to its
//! post-roll after the event's end; a start while the event lasts is a
//! re-trigger (its end moves later, never sooner). A start after an event
//! ended is a new event, whose pre-roll may overlap the previous one's
//! post-roll (they then share those segments).

use std::time::Duration;

use time::OffsetDateTime;

use crate::context::Context;
use crate::error::usage;
use crate::recording::events::clip_plan::pieces;
use crate::recording::events::ring::{self, KeptRecord};
use crate::recording::text::{both_times, ms_text};
use crate::state::events::{Event, RECENT_EVENTS};
use crate::state::now;

/// A ledger line: an event began, or was re-triggered.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct EventRecord {
    pub event: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub reason: Option<String>,
    pub pre_seconds: f64,
    pub post_seconds: f64,
    /// The pre-roll kept when the line was written (None: not known yet).
    pub achieved_pre_seconds: Option<f64>,
    /// True on a re-trigger's line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retrigger: bool,
}

impl EventRecord {
    fn of(e: &Event, at: OffsetDateTime, retrigger: bool) -> EventRecord {
        EventRecord {
            event: e.id,
            at,
            until: e.until,
            reason: e.reason.clone(),
            pre_seconds: e.pre_ms as f64 / 1000.0,
            post_seconds: e.post_ms as f64 / 1000.0,
            achieved_pre_seconds: e.achieved_pre_seconds(),
            retrigger,
        }
    }
}

/// Starts or re-triggers the event on the armed `path` (the caller holds
/// its session lock). What happened, as one line to print.
pub(crate) fn trigger(
    ctx: &Context,
    path: &str,
    duration: Option<Duration>,
    reason: Option<String>,
) -> anyhow::Result<String> {
    let Some(duration) = duration else {
        return Err(usage(format!(
            "{path} is armed: an event needs --duration D (how long it lasts; the post-roll follows it)"
        )));
    };
    let at = now();
    let store = &ctx.store;
    let (event, again, kept) = store.update(|state| {
        let p = state.paths.entry(path.to_string()).or_default();
        let Some(armed) = p.armed.clone() else {
            anyhow::bail!("{path} was disarmed meanwhile");
        };
        let end = at + duration;
        if let Some(e) = p.events.iter_mut().rev().find(|e| e.until >= at) {
            e.until = e.until.max(end);
            e.retriggers += 1;
            if reason.is_some() {
                e.reason = reason.clone();
            }
            let e = e.clone();
            let line = EventRecord::of(&e, at, true);
            p.segments.ledger_bytes =
                Some(store.append_ledger(path, p.segments.ledger_bytes, &line)?);
            return Ok((e, true, 0));
        }
        p.event_count += 1;
        let id = p.event_count;
        p.events.push(Event {
            id,
            at,
            until: end,
            reason: reason.clone(),
            pre_ms: armed.pre_ms,
            post_ms: armed.post_ms,
            kept_from: None,
            retriggers: 0,
        });
        if p.events.len() > RECENT_EVENTS {
            let excess = p.events.len() - RECENT_EVENTS;
            p.events.drain(..excess);
        }
        let kept = ring::keep_for_event(p, id);
        // Segments kept already (an earlier event's post-roll) count too:
        // the earliest segment on disk in the window, from the ledger's end.
        let e = p.events.last_mut().expect("pushed above");
        let tail = ledger_tail(&store.ledger_file(path));
        if let Some(first) = pieces(&tail, e.window_start(), at).first() {
            if e.kept_from.is_none_or(|k| first.start < k) {
                e.kept_from = Some(first.start);
            }
        }
        for s in &kept {
            let line = KeptRecord {
                requeued: s.file.clone(),
                start: s.start,
                size: s.size,
                duration: s.duration,
                event: id,
            };
            p.segments.ledger_bytes =
                Some(store.append_ledger(path, p.segments.ledger_bytes, &line)?);
        }
        let e = p.events.last().expect("pushed above").clone();
        let line = EventRecord::of(&e, at, false);
        p.segments.ledger_bytes =
            Some(store.append_ledger(path, p.segments.ledger_bytes, &line)?);
        Ok((e, false, kept.len()))
    })?;
    let why = event
        .reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let post = ms_text(event.post_ms);
    if again {
        let text = format!(
            "event {} re-triggered: until {} (+{post} post-roll){why}",
            event.id,
            both_times(event.until)
        );
        log::info!("{text}");
        Ok(text)
    } else {
        let pre = match event.achieved_pre_seconds() {
            Some(s) => format!(
                "{s:.1}s of pre-roll kept ({} asked, {kept} segments)",
                ms_text(event.pre_ms)
            ),
            None => format!("pre-roll {} asked, none on disk yet", ms_text(event.pre_ms)),
        };
        let text = format!(
            "event {} until {} (+{post} post-roll); {pre}{why}",
            event.id,
            both_times(event.until)
        );
        log::info!("{text}");
        Ok(text)
    }
}

/// How much of a ledger's end is read for an event's pre-roll (hundreds of
/// segments' lines, far more than any pre-roll spans).
const TAIL: u64 = 256 * 1024;

/// The last whole lines of the ledger (empty when it cannot be read).
fn ledger_tail(file: &std::path::Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(file) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(TAIL);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    match (from, text.find('\n')) {
        (0, _) => text,
        (_, Some(i)) => text[i + 1..].to_string(),
        (_, None) => String::new(),
    }
}
