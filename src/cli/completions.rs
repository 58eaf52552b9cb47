//! `hook completions SHELL`: shell completion scripts generated from the clap
//! definition.
//!
//! clap_complete offers hidden subcommands and arguments too, so the script
//! is generated from a copy of the command without them: `hook hold` is
//! started by `hook record start`, never typed by a person, and MediaMTX's
//! variables (`--mtx-path`…) are read from the environment.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// The command as completions present it: every visible argument and
/// subcommand of the real one, nothing hidden.
pub(crate) fn visible_command() -> clap::Command {
    let full = Cli::command();
    visible(&full)
        .long_about(None)
        .bin_name("hook")
        .version(env!("CARGO_PKG_VERSION"))
}

/// `full` without its hidden arguments and subcommands, at every level.
fn visible(full: &clap::Command) -> clap::Command {
    let mut cmd = clap::Command::new(full.get_name().to_string())
        .subcommand_required(full.is_subcommand_required_set());
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    if let Some(long) = full.get_long_about() {
        cmd = cmd.long_about(long.clone());
    }
    for arg in full.get_arguments().filter(|a| !a.is_hide_set()) {
        cmd = cmd.arg(arg.clone());
    }
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        cmd = cmd.subcommand(visible(sub));
    }
    cmd
}

/// Writes the completion script for `shell`.
pub fn render(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut cmd = visible_command();
    clap_complete::generate(shell, &mut cmd, "hook", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_commands_are_left_out_and_the_rest_kept() {
        let cmd = visible_command();
        let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
        assert!(!names.contains(&"hold"), "{names:?}");
        let full = Cli::command();
        let visible = full.get_subcommands().filter(|s| !s.is_hide_set()).count();
        assert_eq!(names.len(), visible);
        let globals: Vec<&str> = cmd.get_arguments().map(|a| a.get_id().as_str()).collect();
        assert!(
            globals.contains(&"state_dir") && globals.contains(&"config"),
            "{globals:?}"
        );
        let mut out = Vec::new();
        render(clap_complete::Shell::Bash, &mut out);
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("segment-complete"));
        assert!(!script.contains("hook,hold"), "{script}");
        assert!(!script.contains("--mtx-path"), "{script}");
        assert!(script.contains("--gap-tolerance"), "{script}");
    }
}
