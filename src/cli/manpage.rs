//! `hook man`: one manual page, hook(1), generated from the clap definition.
//!
//! clap_mangen renders one page per command and its SUBCOMMANDS section
//! points at pages such as hook-run(1) that nobody installs. Operators type
//! `man hook`, so every subcommand's synopsis, description and options are
//! folded into that one page (a subsection each), followed by the sections a
//! man page is expected to have and clap does not know about: environment,
//! files, exit status.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Hand-written sections after the commands. Roff, written with escapes.
const TRAILER: &str = r#".SH ENVIRONMENT
.TP
\fBMTX_PATH\fR, \fBRTSP_PORT\fR, \fBG1\fR…, \fBMTX_SEGMENT_PATH\fR, \fBMTX_SEGMENT_DURATION\fR
Set by MediaMTX for the hooks it runs. For commands a person runs, the RTSP port is \fBRTSP_PORT\fR, else 8554.
.TP
\fBHOOK_STATE_DIR\fR
The state directory (same as \fB\-\-state\-dir\fR).
.TP
\fBHOOK_CONFIG\fR
The optional JSON policy config (same as \fB\-\-config\fR).
.TP
\fBHOOK_MTX_API\fR, \fBHOOK_MTX_API_USER\fR, \fBHOOK_MTX_API_PASS\fR
MediaMTX's Control API (default http://127.0.0.1:9997) and its credentials; never taken from the command line.
.TP
\fBHOOK_RTSP_USER\fR, \fBHOOK_RTSP_PASS\fR
RTSP credentials for publishing and holds, both or neither; never taken from the command line, never logged.
.TP
\fBHOOK_FFMPEG\fR
The FFmpeg binary to run (same as \fB\-\-ffmpeg\fR).
.TP
\fBRUST_LOG\fR
Log level and filters, e.g. \fBdebug\fR or \fBwarn\fR (default \fBinfo\fR). Logs go to stderr; every line names the MediaMTX path it is about.
.TP
\fBHOOK_LOG_STYLE\fR
\fBauto\fR (colour only when stderr is a terminal), \fBalways\fR or \fBnever\fR.
.SH FILES
.TP
\fI/var/lib/mediamtx\-hook/state.json\fR
The state \fBhook status\fR shows; replaced atomically under \fIstate.lock\fR.
.TP
\fI/var/lib/mediamtx\-hook/ledger/PATH.jsonl\fR
Every recorded segment of a path, one JSON object per line.
.TP
\fI/etc/mediamtx\-hook/mediamtx.yml\fR, \fI/etc/mediamtx\-hook/hook.json\fR
The MediaMTX configuration and the policy config installed by scripts/install.sh.
.SH EXIT STATUS
0 on success or a requested stop; 1 on a runtime failure; 2 on a usage or input error, with a message naming the bad value and what was expected. MediaMTX discards hooks' exit codes, so every failure is also logged and written to the state.
.SH SEE ALSO
\fBmediamtx\fR(1), \fBffmpeg\fR(1), \fBsystemctl\fR(1), \fBjournalctl\fR(1)
"#;

/// Renders the whole page.
pub fn render(out: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut top)?;
    let top = String::from_utf8_lossy(&top);
    // Everything of the top page up to its SUBCOMMANDS list, which names
    // pages that do not exist; COMMANDS replaces it.
    let head = top.split("\n.SH SUBCOMMANDS").next().unwrap_or(&top);
    out.write_all(head.as_bytes())?;
    out.write_all(b"\n.SH COMMANDS\n")?;
    // Global options are described once, above; not again per command.
    let global: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .chain(["help".to_string()])
        .collect();
    for sub in visible_leaf_commands(&cmd) {
        let sub = sub.clone().mut_args(|a| {
            if global.iter().any(|g| g == a.get_id().as_str()) {
                a.hide(true)
            } else {
                a
            }
        });
        out.write_all(subsection(&sub)?.as_bytes())?;
    }
    out.write_all(TRAILER.as_bytes())?;
    let version = cmd.get_version().unwrap_or_default();
    writeln!(out, ".SH VERSION\nv{version}")?;
    Ok(())
}

/// Subcommands people can run, depth first (`record start`, `record stop`),
/// without clap's `help` and hidden ones.
fn visible_leaf_commands(cmd: &clap::Command) -> Vec<&clap::Command> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        if sub.has_subcommands() {
            out.extend(visible_leaf_commands(sub));
        } else {
            out.push(sub);
        }
    }
    out
}

/// One command's page turned into a subsection of hook(1): its synopsis,
/// description and options, without its own title and NAME.
fn subsection(sub: &clap::Command) -> std::io::Result<String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(sub.clone()).render(&mut page)?;
    let page = String::from_utf8_lossy(&page);
    let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
    let mut text = format!(".SS \"{}\"\n", name.replace('-', "\\-"));
    let mut section = "";
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix(".SH ") {
            section = match heading {
                "SYNOPSIS" => "synopsis",
                "DESCRIPTION" => "description",
                "OPTIONS" => "options",
                _ => "",
            };
            if !section.is_empty() {
                text.push_str(".PP\n");
            }
            continue;
        }
        if section.is_empty() {
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> String {
        let mut out = Vec::new();
        render(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_page_holds_every_command() {
        let page = page();
        assert!(page.contains(".TH hook 1"), "{page}");
        for name in [
            "hook run",
            "hook ready",
            "hook segment\\-complete",
            "hook record start",
            "hook record stop",
            "hook snapshot",
            "hook stop",
            "hook status",
            "hook devices",
            "hook mediamtx\\-config",
            "hook completions",
            "hook man",
        ] {
            assert!(page.contains(&format!(".SS \"{name}\"")), "{name} missing");
        }
        // No references to per-command pages that are never installed, no
        // hidden command.
        assert!(!page.contains("hook\\-run(1)"), "{page}");
        assert!(!page.contains("\"hook hold\""), "{page}");
        assert!(!page.contains("\"hook help\""), "{page}");
        // Options of a subcommand are in it.
        assert!(page.contains("\\-\\-prometheus"), "{page}");
        assert!(page.contains("\\-\\-input\\-format"), "{page}");
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "COMMANDS",
            "ENVIRONMENT",
            "FILES",
            "EXIT STATUS",
            "VERSION",
        ] {
            assert_eq!(
                page.matches(&format!("\n.SH {section}\n")).count(),
                1,
                "section {section} once"
            );
        }
    }
}
