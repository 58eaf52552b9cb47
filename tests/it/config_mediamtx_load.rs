//! The generated configuration as the real MediaMTX reads it: its values
//! come back unchanged through MediaMTX's own Control API, and the rules
//! the policy enforces are MediaMTX's (it refuses the same files).
//!
//! Needs a MediaMTX binary named by `MEDIAMTX_BIN`:
//! `MEDIAMTX_BIN=/path/to/mediamtx cargo test --test it -- --ignored real_mediamtx`.

use crate::support::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

fn mediamtx_bin() -> PathBuf {
    PathBuf::from(
        std::env::var_os("MEDIAMTX_BIN")
            .expect("MEDIAMTX_BIN names a MediaMTX binary (this test is run with --ignored)"),
    )
}

/// Top-level settings: the API on a free loopback port, RTSP on another,
/// everything else off.
fn globals(api: u16, rtsp: u16) -> String {
    format!(
        "logLevel: info
api: true
apiAddress: 127.0.0.1:{api}
rtsp: true
rtspAddress: 127.0.0.1:{rtsp}
rtspTransports: [tcp]
hls: false
webrtc: false
rtmp: false
srt: false
moq: false
playback: false
metrics: false
pprof: false
"
    )
}

struct Mtx(Child);

impl Drop for Mtx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, yaml: &str) -> Mtx {
    let conf = dir.join("mediamtx.yml");
    std::fs::write(&conf, yaml).unwrap();
    Mtx(Command::new(mediamtx_bin())
        .arg(&conf)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("MediaMTX starts"))
}

/// GET on MediaMTX's API; the status code and the JSON body.
fn get(port: u16, target: &str) -> Option<(u16, serde_json::Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    // Chunked or not, the JSON object is between the first '{' and the last '}'.
    let json = &body[body.find('{')?..=body.rfind('}')?];
    Some((code, serde_json::from_str(json).ok()?))
}

fn generate(dir: &Path, policy: &str, devices: &[&str]) -> String {
    let cfg = write_config(dir, policy);
    let mut c = hook_command(dir);
    c.env("HOOK_CONFIG", &cfg).arg("mediamtx-config");
    for d in devices {
        c.args(["--device", d]);
    }
    let (code, out, err) = run_to_end(c, Duration::from_secs(10));
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
#[ignore = "needs a real MediaMTX named by MEDIAMTX_BIN"]
fn real_mediamtx_reads_the_generated_values_unchanged() {
    let dir = TempDir::new("mtx-load");
    let record_path = r#"./rec "q" #h: é 'x'/%path/%Y-%m-%d_%H-%M-%S-%f"#;
    let policy = serde_json::json!({
        "viewing": {"close_after": "1.5s", "start_timeout": "12500ms"},
        "recording": {"segment_duration": "10m", "delete_after": "36h", "record_path": record_path}
    })
    .to_string();
    let generated = generate(dir.path(), &policy, &["/dev/video0", "testsrc"]);
    let (api, rtsp) = (free_port(), free_port());
    let yaml = format!(
        "{}{}  site1/camera0:\n    record: false\n",
        globals(api, rtsp),
        &generated[generated.find("\npaths:\n").unwrap() + 1..]
    );
    let mut mtx = start(dir.path(), &yaml);
    let mut conf = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            conf = get(api, "/v3/config/paths/get/camera0").filter(|(c, _)| *c == 200);
            conf.is_some() || mtx.0.try_wait().unwrap().is_some()
        }),
        "MediaMTX's API answers"
    );
    let Some((_, camera0)) = conf else {
        let out = mtx.wait_with_output_ref();
        panic!("MediaMTX refused the generated file:\n{out}\n{yaml}");
    };
    assert_eq!(camera0["recordPath"], record_path, "{camera0}");
    assert_eq!(camera0["recordDeleteAfter"], "1d12h0m0s", "{camera0}");
    assert_eq!(camera0["recordSegmentDuration"], "10m0s", "{camera0}");
    assert_eq!(camera0["runOnDemandCloseAfter"], "1.5s", "{camera0}");
    assert_eq!(camera0["runOnDemandStartTimeout"], "12.5s", "{camera0}");
    assert_eq!(camera0["runOnDemand"], "hook run --device /dev/video0");
    assert_eq!(
        camera0["runOnRecordSegmentComplete"],
        "hook segment-complete"
    );
    let (code, testsrc) = get(api, "/v3/config/paths/get/testsrc").unwrap();
    assert_eq!(code, 200);
    assert_eq!(testsrc["recordPath"], record_path);
    // A path name with '/' is MediaMTX's, and the hook accepts it too.
    let (code, nested) = get(api, "/v3/config/paths/get/site1/camera0").unwrap();
    assert_eq!(code, 200, "{nested}");
    assert_eq!(nested["name"], "site1/camera0");
    let mut c = hook_command(dir.path());
    c.env("HOOK_MTX_API", format!("http://127.0.0.1:{api}"))
        .args(["status", "site1/camera0"]);
    let (code, _, err) = run_to_end(c, Duration::from_secs(10));
    assert_eq!(code, 1, "a valid name, not known yet: {err}");
    assert!(err.contains("no path \"site1/camera0\""), "{err}");
}

/// What the policy refuses, MediaMTX refuses too: the same values written
/// straight into mediamtx.yml make it exit at load.
#[test]
#[ignore = "needs a real MediaMTX named by MEDIAMTX_BIN"]
fn real_mediamtx_refuses_what_the_policy_refuses() {
    for (entry, policy, mtx_says) in [
        (
            "recordPath: ./rec/%Y-%m-%d_%H-%M-%S-%f",
            r#"{"recording":{"record_path":"./rec/%Y-%m-%d_%H-%M-%S-%f"}}"#,
            "'recordPath' must contain %path",
        ),
        (
            "recordPath: ./rec/%path/%Y-%m-%d_%H-%M-%f",
            r#"{"recording":{"record_path":"./rec/%path/%Y-%m-%d_%H-%M-%f"}}"#,
            "must contain either %s or %Y %m %d %H %M %S",
        ),
        (
            "recordSegmentDuration: 2h\n    recordDeleteAfter: 1h",
            r#"{"recording":{"segment_duration":"2h","delete_after":"1h"}}"#,
            "'recordDeleteAfter' cannot be lower than 'recordSegmentDuration'",
        ),
        (
            "recordSegmentDuration: 25h\n    recordDeleteAfter: 0s",
            r#"{"recording":{"segment_duration":"25h","delete_after":"0s"}}"#,
            "maximum segment duration is 1 day",
        ),
    ] {
        let dir = TempDir::new("mtx-refuse");
        let yaml = format!(
            "{}paths:\n  cam0:\n    {entry}\n",
            globals(free_port(), free_port())
        );
        let mtx = start(dir.path(), &yaml);
        let out = mtx.wait_for_exit(Duration::from_secs(20));
        assert!(out.contains(mtx_says), "{entry}: {out}");

        let cfg = write_config(dir.path(), policy);
        let mut c = hook_command(dir.path());
        c.env("HOOK_CONFIG", &cfg)
            .args(["mediamtx-config", "--device", "/dev/video0"]);
        let (code, _, err) = run_to_end(c, Duration::from_secs(10));
        assert_eq!(code, 2, "{policy}: {err}");
    }
    // Path names MediaMTX refuses, the hook refuses (it also refuses empty
    // and hidden segments, `a//b` and `a/.b`, which MediaMTX lets through).
    for bad in ["cam 0", "/a", "a/", "a/../b", "cam?0", "caméra"] {
        let dir = TempDir::new("mtx-refuse-name");
        let mut c = hook_command(dir.path());
        c.args(["status", bad]);
        let (code, _, err) = run_to_end(c, Duration::from_secs(10));
        assert_eq!(code, 2, "{bad:?}: {err}");
        let yaml = format!(
            "{}paths:\n  \"{bad}\":\n    record: false\n",
            globals(free_port(), free_port())
        );
        let out = start(dir.path(), &yaml).wait_for_exit(Duration::from_secs(20));
        assert!(
            out.contains(&format!("invalid path name '{bad}'")),
            "{bad:?}: {out}"
        );
    }
}

impl Mtx {
    /// Waits for MediaMTX to exit (it must, refusing its file); its output.
    fn wait_for_exit(mut self, limit: Duration) -> String {
        let status = wait_timeout(&mut self.0, limit);
        let out = self.wait_with_output_ref();
        assert!(
            status.is_some_and(|s| !s.success()),
            "MediaMTX exits with an error: {out}"
        );
        out
    }

    fn wait_with_output_ref(&mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut text = String::new();
        if let Some(mut o) = self.0.stdout.take() {
            let _ = o.read_to_string(&mut text);
        }
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut text);
        }
        text
    }
}
