//! `hook man`: one manual page, hook(1), generated from the clap definition.
//!
//! clap_mangen renders one page per command and its SUBCOMMANDS section
//! points at pages such as hook-run(1) that nobody installs. Operators type
//! `man hook`, so the page is put together from clap_mangen's section
//! renderers: `hook`'s own sections, every subcommand's synopsis,
//! description and options folded into that one page (a subsection each),
//! followed by the sections a man page is expected to have and clap does
//! not know about: environment, files, exit status.

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

/// Renders the whole page: clap_mangen's title, NAME, SYNOPSIS, DESCRIPTION
/// and OPTIONS of `hook`, then COMMANDS (each subcommand's synopsis,
/// description and options from the same renderers, as a subsection), the
/// hand-written sections, and clap_mangen's VERSION.
pub fn render(out: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    // The preamble that makes groff print apostrophes straight comes once,
    // with the title.
    man.render_title(out)?;
    write_body(out, |w| man.render_name_section(w))?;
    write_body(out, |w| man.render_synopsis_section(w))?;
    write_body(out, |w| man.render_description_section(w))?;
    write_body(out, |w| man.render_options_section(w))?;
    // Not clap_mangen's SUBCOMMANDS: it points at pages such as hook-run(1)
    // that nobody installs.
    out.write_all(b".SH COMMANDS\n")?;
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
        subsection(out, &sub)?;
    }
    out.write_all(TRAILER.as_bytes())?;
    write_body(out, |w| man.render_version_section(w))
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

/// One command as a subsection of hook(1): its synopsis, description and
/// options, each from clap_mangen's renderer of that section, a paragraph
/// where the section's own heading would be.
fn subsection(out: &mut dyn Write, sub: &clap::Command) -> std::io::Result<()> {
    let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
    writeln!(out, ".SS \"{}\"", name.replace('-', "\\-"))?;
    let man = clap_mangen::Man::new(sub.clone());
    write_paragraph(out, |w| man.render_synopsis_section(w))?;
    write_paragraph(out, |w| man.render_description_section(w))?;
    if sub.get_arguments().any(|a| !a.is_hide_set()) {
        write_paragraph(out, |w| man.render_options_section(w))?;
    }
    Ok(())
}

type Renderer<'a> = dyn Fn(&mut dyn Write) -> std::io::Result<()> + 'a;

/// One section from a clap_mangen renderer, without the preamble the roff
/// crate puts before each rendering (the title already brought it).
fn section(render: &Renderer<'_>) -> std::io::Result<String> {
    let mut buf = Vec::new();
    render(&mut buf)?;
    let text = String::from_utf8(buf).map_err(std::io::Error::other)?;
    let body = text
        .lines()
        .skip_while(|l| l.starts_with(".ie \\n(.g .ds Aq") || l.starts_with(".el .ds Aq"))
        .fold(String::new(), |mut acc, l| {
            acc.push_str(l);
            acc.push('\n');
            acc
        });
    Ok(body)
}

/// A section of the page as clap_mangen renders it.
fn write_body(
    out: &mut dyn Write,
    render: impl Fn(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    out.write_all(section(&render)?.as_bytes())
}

/// A section turned into paragraphs of a subsection: every `.SH` heading
/// (SYNOPSIS, DESCRIPTION, OPTIONS) becomes a paragraph break.
fn write_paragraph(
    out: &mut dyn Write,
    render: impl Fn(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    for line in section(&render)?.lines() {
        if line.starts_with(".SH ") {
            out.write_all(b".PP\n")?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
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
