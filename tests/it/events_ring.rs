//! Armed paths fed segment by segment, as MediaMTX's recorder would report
//! them (`hook segment-complete` with files named by their start): the ring
//! stays within the pre-roll plus one segment over hundreds of segments,
//! each deletion a `rolled` ledger line; events keep their pre-roll and
//! post-roll, re-triggers extend them, a later event overlaps an earlier
//! one's post-roll; `hook clip` joins real MP4 segments that ffprobe reads
//! back whole. The stream is held through the stand-in (a real RTSP server).

use crate::support::common::*;
use crate::support::standin::{Options, Standin};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use time::OffsetDateTime;

const POLICY: &str = r#"{
    "recording": {"hold_check_interval": "500ms", "gap_tolerance": "300ms"},
    "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"},
    "events": {"segment_duration": "1s"}
}"#;

struct Armed {
    policy: &'static str,
    dir: TempDir,
    server: Standin,
    path: String,
    recordings: PathBuf,
}

impl Armed {
    fn new(tag: &str, path: &str, pre: &str, post: &str) -> Armed {
        Armed::with_policy(POLICY, tag, path, pre, post)
    }

    fn with_policy(policy: &'static str, tag: &str, path: &str, pre: &str, post: &str) -> Armed {
        let dir = TempDir::new(tag);
        let server = Standin::start(dir.path(), Options::both(path));
        let recordings = dir.join("recordings");
        std::fs::create_dir_all(&recordings).unwrap();
        let a = Armed {
            policy,
            dir,
            server,
            path: path.to_string(),
            recordings,
        };
        let (code, out, err) = a.hook(&["record", "arm", path, "--pre", pre, "--post", post]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("armed: pre-roll"), "{out}");
        a
    }

    fn hook(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = self.server.hook(&self.dir, self.policy);
        c.args(args).env("TZ", "UTC");
        run_to_end(c, Duration::from_secs(30))
    }

    fn state(&self) -> serde_json::Value {
        path_state(&self.dir.join("state"), &self.path)
    }

    /// Reports a finished segment of `secs` that started at `start`; the
    /// file holds `bytes` (or the MP4 at `content`).
    fn complete(&self, start: OffsetDateTime, secs: f64, content: Option<&Path>) -> PathBuf {
        let file = self.recordings.join(name_for(start));
        match content {
            Some(src) => {
                std::fs::copy(src, &file).unwrap();
            }
            None => std::fs::write(&file, vec![7u8; 1000]).unwrap(),
        }
        let mut c = mediamtx_command(&self.dir.join("state"), &self.path, self.server.rtsp_port);
        c.arg("segment-complete")
            .env("MTX_SEGMENT_PATH", &file)
            .env("MTX_SEGMENT_DURATION", format!("{secs}"))
            .env("HOOK_CONFIG", self.dir.join("hook-config.json"))
            .env("HOOK_MTX_API", self.server.api_url())
            .env("TZ", "UTC")
            .env("RUST_LOG", "info");
        let (code, _, err) = run_to_end(c, Duration::from_secs(10));
        assert_eq!(code, 0, "{err}");
        file
    }

    fn ledger(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(
            self.dir
                .join("state/ledger")
                .join(format!("{}.jsonl", self.path)),
        )
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
    }

    fn on_disk(&self) -> usize {
        std::fs::read_dir(&self.recordings).unwrap().count()
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        let _ = self.hook(&["stop", &self.path.clone()]);
    }
}

/// MediaMTX's segment name for a start (UTC here).
fn name_for(t: OffsetDateTime) -> String {
    segment_name(time::PrimitiveDateTime::new(t.date(), t.time()))
}

fn secs(n: f64) -> time::Duration {
    time::Duration::seconds_f64(n)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn time_of(v: &serde_json::Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("a time: {v}")),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

#[test]
fn the_ring_stays_within_the_pre_roll_over_hundreds_of_segments() {
    let a = Armed::new("ev-ring", "ring0", "3s", "1s");
    let armed = a.state()["armed"].clone();
    assert_eq!(armed["pre_ms"], 3000, "{armed}");
    assert_eq!(armed["segment_duration"], "1s", "{armed}");
    // MediaMTX was told both record settings in one PATCH.
    let patch = a
        .server
        .requests()
        .into_iter()
        .find(|r| r["method"] == "PATCH")
        .unwrap();
    assert_eq!(patch["body"]["record"], true, "{patch}");
    assert_eq!(patch["body"]["recordSegmentDuration"], "1s", "{patch}");

    // 300 one-second segments, the newest ending now: 0.3 s per segment of
    // our time, so the older ones have ended long before the pre-roll.
    let n = 300;
    let base = now() - secs(n as f64);
    let mut max_on_disk = 0;
    for i in 0..n {
        a.complete(base + secs(i as f64), 1.0, None);
        max_on_disk = max_on_disk.max(a.on_disk());
    }
    let p = a.state();
    let ring = p["armed"]["ring"].as_array().unwrap().len();
    // Segments ending within the last 3 s (+ the one that straddles it).
    assert!(ring <= 4, "ring of {ring}: {}", p["armed"]);
    assert!(
        max_on_disk <= 5,
        "at most pre-roll + one segment on disk, saw {max_on_disk}"
    );
    assert_eq!(a.on_disk(), ring);
    assert_eq!(p["armed"]["rolled"], (n - ring) as u64);
    assert_eq!(p["segments"]["count"], n as u64);
    assert_eq!(p["segments"]["gone"], 0, "rolled segments are not gone");
    assert_eq!(p["segments"]["kept"], 0, "nothing kept without an event");
    assert_eq!(p["segments"]["kept_bytes"], 0);
    let ledger = a.ledger();
    let rolled = ledger.iter().filter(|l| l.get("rolled").is_some()).count();
    assert_eq!(rolled, n - ring);
    assert!(ledger
        .iter()
        .filter(|l| l.get("rolled").is_some())
        .all(|l| l["reason"] == "pre-roll 3s"));
}

#[test]
fn events_keep_pre_and_post_roll_re_trigger_and_overlap() {
    let a = Armed::new("ev-events", "evt0", "4s", "2s");
    // Ten seconds of one-second segments up to now.
    let base = now() - secs(10.0);
    for i in 0..10 {
        a.complete(base + secs(i as f64), 1.0, None);
    }
    let (code, out, err) = a.hook(&[
        "record",
        "start",
        "evt0",
        "--duration",
        "2s",
        "--reason",
        "motion",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("event 1 until"), "{out}");
    let e = a.state()["events"][0].clone();
    assert_eq!(e["reason"], "motion");
    let at = time_of(&e["at"]);
    let achieved = (at - time_of(&e["kept_from"])).as_seconds_f64();
    // Asked 4 s; segments of 1 s start at whole seconds: within one segment.
    assert!(
        (4.0..=5.0).contains(&achieved),
        "achieved pre-roll {achieved}s: {e}"
    );
    assert!(out.contains("of pre-roll kept (4s asked"), "{out}");
    let kept_now = a.state()["segments"]["kept"].as_u64().unwrap();
    assert!((4..=5).contains(&kept_now), "{kept_now}");

    // A re-trigger while it lasts: the same event, later end.
    let (code, out, err) = a.hook(&[
        "record",
        "start",
        "evt0",
        "--duration",
        "3s",
        "--reason",
        "door",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("event 1 re-triggered"), "{out}");
    let e = a.state()["events"][0].clone();
    assert_eq!(e["retriggers"], 1);
    assert_eq!(e["reason"], "door");
    let until = time_of(&e["until"]);
    assert!(until - at >= secs(2.9), "{e}");
    assert_eq!(a.state()["events"].as_array().unwrap().len(), 1);

    // Segments through the event, its post-roll and beyond.
    let mut t = base + secs(10.0);
    while t < until + secs(6.0) {
        a.complete(t, 1.0, None);
        t += secs(1.0);
    }
    // Wait for the event to end, then a second event: its pre-roll
    // reaches back into the first one's post-roll.
    std::thread::sleep(
        ((until - now()).max(time::Duration::ZERO) + secs(0.2))
            .try_into()
            .unwrap(),
    );
    let (code, out, err) = a.hook(&["record", "start", "evt0", "--duration", "1s"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("event 2 until"), "{out}");
    let p = a.state();
    let (e1, e2) = (&p["events"][0], &p["events"][1]);
    let end1 = time_of(&e1["until"]) + secs(2.0);
    let start2 = time_of(&e2["at"]) - secs(4.0);
    assert!(start2 < end1, "the windows overlap: {e1} {e2}");

    // Every segment inside either window is still on disk; every one
    // outside both, and older than the pre-roll, was rolled.
    let windows = [
        (time_of(&e1["at"]) - secs(4.0), end1),
        (start2, time_of(&e2["until"]) + secs(2.0)),
    ];
    let horizon = now() - secs(4.0);
    for line in a.ledger().iter().filter(|l| l.get("file").is_some()) {
        let s = time_of(&line["start"]);
        let e = s + secs(line["duration"].as_f64().unwrap());
        let file = Path::new(line["file"].as_str().unwrap());
        let inside = windows.iter().any(|(from, to)| s < *to && e > *from);
        if inside {
            assert!(file.exists(), "{} is in an event's window", file.display());
        } else if e < horizon {
            assert!(!file.exists(), "{} is outside every window", file.display());
        }
    }
    let (code, out, err) = a.hook(&["status", "evt0"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("armed:"), "{out}");
    assert!(out.contains("event:        2: "), "{out}");
    let e2 = &a.state()["events"][1];
    let kept2 = (time_of(&e2["at"]) - time_of(&e2["kept_from"])).as_seconds_f64();
    assert!(
        (4.0..=5.0).contains(&kept2),
        "event 2 kept {kept2}s of pre-roll: {e2}"
    );
}

/// `n` one-second H.264 MP4 segments of FFmpeg's test pattern, a key
/// frame each second, as MediaMTX's segments start at key frames.
fn mp4_segments(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let file = dir.join(format!("src-{i}.mp4"));
            let status = Command::new("ffmpeg")
                .args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i"])
                .arg("testsrc=size=320x240:rate=25")
                .args([
                    "-t",
                    "1",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-g",
                    "25",
                ])
                .args(["-pix_fmt", "yuv420p", "-y"])
                .arg(&file)
                .status()
                .unwrap();
            assert!(status.success());
            file
        })
        .collect()
}

fn probe_duration(file: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "format=duration:stream=nb_read_frames",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let frames: f64 = v["streams"][0]["nb_read_frames"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let duration: f64 = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!(
        (frames / 25.0 - duration).abs() < 0.15,
        "every frame decodes: {v}"
    );
    duration
}

#[test]
fn a_clip_joins_an_events_segments_into_one_mp4_that_ffprobe_reads_whole() {
    let a = Armed::new("ev-clip", "clip0", "3s", "1s");
    let sources = mp4_segments(a.dir.path(), 8);
    let base = now() - secs(5.0);
    for (i, src) in sources.iter().take(5).enumerate() {
        a.complete(base + secs(i as f64), 1.0, Some(src));
    }
    let (code, _, err) = a.hook(&[
        "record",
        "start",
        "clip0",
        "--duration",
        "1s",
        "--reason",
        "doorbell",
    ]);
    assert_eq!(code, 0, "{err}");
    // Post-roll: two more segments, then one the window no longer covers.
    for (i, src) in sources.iter().enumerate().skip(5) {
        a.complete(base + secs(i as f64), 1.0, Some(src));
    }
    let e = a.state()["events"][0].clone();
    let end = time_of(&e["until"]) + secs(1.0);
    std::thread::sleep(
        ((end - now()).max(time::Duration::ZERO) + secs(0.1))
            .try_into()
            .unwrap(),
    );
    let kept: Vec<_> = a
        .ledger()
        .into_iter()
        .filter(|l| l.get("file").is_some())
        .filter(|l| {
            let s = time_of(&l["start"]);
            s < end && s + secs(1.0) > time_of(&e["at"]) - secs(3.0)
        })
        .collect();
    let out_file = a.dir.join("event.mp4");
    let (code, out, err) = a.hook(&[
        "clip",
        "clip0",
        "--event",
        "1",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{} segments covering", kept.len())),
        "{out}\n{kept:?}"
    );
    assert!(out.contains("no gaps"), "{out}");
    let d = probe_duration(&out_file);
    assert!(
        (d - kept.len() as f64).abs() < 0.2,
        "{d}s for {} segments",
        kept.len()
    );

    // A stretch by time with a segment missing: the gap is said.
    std::fs::remove_file(kept[1]["file"].as_str().unwrap()).unwrap();
    let since = kept[0]["start"].as_str().unwrap().to_string();
    let until = (time_of(&kept[kept.len() - 1]["start"]) + secs(1.0))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let gap_file = a.dir.join("stretch.mp4");
    let (code, out, err) = a.hook(&[
        "clip",
        "clip0",
        "--since",
        &since,
        "--until",
        &until,
        "-o",
        gap_file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 gap(s)"), "{out}");
    let d = probe_duration(&gap_file);
    assert!((d - (kept.len() - 1) as f64).abs() < 0.2, "{d}s");

    // -o is checked like a snapshot's: a directory is refused, exit 2.
    let (code, _, err) = a.hook(&[
        "clip",
        "clip0",
        "--event",
        "1",
        "-o",
        a.dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = a.hook(&["clip", "clip0", "--event", "9", "-o", "x.mp4"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no such event"), "{err}");
}

#[test]
fn the_disk_budget_deletes_the_ring_before_an_events_segments() {
    const SMALL: &str = r#"{
        "recording": {"hold_check_interval": "500ms", "max_size": "4500B"},
        "restart": {"initial_delay": "200ms", "max_delay": "1s", "grace": "2s"},
        "events": {"segment_duration": "1s"}
    }"#;
    let a = Armed::with_policy(SMALL, "ev-budget", "bud0", "3s", "0s");
    let base = now() - secs(3.0);
    let kept: Vec<_> = (0..3)
        .map(|i| a.complete(base + secs(i as f64), 1.0, None))
        .collect();
    let (code, _, err) = a.hook(&["record", "start", "bud0", "--duration", "1s"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(a.state()["segments"]["kept"], 3);
    std::thread::sleep(Duration::from_millis(1300));
    // Two segments after the event: the ring. 5000 bytes in all, over 4500.
    let t = now();
    let first = a.complete(t, 1.0, None);
    let second = a.complete(t + secs(1.0), 1.0, None);
    assert!(!first.exists(), "the ring's oldest goes first");
    assert!(second.exists(), "then the budget is met");
    for f in &kept {
        assert!(f.exists(), "the event's segment {} stays", f.display());
    }
    let line = a
        .ledger()
        .into_iter()
        .find(|l| l["rolled"] == first.to_str().unwrap())
        .expect("a rolled line");
    assert!(
        line["reason"].as_str().unwrap().starts_with("max_size"),
        "{line}"
    );
    assert_eq!(
        a.state()["segments"]["deleted"],
        0,
        "no kept segment deleted"
    );
}
