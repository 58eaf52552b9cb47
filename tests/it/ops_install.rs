//! scripts/install.sh, staged into a temporary directory (--destdir) with the
//! already built `hook` (--binary), so the tests never touch the machine:
//! what it installs, that a second run changes nothing, that an edited config
//! survives, and that --uninstall (and --purge) remove what it installed.

use crate::support::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh")
}

/// Runs install.sh with `args`, staged under `root`; returns (code, stdout+stderr).
fn install(root: &Path, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .arg("--destdir")
        .arg(root)
        .arg("--binary")
        .arg(hook_bin())
        .args(args)
        .env_remove("DESTDIR")
        .env_remove("HOOK_BIN");
    let (code, out, err) = run_to_end(cmd, Duration::from_secs(60));
    (code, format!("{out}{err}"))
}

/// Every file under `root` with its contents and mode.
fn tree(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    (
                        std::fs::read(&p).unwrap(),
                        meta.permissions().mode() & 0o7777,
                    ),
                );
            }
        }
    }
    out
}

const INSTALLED: &[&str] = &[
    "usr/local/bin/hook",
    "usr/local/share/man/man1/hook.1",
    "usr/local/share/bash-completion/completions/hook",
    "usr/local/share/zsh/site-functions/_hook",
    "usr/local/share/fish/vendor_completions.d/hook.fish",
    "usr/local/share/mediamtx-hook/mediamtx.yml",
    "usr/local/share/mediamtx-hook/hook.json",
    "usr/local/share/mediamtx-hook/alerts.yml",
    "usr/local/share/mediamtx-hook/alerts.test.yml",
    "usr/local/share/mediamtx-hook/grafana-dashboard.json",
    "usr/local/lib/systemd/system/mediamtx.service",
    "usr/local/lib/systemd/system/mediamtx-hook-metrics.service",
    "usr/local/lib/systemd/system/mediamtx-hook-metrics.timer",
    "etc/mediamtx-hook/mediamtx.yml",
    "etc/mediamtx-hook/hook.json",
];

#[test]
fn install_twice_then_uninstall_and_purge() {
    let dir = TempDir::new("install");
    let root = dir.join("root");

    let (code, out) = install(&root, &[]);
    assert_eq!(code, 0, "{out}");
    for f in INSTALLED {
        let p = root.join(f);
        assert!(p.is_file(), "{f} installed:\n{out}");
        assert!(std::fs::metadata(&p).unwrap().len() > 0, "{f} is empty");
        assert!(
            out.contains(&format!("installed /{f}")),
            "says it installed {f}:\n{out}"
        );
    }
    assert!(root.join("var/lib/mediamtx-hook").is_dir());
    assert!(root.join("var/lib/mediamtx-hook/state.lock").is_file());
    assert!(root.join("var/lib/mediamtx-hook/ledger").is_dir());
    assert!(root.join("var/lib/mediamtx-hook/locks").is_dir());
    assert!(root.join("var/lib/mediamtx-hook/holds").is_dir());
    assert!(
        out.contains("user mediamtx, its groups and file ownership left alone"),
        "{out}"
    );

    // The installed binary is the one given and runs.
    let (code, version, _) = run_to_end(
        {
            let mut c = Command::new(root.join("usr/local/bin/hook"));
            c.arg("--version");
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(code, 0);
    assert!(version.starts_with("hook "), "{version}");
    // Configs are the shipped ones.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("mediamtx");
    for f in ["mediamtx.yml", "hook.json"] {
        assert_eq!(
            std::fs::read(root.join("etc/mediamtx-hook").join(f)).unwrap(),
            std::fs::read(shipped.join(f)).unwrap()
        );
    }

    // A second run changes nothing and says so.
    let before = tree(&root);
    let (code, out) = install(&root, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(tree(&root), before, "second run changed files:\n{out}");
    assert!(!out.contains("installed /"), "{out}");
    assert!(!out.contains("updated /"), "{out}");
    for f in INSTALLED {
        assert!(
            out.contains(&format!("unchanged /{f}")),
            "unchanged {f}:\n{out}"
        );
    }

    // An operator's edit is never overwritten, and the script says so.
    let edited = root.join("etc/mediamtx-hook/hook.json");
    std::fs::write(&edited, "{\"viewing\":{\"close_after\":\"60s\"}}\n").unwrap();
    let (code, out) = install(&root, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("kept /etc/mediamtx-hook/hook.json: it was edited"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&edited).unwrap(),
        "{\"viewing\":{\"close_after\":\"60s\"}}\n"
    );

    // State written while installed must survive a plain uninstall.
    std::fs::write(root.join("var/lib/mediamtx-hook/state.json"), "{}").unwrap();
    let (code, out) = install(&root, &["--uninstall"]);
    assert_eq!(code, 0, "{out}");
    let left: Vec<PathBuf> = tree(&root).into_keys().collect();
    assert_eq!(
        left,
        vec![
            PathBuf::from("etc/mediamtx-hook/hook.json"),
            PathBuf::from("var/lib/mediamtx-hook/state.json"),
            PathBuf::from("var/lib/mediamtx-hook/state.lock"),
        ],
        "{out}"
    );
    assert!(
        out.contains("kept /etc/mediamtx-hook/hook.json: it was edited"),
        "{out}"
    );
    assert!(out.contains("kept /var/lib/mediamtx-hook"), "{out}");
    assert!(out.contains("removed /usr/local/bin/hook"), "{out}");
    assert!(
        !root.join("usr/local/share/mediamtx-hook").exists(),
        "empty dirs pruned"
    );

    // --purge takes the rest.
    let (code, out) = install(&root, &["--uninstall", "--purge"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        tree(&root).is_empty(),
        "left after purge: {:?}",
        tree(&root).keys()
    );
    // Uninstalling what is not there is fine too.
    let (code, out) = install(&root, &["--uninstall", "--purge"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_config_left_as_installed_is_refreshed() {
    let dir = TempDir::new("install-refresh");
    let root = dir.join("root");
    let (code, out) = install(&root, &[]);
    assert_eq!(code, 0, "{out}");
    // Make it look like an earlier release's config, untouched since: the file
    // and its recorded checksum agree but differ from what ships now.
    let conf = root.join("etc/mediamtx-hook/mediamtx.yml");
    std::fs::write(&conf, "# an older example\n").unwrap();
    let sums = root.join("usr/local/share/mediamtx-hook/installed-configs.sha256");
    let text = std::fs::read_to_string(&sums).unwrap();
    let sha = Command::new("sha256sum").arg(&conf).output().unwrap();
    let sha = String::from_utf8(sha.stdout).unwrap();
    let sha = sha.split_whitespace().next().unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.ends_with(" mediamtx.yml") {
                format!("{sha} mediamtx.yml\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&sums, text).unwrap();

    let (code, out) = install(&root, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("updated /etc/mediamtx-hook/mediamtx.yml"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(&conf).unwrap(),
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("mediamtx/mediamtx.yml")).unwrap()
    );
    // And a plain uninstall removes it, since it is ours.
    let (code, out) = install(&root, &["--uninstall"]);
    assert_eq!(code, 0, "{out}");
    assert!(!conf.exists(), "{out}");
}

#[test]
fn prefix_and_user_follow_into_the_units() {
    let dir = TempDir::new("install-prefix");
    let root = dir.join("root");
    let (code, out) = install(&root, &["--prefix", "/opt/mh", "--user", "cams"]);
    assert_eq!(code, 0, "{out}");
    assert!(root.join("opt/mh/bin/hook").is_file(), "{out}");
    let metrics = std::fs::read_to_string(
        root.join("opt/mh/lib/systemd/system/mediamtx-hook-metrics.service"),
    )
    .unwrap();
    assert!(
        metrics.contains("ExecStart=/opt/mh/bin/hook status --prometheus"),
        "{metrics}"
    );
    assert!(metrics.contains("\nUser=cams\n"), "{metrics}");
    assert!(!metrics.contains("/usr/local/bin/hook"), "{metrics}");
    let mtx =
        std::fs::read_to_string(root.join("opt/mh/lib/systemd/system/mediamtx.service")).unwrap();
    assert!(mtx.contains("\nUser=cams\nGroup=cams\n"), "{mtx}");
    let (code, out) = install(&root, &["--uninstall", "--purge", "--prefix", "/opt/mh"]);
    assert_eq!(code, 0, "{out}");
    assert!(tree(&root).is_empty(), "{:?}", tree(&root).keys());
}

#[test]
fn bad_arguments_are_refused_with_exit_2() {
    let dir = TempDir::new("install-bad");
    let root = dir.join("root");
    for (args, needle) in [
        (vec!["--user", "Bad User"], "is not a valid user name"),
        (vec!["--prefix", "relative/dir"], "must be an absolute path"),
        (vec!["--frobnicate"], "unknown argument '--frobnicate'"),
        (vec!["--purge"], "--purge goes with --uninstall"),
    ] {
        let (code, out) = install(&root, &args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(out.contains(needle), "{args:?}: {out}");
    }
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .args(["--destdir"])
        .arg(&root)
        .args(["--binary", "/nonexistent/hook"]);
    let (code, out, err) = run_to_end(cmd, Duration::from_secs(30));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("/nonexistent/hook"), "{err}");
    assert!(!root.exists(), "nothing staged after a refused run");
}

#[test]
fn install_script_passes_shellcheck() {
    let out = Command::new("shellcheck")
        .arg(script())
        .output()
        .expect("shellcheck is installed (scripts/deps.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
