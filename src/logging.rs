//! Logging to stderr through `env_logger`, `RUST_LOG` honoured (default
//! `info`). Every line names the MediaMTX path it is about: commands set it
//! once with [`set_path`] as soon as they know it; before that, `-`.
//! Colour only when stderr is a terminal.

use std::io::Write;
use std::sync::RwLock;

static PATH: RwLock<String> = RwLock::new(String::new());

/// Names the MediaMTX path that this process's log lines are about.
pub fn set_path(path: &str) {
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

/// Installs the logger. Safe to call more than once (later calls do nothing).
pub fn init() {
    let env = env_logger::Env::default()
        .filter_or("RUST_LOG", "info")
        .write_style("HOOK_LOG_STYLE");
    let _ = env_logger::Builder::from_env(env)
        .format(|buf, record| {
            let style = buf.default_level_style(record.level());
            writeln!(
                buf,
                "{} {style}{:<5}{style:#} hook[{}] pid={} {}",
                buf.timestamp_millis(),
                record.level(),
                current_path(),
                std::process::id(),
                record.args()
            )
        })
        .try_init();
}
