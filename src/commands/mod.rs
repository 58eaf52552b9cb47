//! The commands: one file per subcommand, and the dispatch from a parsed
//! command line to them. Every command gets a [`Context`] built here from the
//! parsed [`Cli`]; nothing below this layer sees the command line.

pub mod clip;
pub mod devices;
pub mod hold;
pub mod mediamtx_config;
pub mod ready;
pub mod record;
pub mod resume;
pub mod run;
pub mod segment_complete;
pub mod snapshot;
pub mod status;
pub mod stop;

use std::process::ExitCode;

pub use crate::context::Context;

use crate::cli::{Cli, Command, RecordCommand};

/// Runs one parsed command line: the subcommand it names, with its [`Context`].
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands that need neither state nor policy.
    match &cli.command {
        Command::Completions(args) => {
            crate::cli::completions::render(args.shell, &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            crate::cli::manpage::render(&mut std::io::stdout())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    check_path_value(
        cli.state_dir.as_deref(),
        "--state-dir",
        "HOOK_STATE_DIR",
        "a state directory (unset HOOK_STATE_DIR and leave out --state-dir for the default, /var/lib/mediamtx-hook when writable)",
    )?;
    check_path_value(
        cli.config.as_deref(),
        "--config",
        "HOOK_CONFIG",
        "a JSON config file (unset HOOK_CONFIG and leave out --config for the built-in policy)",
    )?;
    let ctx = Context::new(cli.state_dir.clone(), cli.config.as_deref())?;
    match cli.command {
        Command::Run(args) => run::main(&ctx, &args),
        Command::Ready => ready::main(&ctx),
        Command::SegmentComplete(args) => segment_complete::main(&ctx, &args),
        Command::Record(RecordCommand::Start(args)) => record::start(&ctx, &args),
        Command::Record(RecordCommand::Stop(args)) => record::stop(&ctx, &args),
        Command::Record(RecordCommand::Arm(args)) => record::arm(&ctx, &args),
        Command::Record(RecordCommand::Disarm(args)) => record::disarm(&ctx, &args),
        Command::Clip(args) => clip::main(&ctx, &args),
        Command::Resume => resume::main(&ctx),
        Command::Snapshot(args) => snapshot::main(&ctx, &args),
        Command::Stop(args) => stop::main(&ctx, &args),
        Command::Status(args) => status::main(&ctx, &args),
        Command::Devices(args) => devices::main(&ctx, &args),
        Command::MediamtxConfig(args) => mediamtx_config::main(&ctx, &args),
        Command::Hold(args) => hold::main(&ctx, &args),
        Command::RtspRead(args) => crate::mediamtx::rtsp_reader::main(&args.url),
        Command::Completions(_) | Command::Man => unreachable!("handled above"),
    }
}

/// Refuses an empty or blank (whitespace only) `--state-dir` / `--config`,
/// naming the flag when it is on the command line, else the variable.
fn check_path_value(
    value: Option<&std::path::Path>,
    flag: &str,
    var: &str,
    expected: &str,
) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let Some(value) = value else {
        return Ok(());
    };
    let bytes = value.as_os_str().as_bytes();
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let with_value = format!("{flag}=");
    let on_command_line =
        std::env::args_os().any(|a| a == flag || a.as_bytes().starts_with(with_value.as_bytes()));
    let source = if on_command_line { flag } else { var };
    let what = if bytes.is_empty() {
        "is empty".to_string()
    } else {
        format!("is blank ({:?})", value.as_os_str())
    };
    Err(crate::error::usage(format!(
        "{source} {what}: expected {expected}"
    )))
}
