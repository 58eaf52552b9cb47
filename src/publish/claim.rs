//! The claim of a path's entry by a publisher, and its give-back: the
//! first write makes this instance the entry's `supervisor_pid`, a newer
//! instance's claim is never overwritten, and an instance that never
//! started FFmpeg hands the entry back to the one it took it from. Domain
//! layer.

use super::job::Publisher;
use crate::state::identity::{is_running, ProcessId};
use crate::state::PathState;

impl Publisher<'_> {
    /// Applies `change` to the entry while this instance owns it. The first
    /// write claims the entry: this instance becomes its `supervisor_pid`.
    pub(super) fn write(&mut self, change: impl FnOnce(&mut PathState)) {
        let (me, path, demand_at) = (self.me, self.path.as_str(), self.demand_at);
        let claim = (!self.claimed).then(|| self.device.clone());
        let me_process = if self.claimed { None } else { ProcessId::me() };
        // update_path touches only this path's entry (others are copied
        // through), so many cameras in one state stay cheap.
        let result = self.ctx.store.update_path(path, |p| {
            let mut previous = None;
            let mut base = None;
            if let Some(device) = claim {
                // The path's count goes on across instances (MediaMTX
                // starts a new `hook run` for each demand): a counter.
                base = Some(p.publisher.restarts);
                previous = p
                    .publisher
                    .supervisor_pid
                    .filter(|&pid| pid != me)
                    .map(|_| p.publisher.clone());
                p.publisher.claim(device, me, me_process, demand_at);
            }
            // A newer instance owns the entry: leave it alone.
            if p.publisher.supervisor_pid == Some(me) {
                change(p);
            }
            if let Some(base) = base {
                p.publisher.restarts = p.publisher.restarts.saturating_add(base);
            }
            Ok((previous, base))
        });
        let result = result.map(|(previous, base)| {
            if !self.claimed {
                self.claimed = true;
                self.previous = previous;
                self.restarts_base = base.unwrap_or(0);
            }
        });
        self.note_write(result);
    }

    /// When this instance never started FFmpeg and the instance it took the
    /// entry from still runs, gives the entry back as it was, that owner's
    /// error included (a waiting instance's "device busy" is not the
    /// owner's), and returns true.
    pub(super) fn give_back(&mut self) -> bool {
        let spawned = self.spawned;
        let Some(prev) = self.previous.take().filter(|prev| {
            !spawned
                && prev
                    .supervisor_pid
                    .is_some_and(|pid| is_running(pid, prev.supervisor_process.as_ref()))
        }) else {
            return false;
        };
        self.write(|p| p.publisher.give_back(prev));
        true
    }

    /// A failed state write is logged once per run of failures and otherwise
    /// ignored: the stream matters more than the record of it.
    fn note_write(&mut self, result: anyhow::Result<()>) {
        match result {
            Ok(()) => self.write_failed = false,
            Err(e) if !self.write_failed => {
                self.write_failed = true;
                log::warn!("cannot record state (streaming goes on): {e:#}");
            }
            Err(e) => log::debug!("cannot record state: {e:#}"),
        }
    }
}
