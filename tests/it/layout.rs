//! The source tree's rules, checked on `src/` itself: no module below the
//! command layer imports `commands` or `cli`, the top-level modules import
//! each other without a circle, and no source file grows past 750 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 750;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`camera` for
/// `src/camera/probe.rs`, `ffmpeg` for `src/ffmpeg.rs`).
fn top(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a file names as `crate::X` outside comments.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn files() -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    paths.sort();
    assert!(paths.len() > 20, "found only {} files in src/", paths.len());
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn nothing_below_the_commands_imports_them_or_the_command_line() {
    let mut upward = Vec::new();
    for (path, text) in files() {
        let module = top(&path);
        let allowed: &[&str] = match module.as_str() {
            "main" | "lib" | "commands" => &["commands", "cli"],
            "cli" => &["cli"],
            _ => &[],
        };
        for name in imports(&text) {
            if (name == "commands" || name == "cli") && !allowed.contains(&name.as_str()) {
                upward.push(format!("{} imports crate::{name}", path.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a higher layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn top_level_modules_import_each_other_without_a_circle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files() {
        let module = top(&path);
        let deps = graph.entry(module.clone()).or_default();
        for name in imports(&text) {
            if name != module {
                deps.insert(name);
            }
        }
    }
    assert!(graph.contains_key("commands") && graph.contains_key("state"));
    // Depth-first search; a module met again while on the stack closes a circle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for dep in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(dep, graph, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle: {}\ngraph: {graph:#?}", circle.join(" -> "));
        }
    }
}

#[test]
fn no_source_file_is_longer_than_750_lines() {
    let long: Vec<String> = files()
        .into_iter()
        .filter_map(|(path, text)| {
            let n = text.lines().count();
            (n > MAX_LINES).then(|| format!("{}: {n} lines", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checks_see_imports_and_skip_comments() {
    let text = "use crate::state::StateStore;\n//! see crate::commands\nlet x = crate::camera::capture::prepare(a, crate::error::usage);\n";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["camera", "error", "state"]);
}
