//! The `hook` binary: parse the command line, run it, exit with its code.
//! Everything else lives in the library so tests and the binary share it.

use std::process::ExitCode;

use clap::Parser;
use mediamtx_hook::cli::Cli;
use mediamtx_hook::error::{is_usage, EXIT_FAILURE, EXIT_USAGE};

fn main() -> ExitCode {
    mediamtx_hook::logging::init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // A value the hook's own checks refused is logged like every
            // usage error (under MediaMTX, the journal reads its priority).
            if let Some(message) = mediamtx_hook::cli::values::refusal_message(&e) {
                log::error!("{message}");
                return ExitCode::from(EXIT_USAGE);
            }
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match mediamtx_hook::commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            log::error!("{err:#}");
            ExitCode::from(if is_usage(&err) {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            })
        }
    }
}
