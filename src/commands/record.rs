//! `hook record start|stop|arm|disarm PATH`: read the arguments, start,
//! re-trigger, stop, arm or disarm through `recording`, print one line.
//!
//! How a session works is in `crate::recording` (its module docs walk
//! through the files); this file only checks what the command line gives.

use std::process::ExitCode;

use anyhow::anyhow;

use crate::cli::events::ArmArgs;
use crate::cli::{PathArg, RecordStartArgs};
use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::recording::events::arm::{self, ArmRequest};
use crate::recording::start::{start as start_session, StartRequest};
use crate::recording::stop::{stop_recording, Stopped};

/// `hook record start PATH [--duration D] [--reason TEXT]`: a new session,
/// a re-trigger of the live one, or an event on an armed path.
pub(crate) fn start(ctx: &Context, args: &RecordStartArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    let port = args.rtsp.rtsp_port;
    let reason = args.reason();
    // HOOK_RTSP_USER without HOOK_RTSP_PASS (or the reverse) would make the
    // hold fail: refused (exit 2) before anything is switched on.
    crate::mediamtx::rtsp_auth::Credentials::from_env()?;
    let api = Api::from_env()?;
    let request = StartRequest {
        path: path.clone(),
        port,
        duration: args.duration.map(|d| d.0),
        reason,
    };
    let text = start_session(ctx, &api, request)?;
    println!("{path}: {text}");
    Ok(ExitCode::SUCCESS)
}

/// `hook record stop PATH`.
pub(crate) fn stop(ctx: &Context, args: &PathArg) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    arm::refuse_when_armed(ctx, &path)?;
    let api = Api::from_env()?;
    match stop_recording(ctx, &api, &path, "stopped with hook record stop")? {
        Stopped::Ended(text) | Stopped::Cleaned(text) | Stopped::SwitchedOff(text) => {
            println!("{path}: {text}");
            Ok(ExitCode::SUCCESS)
        }
        Stopped::Nothing(None) => Err(anyhow!(
            "{path} has no recording session to stop and MediaMTX's record switch is off (`hook status {path}` shows its last session)"
        )),
        Stopped::Nothing(Some(e)) => Err(anyhow!(e).context(format!(
            "{path} has no recording session to stop, and whether MediaMTX still records could not be checked"
        ))),
    }
}

/// `hook record arm PATH [--pre D] [--post D]`.
pub(crate) fn arm(ctx: &Context, args: &ArmArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    let port = args.rtsp.rtsp_port;
    let api = Api::from_env()?;
    let request = ArmRequest {
        path: path.clone(),
        port,
        pre: args.pre,
        post: args.post,
    };
    let text = arm::arm(ctx, &api, request)?;
    println!("{path}: {text}");
    Ok(ExitCode::SUCCESS)
}

/// `hook record disarm PATH`.
pub(crate) fn disarm(ctx: &Context, args: &PathArg) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    crate::logging::set_path(&path);
    let api = Api::from_env()?;
    let text = arm::disarm(ctx, &api, &path)?;
    println!("{path}: {text}");
    Ok(ExitCode::SUCCESS)
}
