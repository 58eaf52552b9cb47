//! The commands: one file per subcommand, and the dispatch from a parsed
//! command line to them. Every command gets a [`Context`] built here from the
//! parsed [`Cli`]; nothing below this layer sees the command line.

pub(crate) mod clip;
pub(crate) mod devices;
pub(crate) mod hold;
pub(crate) mod mediamtx_config;
pub(crate) mod ready;
pub(crate) mod record;
pub(crate) mod resume;
pub(crate) mod run;
pub(crate) mod segment_complete;
pub(crate) mod snapshot;
pub(crate) mod status;
pub(crate) mod stop;

use std::process::ExitCode;

pub(crate) use crate::context::Context;

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
    let ctx = Context::new(cli.state_dir.clone(), cli.config.as_deref())?;
    match cli.command {
        Command::Run(args) => run::main(&ctx, &args),
        Command::Ready(args) => ready::main(&ctx, &args),
        Command::SegmentComplete(args) => segment_complete::main(&ctx, &args),
        Command::Record(RecordCommand::Start(args)) => record::start(&ctx, &args),
        Command::Record(RecordCommand::Stop(args)) => record::stop(&ctx, &args),
        Command::Record(RecordCommand::Arm(args)) => record::arm(&ctx, &args),
        Command::Record(RecordCommand::Disarm(args)) => record::disarm(&ctx, &args),
        Command::Clip(args) => clip::main(&ctx, &args),
        Command::Resume(args) => resume::main(&ctx, &args),
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
