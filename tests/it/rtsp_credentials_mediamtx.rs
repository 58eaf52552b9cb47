//! RTSP credentials against the real MediaMTX (`MEDIAMTX_BIN`), configured to
//! require a user and password for publish and read from 127.0.0.1: `hook
//! run --device testsrc` publishes through the credential relay, an ffprobe
//! with the credentials sees the stream, the native reader and the FFmpeg
//! hold reader read it, a wrong password is a clear error, and the password
//! shows in no command line and no log line.

use crate::support::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const USER: &str = "camuser";
const PASS: &str = "Mtx-S3cret-pw";
const IGNORE_WHY: &str =
    "needs a real MediaMTX: MEDIAMTX_BIN=/path/to/mediamtx cargo test --test it -- --ignored real_";

struct Mtx {
    child: Child,
    rtsp: u16,
    api: u16,
    log: PathBuf,
}

impl Drop for Mtx {
    fn drop(&mut self) {
        kill_pid(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
    }
}

fn start_mediamtx(dir: &Path, methods: &str) -> Mtx {
    let bin = std::env::var_os("MEDIAMTX_BIN").unwrap_or_else(|| panic!("{IGNORE_WHY}"));
    let (rtsp, api) = (free_port(), free_port());
    let rec = dir.join("recordings");
    let conf = dir.join("mediamtx.yml");
    std::fs::write(
        &conf,
        format!(
            r#"logLevel: debug
rtspAddress: 127.0.0.1:{rtsp}
rtspTransports: [tcp]
rtspAuthMethods: [{methods}]
rtmp: no
hls: no
webrtc: no
srt: no
moq: no
api: yes
apiAddress: 127.0.0.1:{api}
authInternalUsers:
  - user: {USER}
    pass: {PASS}
    ips: ['127.0.0.1']
    permissions:
      - action: publish
      - action: read
  - user: any
    pass:
    ips: ['127.0.0.1', '::1']
    permissions:
      - action: api
paths:
  cam0:
    record: no
    recordPath: {}/%path/%Y-%m-%d_%H-%M-%S-%f
"#,
            rec.display()
        ),
    )
    .unwrap();
    let log = dir.join("mediamtx.log");
    let child = Command::new(bin)
        .arg(&conf)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_until(Duration::from_secs(15), || {
        std::net::TcpStream::connect(("127.0.0.1", rtsp)).is_ok()
    });
    assert!(
        up,
        "MediaMTX never listened: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Mtx {
        child,
        rtsp,
        api,
        log,
    }
}

fn no_process_shows_the_password() {
    // The viewers these tests start themselves (`ffprobe` with the login in
    // its URL, as a person's player would have it) are not the hook's; the
    // two tests of this file run side by side and share the password. The
    // hook never runs ffprobe.
    let shown: Vec<ProcInfo> = processes()
        .into_iter()
        .filter(|p| p.cmdline.contains(PASS) && !p.cmdline.starts_with("ffprobe "))
        .collect();
    assert!(shown.is_empty(), "password in a command line: {shown:?}");
}

fn ffprobe_sees(port: u16, user: &str, pass: &str) -> (bool, String) {
    // The test's own ffprobe takes the credentials in its URL, as a viewer would.
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-show_streams",
            "-i",
        ])
        .arg(format!("rtsp://{user}:{pass}@127.0.0.1:{port}/cam0"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (
        out.status.success() && text.contains("codec_name=h264"),
        text,
    )
}

fn everything_with(methods: &str, tag: &str) {
    let dir = TempDir::new(tag);
    let state = dir.join("state");
    let mtx = start_mediamtx(dir.path(), methods);

    // The publisher.
    let hook_log = dir.join("run.log");
    let mut run = mediamtx_command(&state, "cam0", mtx.rtsp);
    run.args(["run", "--device", "testsrc"])
        .env("HOOK_RTSP_USER", USER)
        .env("HOOK_RTSP_PASS", PASS)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&hook_log).unwrap());
    let mut run = run.spawn().unwrap();
    let run_pid = run.id();
    let log_of = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut probe = (false, String::new());
    let seen = wait_until(Duration::from_secs(30), || {
        probe = ffprobe_sees(mtx.rtsp, USER, PASS);
        probe.0
    });
    assert!(
        seen,
        "ffprobe never saw the stream: {}\nhook: {}\nmediamtx: {}",
        probe.1,
        log_of(&hook_log),
        log_of(&mtx.log)
    );
    let (bad, text) = ffprobe_sees(mtx.rtsp, USER, "not-the-password");
    assert!(!bad, "MediaMTX must refuse a wrong password: {text}");
    no_process_shows_the_password();

    // The native reader reads with the credentials…
    let mut reader = Command::new(hook_bin());
    reader
        .arg("rtsp-read")
        .arg(format!("rtsp://127.0.0.1:{}/cam0", mtx.rtsp))
        .env("HOOK_RTSP_USER", USER)
        .env("HOOK_RTSP_PASS", PASS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let reader = reader.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    no_process_shows_the_password();
    kill_pid(reader.id(), libc::SIGINT);
    let out = reader.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let frames = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("frame="))
        .filter_map(|v| v.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    assert!(
        frames >= 10,
        "native reader frames {frames}: {stdout}{stderr}"
    );

    // …and is refused with a clear error for a wrong password (MediaMTX
    // may wait before answering).
    let mut wrong = Command::new(hook_bin());
    wrong
        .arg("rtsp-read")
        .arg(format!("rtsp://127.0.0.1:{}/cam0", mtx.rtsp))
        .env("HOOK_RTSP_USER", USER)
        .env("HOOK_RTSP_PASS", "not-the-password");
    let (code, _, err) = run_to_end(wrong, Duration::from_secs(30));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("MediaMTX refused the credentials in HOOK_RTSP_USER/HOOK_RTSP_PASS"),
        "{err}"
    );
    assert!(!err.contains("not-the-password"), "{err}");

    // A recording session's hold reads with the native reader, which logs
    // in itself: straight to MediaMTX, not through the publisher's relay.
    let cfg = write_config(
        dir.path(),
        r#"{"recording": {"hold_check_interval": "300ms"}}"#,
    );
    let record = |what: &str| {
        let mut c = hook_command(&state);
        c.env("HOOK_CONFIG", &cfg)
            .env("HOOK_MTX_API", format!("http://127.0.0.1:{}", mtx.api))
            .env("RTSP_PORT", mtx.rtsp.to_string())
            .env("HOOK_RTSP_USER", USER)
            .env("HOOK_RTSP_PASS", PASS)
            .env("RUST_LOG", "debug")
            .args(["record", what, "cam0"]);
        run_to_end(c, Duration::from_secs(40))
    };
    let (code, out, err) = record("start");
    assert_eq!(code, 0, "{out}{err}\nmediamtx: {}", log_of(&mtx.log));
    let rec = path_state(&state, "cam0")["recording"].clone();
    assert_eq!(rec["hold"]["reading"], true, "{rec}");
    let hold = rec["session"]["hold_pid"].as_u64().unwrap() as u32;
    let readers = children_of(hold);
    assert_eq!(readers.len(), 1, "{readers:?}");
    assert!(
        readers[0]
            .cmdline
            .contains(&format!(" rtsp-read rtsp://127.0.0.1:{}/cam0", mtx.rtsp)),
        "the hold's native reader reads from MediaMTX itself: {}",
        readers[0].cmdline
    );
    assert!(
        !children_of(hold)
            .iter()
            .any(|p| p.cmdline.contains("ffmpeg")),
        "no FFmpeg under the hold"
    );
    no_process_shows_the_password();
    let (code, out, err) = record("stop");
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains(PASS) && !out.contains(PASS));

    kill_group(run_pid, libc::SIGINT);
    let status = wait_timeout(&mut run, Duration::from_secs(15)).expect("hook run stops");
    assert!(status.success(), "{status:?}");
    let text = log_of(&hook_log);
    assert!(!text.contains(PASS), "password in the log: {text}");
    assert!(text.contains("credential relay"), "{text}");
    // Nor in any file of the state directory (state, hold logs).
    let mut dirs = vec![state.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let t =
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()).into_owned();
                assert!(!t.contains(PASS), "password in {}", p.display());
            }
        }
    }
}

#[test]
#[ignore = "needs a real MediaMTX named by MEDIAMTX_BIN"]
fn real_basic_credentials_publish_and_read_through_mediamtx() {
    everything_with("basic", "mtx-basic");
}

#[test]
#[ignore = "needs a real MediaMTX named by MEDIAMTX_BIN"]
fn real_digest_credentials_publish_and_read_through_mediamtx() {
    everything_with("digest", "mtx-digest");
}
