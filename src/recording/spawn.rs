//! Starting a session's hold: `hook hold PATH` as a detached process that
//! outlives the command that started it, and the RTSP port it reads the
//! stream from (MediaMTX's `RTSP_PORT`).

use anyhow::Context as _;

use crate::context::Context;
use crate::mediamtx::env as mtx_env;
use crate::process::ChildCommand;

/// MediaMTX's RTSP port, from `RTSP_PORT`.
pub(crate) fn rtsp_port() -> anyhow::Result<u16> {
    mtx_env::validate_port(mtx_env::var("RTSP_PORT").as_deref(), "RTSP_PORT")
}

/// Starts `hook hold PATH` detached: its own session and process group (no
/// terminal's SIGHUP reaches it), stdin from /dev/null, output appended to
/// `holds/PATH.log`, the state directory and this command's policy passed on.
/// `again`: the session's hold is started anew, with the policy its first
/// hold was given.
pub(crate) fn spawn_hold(
    ctx: &Context,
    path: &str,
    port: u16,
    again: bool,
) -> anyhow::Result<std::process::Child> {
    let policy = serde_json::to_vec_pretty(&ctx.policy).context("serializing the policy")?;
    let log = if again {
        ctx.store.reopen_hold_files(path, &policy)?
    } else {
        ctx.store.create_hold_files(path, &policy)?
    };
    let policy_file = ctx.store.hold_policy_file(path);
    let exe = std::env::current_exe().context("finding the hook executable")?;
    ChildCommand::detached_hook(&exe, &["hold".into(), path.into()])
        .env("HOOK_STATE_DIR", ctx.store.dir())
        .env("HOOK_CONFIG", &policy_file)
        .env("RTSP_PORT", port.to_string())
        .env("HOOK_LOG_STYLE", "never")
        .output_to(log)
        .spawn_detached()
        .context("starting `hook hold`")
}
