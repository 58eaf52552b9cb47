//! What a real `hook run` passes on to its FFmpeg: descriptors the hook
//! inherited from whoever started it (MediaMTX leaks its own) stay behind,
//! the device lock goes along, and the credentials of the hook's
//! environment are removed while the rest of it is kept.

use crate::support::common;
use crate::support::run as run_support;

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::TempDir;
use run_support::{assert_nothing_left, fixture, Hook, HookOptions};

#[test]
fn ffmpeg_gets_the_lock_but_no_leaked_descriptor_and_no_secrets() {
    let path = "childenv";
    let dir = TempDir::new(path);
    let port = common::free_port();
    let _rtsp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let report = dir.join("report.txt");

    // A descriptor without close-on-exec, at a number nothing else takes:
    // the hook inherits it, as it inherits MediaMTX's. This is the only test
    // in this binary, so no other child sees it.
    let marker = dir.join("leaked-by-mediamtx");
    let file = std::fs::File::create(&marker).unwrap();
    // SAFETY: F_DUPFD on a descriptor we own; the copy is closed below.
    let leaked = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD, 300) };
    assert!(leaked >= 300);
    // Only this test's children read these (see above).
    std::env::set_var("HOOK_TEST_REPORT", &report);
    std::env::set_var("HOOK_MTX_API_USER", "apiuser");
    std::env::set_var("HOOK_MTX_API_PASS", "api-s3cret");
    let opts = HookOptions::testsrc(path, port).ffmpeg(&fixture("ffmpeg-reports.sh"));
    let mut hook = Hook::start(&dir, opts);
    // SAFETY: closing our own copy; the hook has its own.
    unsafe { libc::close(leaked) };
    std::env::remove_var("HOOK_MTX_API_PASS");

    assert!(
        hook.wait_phase("running", Duration::from_secs(20)),
        "not running: {}",
        hook.log()
    );
    // The premise: the hook itself did inherit the leaked descriptor.
    let hook_fd = std::fs::read_link(format!("/proc/{}/fd/{leaked}", hook.pid)).unwrap();
    assert_eq!(hook_fd, marker);

    assert!(common::wait_until(Duration::from_secs(10), || report.exists()));
    let text = std::fs::read_to_string(&report).unwrap();
    let (fds, env) = text.split_once("--- env\n").unwrap();
    assert!(
        !fds.contains("leaked-by-mediamtx"),
        "FFmpeg inherited the leaked descriptor:\n{fds}"
    );
    assert!(
        fds.contains(&format!("testsrc-{path}.lock")),
        "FFmpeg must hold the device lock:\n{fds}"
    );
    assert!(!env.contains("api-s3cret"), "{env}");
    assert!(!env.contains("HOOK_MTX_API_USER"), "{env}");
    assert!(
        env.contains(&format!("HOOK_TEST_REPORT={}", report.display())),
        "{env}"
    );
    assert!(env.contains(&format!("MTX_PATH={path}")), "{env}");

    let (status, _) = hook
        .signal_group_and_wait(libc::SIGINT, Duration::from_secs(10))
        .expect("hook stops on SIGINT");
    assert!(status.success(), "{status:?}: {}", hook.log());
    assert_nothing_left(&hook);
    drop(file);
}
