//! Logging to stderr through `env_logger`, `RUST_LOG` honoured (default
//! `info`). Every line names the MediaMTX path it is about: commands set it
//! once with [`set_path`] as soon as they know it; before that, `-`. A
//! message of several lines gets the prefix on each, so `grep 'hook\[cam0\]'`
//! never loses a continuation line.
//!
//! Colour only when stderr is a terminal (`HOOK_LOG_STYLE=always|never`
//! overrides; `NO_COLOR` is honoured).
//!
//! Under systemd (MediaMTX's stderr, which the hooks inherit, is the
//! journal: `JOURNAL_STREAM` names it), each line starts with its syslog
//! priority (`<3>` error … `<7>` debug) and carries no timestamp: journald
//! reads the priority, so `journalctl -p warning` finds the hook's warnings,
//! and stamps the time itself.

use std::io::Write;
use std::sync::RwLock;

static PATH: RwLock<String> = RwLock::new(String::new());

/// Names the MediaMTX path that this process's log lines are about.
pub(crate) fn set_path(path: &str) {
    if let Ok(mut p) = PATH.write() {
        *p = path.to_string();
    }
}

fn current_path() -> String {
    match PATH.read() {
        Ok(p) if !p.is_empty() => p.clone(),
        _ => "-".to_string(),
    }
}

/// True when stderr is the journal stream systemd announced in
/// `JOURNAL_STREAM` (`device:inode`), not merely inherited from one.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    journal_stream_matches(&value, meta.dev(), meta.ino())
}

/// Whether a `JOURNAL_STREAM` value names the file with `dev` and `ino`.
fn journal_stream_matches(value: &str, dev: u64, ino: u64) -> bool {
    match value.split_once(':') {
        Some((d, i)) => d.parse() == Ok(dev) && i.parse() == Ok(ino),
        None => false,
    }
}

/// Syslog priority of a log level, as journald reads it from `<N>`.
fn syslog_priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// The text after the level on every line: `hook[PATH] pid=N `.
fn tag(path: &str, pid: u32) -> String {
    format!("hook[{path}] pid={pid}")
}

/// One record as journal lines: each line `<P>LEVEL hook[PATH] pid=N text`.
fn journal_lines(level: log::Level, path: &str, pid: u32, msg: &str) -> String {
    let mut out = String::new();
    let tag = tag(path, pid);
    for line in split_lines(msg) {
        out.push_str(&format!(
            "<{}>{:<5} {tag} {line}\n",
            syslog_priority(level),
            level
        ));
    }
    out
}

/// A message's lines; an empty message is one empty line.
fn split_lines(msg: &str) -> Vec<&str> {
    let lines: Vec<&str> = msg.lines().collect();
    if lines.is_empty() {
        vec![""]
    } else {
        lines
    }
}

/// Installs the logger. Safe to call more than once (later calls do nothing).
pub fn init() {
    let env = env_logger::Env::default()
        .filter_or("RUST_LOG", "info")
        .write_style("HOOK_LOG_STYLE");
    let journal = stderr_is_journal();
    let mut builder = env_logger::Builder::from_env(env);
    if journal {
        builder.write_style(env_logger::WriteStyle::Never);
    }
    let _ = builder
        .format(move |buf, record| {
            // The HTTP client's debug and trace lines are left out: its
            // trace dumps the request bytes, Authorization header included.
            if record.target().starts_with("ureq") && record.level() > log::Level::Warn {
                return Ok(());
            }
            let path = current_path();
            let pid = std::process::id();
            let msg = record.args().to_string();
            if journal {
                return buf.write_all(journal_lines(record.level(), &path, pid, &msg).as_bytes());
            }
            let style = buf.default_level_style(record.level());
            let stamp = buf.timestamp_millis();
            let tag = tag(&path, pid);
            for line in split_lines(&msg) {
                writeln!(
                    buf,
                    "{stamp} {style}{:<5}{style:#} {tag} {line}",
                    record.level(),
                )?;
            }
            Ok(())
        })
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_carry_priority_and_path_on_each_line() {
        assert_eq!(
            journal_lines(log::Level::Warn, "cam0", 42, "first\nsecond"),
            "<4>WARN  hook[cam0] pid=42 first\n<4>WARN  hook[cam0] pid=42 second\n"
        );
        assert_eq!(
            journal_lines(log::Level::Error, "-", 1, ""),
            "<3>ERROR hook[-] pid=1 \n"
        );
        assert_eq!(syslog_priority(log::Level::Info), 6);
        assert_eq!(syslog_priority(log::Level::Debug), 7);
    }

    #[test]
    fn journal_stream_must_name_this_very_file() {
        assert!(journal_stream_matches("8:12345", 8, 12345));
        assert!(!journal_stream_matches("8:12345", 8, 12346));
        assert!(!journal_stream_matches("8", 8, 12345));
        assert!(!journal_stream_matches("x:y", 8, 12345));
        assert!(!journal_stream_matches("", 8, 12345));
    }
}
