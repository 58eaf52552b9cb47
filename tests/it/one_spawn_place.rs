//! Every child the hook starts goes through `src/process` (the pre-exec
//! every child gets, the scrubbed environment): no other source file may
//! build a `std::process::Command` or add a pre-exec of its own. Checked on
//! `src/` itself; code under `#[cfg(test)]` at the end of a file is free.

use std::path::{Path, PathBuf};

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

/// The lines of `text` before its test module, without comments, that
/// start a process by hand.
fn offences(text: &str) -> Vec<String> {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter(|(_, l)| {
            let l = l.replace("clap::Command::new", "");
            l.contains("Command::new")
                || l.contains("process::Command")
                || l.contains("pre_exec(")
                || l.contains("libc::fork")
                || l.contains("unistd::fork")
                || l.contains("execv")
        })
        .map(|(n, l)| format!("{}: {}", n + 1, l.trim()))
        .collect()
}

#[test]
fn children_are_started_only_through_the_process_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let home = src.join("process");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&home)) {
        let text = std::fs::read_to_string(file).unwrap();
        for o in offences(&text) {
            found.push(format!("{}:{o}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "children started outside src/process (use process::ChildCommand):\n{}",
        found.join("\n")
    );
    // The builder itself is where they are.
    let builder = std::fs::read_to_string(home.join("mod.rs")).unwrap();
    assert!(!offences(&builder).is_empty());
}

#[test]
fn the_check_sees_a_spawn_and_skips_comments_clap_and_tests() {
    let text = "let c = clap::Command::new(\"hook\");\n// Command::new(x)\nlet mut c = std::process::Command::new(p);\n#[cfg(test)]\nmod tests {\n    Command::new(\"ffmpeg\");\n}\n";
    assert_eq!(
        offences(text),
        ["3: let mut c = std::process::Command::new(p);"]
    );
    assert_eq!(offences("unsafe { cmd.pre_exec(|| Ok(())) };").len(), 1);
}
