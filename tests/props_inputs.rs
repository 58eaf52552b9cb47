//! Property tests for everything parsed from outside the process: MediaMTX's
//! variables, durations, the JSON config and the state file. Any input gives a
//! value or an error, never a panic; accepted values keep their promises.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use mediamtx_hook::{duration, mtx_env, policy::Policy, state::StateStore};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn path_names_never_panic_and_accepted_ones_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let raw = OsStr::from_bytes(&bytes);
        if let Ok(name) = mtx_env::validate_path_name(Some(raw), "MTX_PATH") {
            prop_assert!(!name.is_empty() && name.len() <= mtx_env::MAX_PATH_NAME);
            prop_assert!(!name.contains('/') && !name.contains(".."));
            prop_assert!(!name.chars().any(char::is_control));
            // Safe as a single file-name component.
            let joined = std::path::Path::new("/base").join(&name);
            prop_assert_eq!(joined.parent(), Some(std::path::Path::new("/base")));
        }
    }

    #[test]
    fn printable_path_names(name in "[a-zA-Z0-9_.-]{1,40}") {
        let r = mtx_env::validate_path_name(Some(OsStr::new(&name)), "MTX_PATH");
        let ok = !name.contains("..") && !name.starts_with('.');
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
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "hook-props-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
