//! A real Prometheus in the loop: `promtool`, node_exporter with only its
//! textfile collector, and a Prometheus server scraping it, each on a free
//! loopback port with its files in the test's temporary directory, killed
//! when dropped. `scripts/deps.sh` installs them (Debian packages
//! `prometheus` and `prometheus-node-exporter`); a test that needs one
//! fails, loudly, when it is missing.

use super::common::{free_port, kill_group, wait_until};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `name` on PATH, or a panic naming the package that has it.
pub fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{name} is not on PATH: run scripts/deps.sh, which installs Debian's package {package} (CI runs it first)"
    );
}

pub fn promtool() -> PathBuf {
    tool("promtool", "prometheus")
}

/// Runs promtool with `args` in `dir`, `stdin` fed to it; (success, stdout
/// and stderr).
pub fn run_promtool(dir: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(promtool())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A server started by a test: killed (its process group) when dropped.
pub struct Daemon {
    pub port: u16,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `cmd` (told to listen on the port `args_for(port)` gives) on
    /// a free port and waits until `ready_path` answers 200. A port taken
    /// in between makes it exit: then another port is tried.
    fn start(
        name: &str,
        dir: &Path,
        program: &Path,
        args_for: impl Fn(u16) -> Vec<String>,
        ready_path: &str,
    ) -> Daemon {
        for attempt in 0..5 {
            let port = free_port();
            let log = dir.join(format!("{name}-{attempt}.log"));
            let out = std::fs::File::create(&log).unwrap();
            let child = Command::new(program)
                .args(args_for(port))
                .current_dir(dir)
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
            let mut d = Daemon { port, child, log };
            let up = wait_until(Duration::from_secs(20), || {
                d.exited() || get(port, ready_path, &[]).is_some_and(|(code, _)| code == 200)
            });
            if up && !d.exited() {
                return d;
            }
            assert!(
                d.exited(),
                "{name} did not answer on port {port} in 20 s:\n{}",
                d.log_text()
            );
        }
        panic!("{name} could not listen on a free port in 5 tries");
    }

    fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        kill_group(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// node_exporter with only the textfile collector, reading `textfile_dir`.
pub fn node_exporter(dir: &Path, textfile_dir: &Path) -> Daemon {
    let program = tool("prometheus-node-exporter", "prometheus-node-exporter");
    let textfile = textfile_dir.display().to_string();
    Daemon::start(
        "node_exporter",
        dir,
        &program,
        |port| {
            vec![
                "--collector.disable-defaults".into(),
                "--collector.textfile".into(),
                format!("--collector.textfile.directory={textfile}"),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--log.level=warn".into(),
            ]
        },
        "/metrics",
    )
}

/// A Prometheus server scraping `target_port` every second and evaluating
/// `rule_file` every second, its data under `dir`.
pub struct Prometheus {
    pub daemon: Daemon,
}

impl Prometheus {
    pub fn start(dir: &Path, target_port: u16, rule_file: &Path) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n",
                rule_file.display()
            ),
        )
        .unwrap();
        let program = tool("prometheus", "prometheus");
        let data = dir.join("tsdb");
        let daemon = Daemon::start(
            "prometheus",
            dir,
            &program,
            |port| {
                vec![
                    format!("--config.file={}", config.display()),
                    format!("--storage.tsdb.path={}", data.display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                    "--log.level=warn".into(),
                ]
            },
            "/-/ready",
        );
        Prometheus { daemon }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.daemon.port)
    }

    /// An API call's `data`, or a panic with Prometheus's error.
    pub fn api(&self, path: &str, query: &[(&str, &str)]) -> serde_json::Value {
        let (code, body) = get(self.daemon.port, path, query)
            .unwrap_or_else(|| panic!("Prometheus did not answer {path}"));
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        assert!(
            code == 200 && v["status"] == "success",
            "{path} {query:?}: HTTP {code}: {body}"
        );
        v["data"].clone()
    }

    /// The result vector of an instant query.
    pub fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let data = self.api("/api/v1/query", &[("query", expr)]);
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// The alerts, pending and firing.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        let data = self.api("/api/v1/alerts", &[]);
        data["alerts"].as_array().cloned().unwrap_or_default()
    }
}

/// GET http://127.0.0.1:port/path?query: (status code, body), None when
/// nothing answered.
pub fn get(port: u16, path: &str, query: &[(&str, &str)]) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut req = agent.get(format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in query {
        req = req.query(*k, *v);
    }
    let mut resp = req.call().ok()?;
    let code = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().ok()?;
    Some((code, body))
}

/// A file of the repository's `mediamtx/` directory.
pub fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mediamtx")
        .join(name)
}

/// Every query of the shipped Grafana dashboard, as Prometheus gets it:
/// (where it is, PromQL). Each panel target's `expr`, and the selector
/// inside each template variable's `label_values(…)`. Grafana's variables
/// are replaced the way Grafana does with "All" selected: `$instance` and
/// `$path` by `.*`, `$__rate_interval` by `1m`.
pub fn dashboard_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(shipped("grafana-dashboard.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let grafana = |e: &str| {
        e.replace("$__rate_interval", "1m")
            .replace("$instance", ".*")
            .replace("$path", ".*")
    };
    let mut out = Vec::new();
    fn panels(list: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
        for p in list.as_array().into_iter().flatten() {
            out.push((p["title"].as_str().unwrap_or("?").to_string(), p.clone()));
            panels(&p["panels"], out);
        }
    }
    let mut all = Vec::new();
    panels(&dash["panels"], &mut all);
    for (title, p) in all {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title}: a target without expr"));
            out.push((
                format!(
                    "panel {title:?} target {}",
                    t["refId"].as_str().unwrap_or("?")
                ),
                grafana(expr),
            ));
        }
    }
    for v in dash["templating"]["list"].as_array().into_iter().flatten() {
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or_default();
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|r| r.rsplit_once(','))
            .map(|(sel, _)| sel.trim().to_string())
            .unwrap_or_else(|| {
                panic!(
                    "variable {}: expected label_values(SELECTOR, LABEL), got {q:?}",
                    v["name"]
                )
            });
        out.push((format!("variable {}", v["name"]), grafana(&inner)));
    }
    out
}

/// The metric names (`mediamtx_hook_…`, `node_…`) an expression reads.
pub fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &expr[i..];
        let starts = (rest.starts_with("mediamtx_hook_") || rest.starts_with("node_"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = rest[..len].to_string();
            if !names.contains(&name) {
                names.push(name);
            }
            i += len;
        } else {
            i += 1;
        }
    }
    names
}
