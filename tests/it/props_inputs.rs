//! Property tests for everything parsed from outside the process: MediaMTX's
//! variables, durations, the JSON config, the state file, segment file names
//! (and the local-time reading of the start they name), and the command line.
//! Any input gives a value or an error, never a panic; accepted values keep
//! their promises.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use clap::Parser;
use mediamtx_hook::cli::{Cli, Command};
use mediamtx_hook::mediamtx::env as mtx_env;
use mediamtx_hook::policy::{duration, Policy};
use mediamtx_hook::recording::segments::{resolve_local, start_from_file_name};
use mediamtx_hook::state::StateStore;
use proptest::prelude::*;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Words the command line is built from: every subcommand and flag, and
/// values good and bad for them.
const WORDS: &[&str] = &[
    "run",
    "ready",
    "segment-complete",
    "record",
    "start",
    "stop",
    "snapshot",
    "status",
    "devices",
    "mediamtx-config",
    "completions",
    "man",
    "hold",
    "help",
    "--help",
    "-h",
    "--version",
    "--state-dir",
    "--config",
    "--device",
    "--input-format",
    "--size",
    "--fps",
    "--encoder",
    "--bitrate",
    "--ffmpeg",
    "--gap-tolerance",
    "--duration",
    "--timeout",
    "-o",
    "--output",
    "--reason",
    "--json",
    "--prometheus",
    "camera0",
    "testsrc",
    "/dev/video0",
    "1280x720",
    "0x0",
    "30",
    "-1",
    "4294967296",
    "auto",
    "copy",
    "libx264",
    "h264_v4l2m2m",
    "bash",
    "2M",
    "1.5s",
    "90m",
    "0s",
    "10",
    "",
    "--",
    "-",
    "x",
    "../etc",
    "snap.jpg",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn path_names_never_panic_and_accepted_ones_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let raw = OsStr::from_bytes(&bytes);
        if let Ok(name) = mtx_env::validate_path_name(Some(raw), "MTX_PATH") {
            prop_assert!(!name.is_empty() && name.len() <= mtx_env::MAX_PATH_NAME);
            // MediaMTX's characters only; '/' only between non-empty
            // segments, none of them '.', '..' or hidden.
            prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b)));
            prop_assert!(!name.contains("//") && !name.contains("/.") && !name.starts_with(['/', '.']) && !name.ends_with('/'));
            // Stays under a base directory whatever it is joined to.
            let joined = std::path::Path::new("/base").join(&name);
            prop_assert!(joined.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_))));
            prop_assert!(joined.starts_with("/base"));
        }
    }

    #[test]
    fn printable_path_names(name in "[a-zA-Z0-9_./-]{1,40}") {
        let r = mtx_env::validate_path_name(Some(OsStr::new(&name)), "MTX_PATH");
        let ok = name.split('/').all(|seg| !seg.is_empty() && !seg.starts_with('.'));
        prop_assert_eq!(r.is_ok(), ok, "{}", name);
    }

    #[test]
    fn ports_never_panic(s in "\\PC{0,8}") {
        if let Ok(p) = mtx_env::validate_port(Some(OsStr::new(&s)), "RTSP_PORT") {
            prop_assert!(p > 0);
            prop_assert_eq!(s.parse::<u16>().ok(), Some(p));
        }
    }

    #[test]
    fn segment_durations_never_panic(s in "[0-9.eE+-]{0,12}|\\PC{0,12}") {
        if let Ok(d) = mtx_env::validate_segment_duration(Some(OsStr::new(&s))) {
            prop_assert!(d.is_finite() && d >= 0.0);
        }
    }

    #[test]
    fn durations_never_panic(s in "\\PC{0,20}") {
        if let Ok(d) = duration::parse(&s) {
            prop_assert!(d.as_secs() <= 365 * 86400);
        }
    }

    #[test]
    fn durations_round_trip_through_mediamtx_format(ms in 1u64..10_000_000) {
        let d = std::time::Duration::from_millis(ms);
        let text = duration::format_mediamtx(d);
        prop_assert_eq!(duration::parse(&text).unwrap(), d);
    }

    #[test]
    fn config_json_never_panics(s in "\\PC{0,200}") {
        let _ = Policy::from_json(&s, "prop");
    }

    #[test]
    fn config_structured_values(close in "[0-9]{1,4}(ms|s|m|h)?", key in "[a-z_]{1,14}") {
        let text = format!(r#"{{"viewing":{{"close_after":"{close}"}},"restart":{{"{key}":"1s"}}}}"#);
        if let Ok(p) = Policy::from_json(&text, "prop") {
            prop_assert!(p.viewing.close_after.0 > std::time::Duration::ZERO);
            prop_assert!(p.validate().is_ok());
        }
    }

    #[test]
    fn state_file_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempdir();
        std::fs::write(dir.join("state.json"), &bytes).unwrap();
        let store = StateStore::new(&dir);
        // A value or an error, never a panic; a corrupt file is set aside.
        if let Ok(state) = store.read() {
            prop_assert!(state.schema_version <= mediamtx_hook::state::SCHEMA_VERSION);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn segment_file_names_never_panic(name in "\\PC{0,40}|[0-9_~.-]{20,32}(mp4|ts)?") {
        let _ = start_from_file_name(&name);
    }

    #[test]
    fn segment_file_names_round_trip(
        year in 0i32..=9999, month in 1u8..=12, day in 1u8..=31,
        hour in 0u8..24, minute in 0u8..60, second in 0u8..60, micro in 0u32..1_000_000,
        taken in proptest::option::of(0u32..1000), ts in any::<bool>(),
    ) {
        let name = format!(
            "{year:04}-{month:02}-{day:02}_{hour:02}-{minute:02}-{second:02}-{micro:06}{}{}",
            taken.map(|n| format!("~{n}")).unwrap_or_default(),
            if ts { ".ts" } else { ".mp4" },
        );
        let date = Date::from_calendar_date(year, Month::try_from(month).unwrap(), day);
        let parsed = start_from_file_name(&name);
        match date {
            // A day that does not exist (31 April, 29 February of most years).
            Err(_) => prop_assert_eq!(parsed, None, "{}", name),
            Ok(date) => {
                let time = Time::from_hms_micro(hour, minute, second, micro).unwrap();
                prop_assert_eq!(parsed, Some(PrimitiveDateTime::new(date, time)), "{}", name);
            }
        }
        // Not MediaMTX's pattern once a character is off.
        prop_assert_eq!(start_from_file_name(&name.replacen('_', "-", 1)), None);
        prop_assert_eq!(start_from_file_name(&format!("{name}.part")), None);
    }

    #[test]
    fn local_start_is_read_without_panic_for_any_date_and_offset(
        year in 0i32..=9999, ordinal in 1u16..=365, secs in 0u32..86400,
        west in -86_399i32..=86_399, east in -86_399i32..=86_399,
        switch in any::<i64>(), duration in 0.0f64..=604_800.0, mtime_shift in any::<i32>(),
    ) {
        let date = Date::from_ordinal_date(year, ordinal).unwrap();
        let time = Time::from_hms((secs / 3600) as u8, (secs / 60 % 60) as u8, (secs % 60) as u8).unwrap();
        let local = PrimitiveDateTime::new(date, time);
        // A zone with one offset change at an arbitrary instant.
        let (a, b) = (UtcOffset::from_whole_seconds(west).unwrap(), UtcOffset::from_whole_seconds(east).unwrap());
        let offset_at = |t: OffsetDateTime| Some(if t.unix_timestamp() < switch { a } else { b });
        let mtime = OffsetDateTime::from_unix_timestamp(
            local.assume_utc().unix_timestamp().saturating_add(i64::from(mtime_shift)),
        ).ok();
        if let Some(t) = resolve_local(local, duration, mtime, offset_at) {
            // The instant read is the local time under one of the zone's offsets.
            prop_assert!(t.offset() == a || t.offset() == b);
            prop_assert_eq!(PrimitiveDateTime::new(t.date(), t.time()), local);
        }
    }

    #[test]
    fn command_lines_never_panic(
        words in proptest::collection::vec(proptest::sample::select(WORDS), 0..8),
        junk in proptest::collection::vec("\\PC{0,12}", 0..3),
    ) {
        let mut argv = vec!["hook".to_string()];
        argv.extend(words.iter().map(|w| w.to_string()));
        argv.extend(junk);
        if let Ok(cli) = Cli::try_parse_from(&argv) {
            // What clap accepted holds together.
            match &cli.command {
                Command::Run(args) => {
                    prop_assert!(args.device.fps.is_none_or(|f| argv.contains(&f.to_string())));
                }
                Command::Status(args) => prop_assert!(!(args.json && args.prometheus)),
                Command::SegmentComplete(args) => {
                    if let Some(d) = args.gap_tolerance {
                        prop_assert!(duration::parse(&d.to_string()).is_ok());
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn flag_values_are_checked(value in "\\PC{0,12}") {
        let dur = Cli::try_parse_from(["hook", "segment-complete", "--gap-tolerance", &value]);
        prop_assert_eq!(dur.is_ok(), duration::parse(&value).is_ok(), "{:?}", value);
        let fps = Cli::try_parse_from(["hook", "run", "--fps", &value]);
        let in_range = value.parse::<u32>().is_ok_and(|n| (1..=1000).contains(&n));
        prop_assert_eq!(fps.is_ok(), in_range, "{:?}", value);
        let enc = Cli::try_parse_from(["hook", "run", "--encoder", &value]);
        let known = ["auto", "copy", "libx264", "h264_v4l2m2m"].contains(&value.as_str());
        prop_assert_eq!(enc.is_ok(), known, "{:?}", value);
    }
}

#[test]
fn segment_names_at_the_ends_of_the_calendar_do_not_panic() {
    for name in [
        "9999-12-31_23-59-59-999999.mp4",
        "0000-01-01_00-00-00-000000.mp4",
        "9999-12-31_23-59-59-999999~7.ts",
    ] {
        let local = start_from_file_name(name).expect(name);
        let far = |_| Some(UtcOffset::from_hms(-23, -59, -59).unwrap());
        let _ = resolve_local(local, 604_800.0, None, far);
        let near = |_| Some(UtcOffset::from_hms(23, 59, 59).unwrap());
        let _ = resolve_local(local, 0.0, Some(OffsetDateTime::UNIX_EPOCH), near);
    }
}

/// A new directory, removed by the test itself.
fn tempdir() -> std::path::PathBuf {
    tempfile::Builder::new()
        .prefix("hook-props-")
        .tempdir()
        .unwrap()
        .keep()
}

#[test]
fn segment_complete_takes_files_named_at_the_ends_of_the_calendar() {
    let dir = tempdir();
    for (n, name) in [
        "9999-12-31_23-59-59-999999.mp4",
        "0000-01-01_00-00-00-000000.mp4",
        "2026-02-29_10-00-00-000000.mp4",
    ]
    .iter()
    .enumerate()
    {
        let file = dir.join(name);
        std::fs::write(&file, b"x").unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hook"))
            .arg("segment-complete")
            .env("MTX_PATH", format!("cam{n}"))
            .env("MTX_SEGMENT_PATH", &file)
            .env("MTX_SEGMENT_DURATION", "604800")
            .env("HOOK_STATE_DIR", dir.join("state"))
            .env_remove("HOOK_CONFIG")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {err}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hook"))
        .args(["status", "--json"])
        .env("HOOK_STATE_DIR", dir.join("state"))
        .env_remove("HOOK_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for n in 0..3 {
        assert_eq!(json["paths"][format!("cam{n}")]["segments"]["count"], 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
