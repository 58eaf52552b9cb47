//! Which segments make a clip of `[since, until]`: the path's ledger lines
//! of segments overlapping it, less those deleted since (gone, deleted by
//! the disk budget, rolled out of a ring), in time order; and the holes
//! in what they cover.

use std::collections::HashSet;

use time::{Duration, OffsetDateTime};

/// One segment of a clip.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Piece {
    pub file: String,
    pub start: OffsetDateTime,
    pub duration: f64,
}

impl Piece {
    pub(crate) fn end(&self) -> OffsetDateTime {
        self.start + Duration::seconds_f64(self.duration)
    }
}

/// A stretch of the asked window no segment covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Hole {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

#[derive(serde::Deserialize)]
struct SegmentLine {
    file: String,
    #[serde(with = "time::serde::rfc3339")]
    start: OffsetDateTime,
    duration: f64,
}

#[derive(serde::Deserialize)]
struct RemovedLine {
    #[serde(alias = "deleted", alias = "rolled")]
    gone: String,
}

/// The segments of the ledger `text` that overlap `[since, until]` and
/// were not deleted, oldest first, each once.
pub(crate) fn pieces(text: &str, since: OffsetDateTime, until: OffsetDateTime) -> Vec<Piece> {
    let mut removed = HashSet::new();
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for line in text.lines() {
        if let Ok(r) = serde_json::from_str::<RemovedLine>(line) {
            removed.insert(r.gone);
        } else if let Ok(s) = serde_json::from_str::<SegmentLine>(line) {
            let piece = Piece {
                file: s.file,
                start: s.start,
                duration: s.duration,
            };
            if piece.start < until && piece.end() > since && seen.insert(piece.file.clone()) {
                found.push(piece);
            }
        }
    }
    found.retain(|p| !removed.contains(&p.file));
    found.sort_by_key(|p| p.start);
    found
}

/// The holes longer than `tolerance` in what `pieces` (in time order)
/// cover of `[since, until]`.
pub(crate) fn holes(
    pieces: &[Piece],
    since: OffsetDateTime,
    until: OffsetDateTime,
    tolerance: Duration,
) -> Vec<Hole> {
    let mut holes = Vec::new();
    let mut covered_to = since;
    for p in pieces {
        if p.start - covered_to > tolerance {
            holes.push(Hole {
                from: covered_to,
                to: p.start,
            });
        }
        covered_to = covered_to.max(p.end());
    }
    if until - covered_to > tolerance {
        holes.push(Hole {
            from: covered_to,
            to: until,
        });
    }
    holes
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);

    fn at(s: i64) -> OffsetDateTime {
        T0 + Duration::seconds(s)
    }

    fn line(s: i64) -> String {
        format!(
            "{{\"file\":\"/r/{s}.mp4\",\"start\":\"{}\",\"duration\":1.0,\"size\":5}}",
            at(s)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        )
    }

    #[test]
    fn deleted_rolled_and_repeated_lines_are_left_out() {
        let mut text = String::new();
        for s in 0..10 {
            text += &line(s);
            text += "\n";
        }
        text += "{\"rolled\":\"/r/2.mp4\",\"at\":\"x\"}\n{\"gone\":\"/r/3.mp4\"}\n";
        text += "{\"requeued\":\"/r/5.mp4\",\"start\":\"2026-11-24T10:00:05Z\",\"size\":5}\n";
        text += &line(5);
        text += "\nnot json\n";
        let got = pieces(&text, at(1), at(7));
        let files: Vec<_> = got.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(
            files,
            ["/r/1.mp4", "/r/4.mp4", "/r/5.mp4", "/r/6.mp4"],
            "segments ending at or before `since` are outside"
        );
        let h = holes(&got, at(1), at(8), Duration::milliseconds(500));
        assert_eq!(
            h,
            vec![
                Hole {
                    from: at(2),
                    to: at(4)
                },
                Hole {
                    from: at(7),
                    to: at(8)
                }
            ]
        );
    }
}
