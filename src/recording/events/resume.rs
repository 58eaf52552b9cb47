//! Resuming (`hook resume`): after a reboot, a power loss or a MediaMTX restart, start
//! again what should be running. Run by MediaMTX itself (`runOnInit` of a
//! small always-on entry, see the README), so it runs whenever MediaMTX
//! starts, with MediaMTX's environment.
//!
//! It waits for the Control API (MediaMTX starts `runOnInit` commands while
//! it is still starting), then, for every path whose state has a live
//! session (a recording session or an arm):
//! - a timed session whose end passed while nothing ran is ended, with that
//!   reason, and its recording switched off;
//! - a session whose hold is gone (a reboot: no process of the old boot
//!   counts as running) gets a new hold (`revive`), the time since its last
//!   segment an outage (`hold_dead`, the machine or MediaMTX went down), so
//!   the hole is one gap with that cause;
//! - MediaMTX's `record` switch (and an armed path's segment length) is put
//!   back at once when MediaMTX forgot it, rather than at the hold's next
//!   check.

use std::time::{Duration, Instant};

use crate::context::Context;
use crate::mediamtx::api::Api;
use crate::recording::begin::interrupt_flag;
use crate::recording::lock::try_lock;
use crate::recording::revive::{revive, Revived};
use crate::recording::session::{finish_session, hold_running};
use crate::recording::switch::record_on_fields;
use crate::recording::text::rfc3339;
use crate::state::cause::Cause;
use crate::state::SessionStatus;
use crate::state::{now, outage};

/// How long `resume` waits for MediaMTX's Control API to answer.
const API_WAIT: Duration = Duration::from_secs(30);

/// Resumes every path with a live session, MediaMTX's RTSP server on
/// `port`; `say` is told each path resumed or ended (path, what). The number
/// of paths that could not be resumed.
pub(crate) fn resume(
    ctx: &Context,
    api: &Api,
    port: u16,
    mut say: impl FnMut(&str, &str),
) -> anyhow::Result<usize> {
    let stop = interrupt_flag()?;
    let end = Instant::now() + API_WAIT;
    loop {
        match api.path_list_answers() {
            Ok(()) => break,
            Err(e) if Instant::now() >= end => {
                anyhow::bail!(
                    "MediaMTX's Control API did not answer within {}s: {e}",
                    API_WAIT.as_secs()
                )
            }
            Err(_) => {}
        }
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let state = ctx.store.read()?;
    let mut failed = 0;
    for (path, p) in &state.paths {
        let Some(s) = p
            .recording
            .session
            .as_ref()
            .filter(|s| s.status == SessionStatus::Active)
        else {
            continue;
        };
        crate::logging::set_path(path);
        let at = now();
        // A live hold ends its own session when its end comes.
        if let Some(until) = s.until.filter(|u| *u <= at && !hold_running(s)) {
            let Some(_lock) = try_lock(ctx, path)? else {
                log::info!("another hook command is changing the session; it decides");
                continue;
            };
            let why = format!(
                "its end ({}) passed while the hook was not running (power off, reboot or MediaMTX down)",
                rfc3339(until)
            );
            if let Err(e) = api.set_record(path, false) {
                log::warn!("could not switch recording off: {e}");
            }
            finish_session(ctx, path, SessionStatus::Ended, &why)?;
            log::info!("recording session ended: {why}");
            say(path, &format!("session ended: {why}"));
            continue;
        }
        if !hold_running(s) {
            let last = p.segments.last_end.unwrap_or(at);
            ctx.store.update_path(path, |p| {
                outage::begin(
                    p,
                    last,
                    Cause::HoldDead,
                    "the machine or MediaMTX went down; resumed by hook resume".into(),
                );
                Ok(())
            })?;
            match revive(ctx, path, port, "hook resume")? {
                Revived::Again(_) => {}
                Revived::Fine => {}
                Revived::Busy => {
                    log::info!("another hook command is changing the session; it resumes it")
                }
                Revived::Failed(why) => {
                    failed += 1;
                    log::error!("could not resume: {why}");
                    continue;
                }
            }
        }
        let fresh = ctx.store.read()?;
        let p = fresh.paths.get(path);
        match api.record_enabled(path) {
            Ok(Some(true)) => {}
            Ok(_) => {
                if let Err(e) = api.patch_entry(path, &record_on_fields(p)) {
                    log::warn!("could not switch recording back on: {e}");
                }
            }
            Err(e) => log::warn!("could not read the record switch: {e}"),
        }
        let what = if p.is_some_and(|p| p.armed.is_some()) {
            "armed path"
        } else {
            "recording session"
        };
        log::info!("{what} resumed");
        say(path, &format!("{what} resumed"));
    }
    Ok(failed)
}
