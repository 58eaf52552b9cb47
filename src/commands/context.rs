//! What every command gets, built once from the parsed command line: where
//! the state lives, the policy values, and where the encoder probe caches its
//! answer.

use std::path::{Path, PathBuf};

use crate::camera::capture::CaptureRequest;
use crate::cli::{Cli, DeviceArgs};
use crate::policy::Policy;
use crate::state::{default_state_dir, StateStore};

/// What every command gets: where the state lives and the policy values.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: StateStore,
    pub policy: Policy,
    /// Where the encoder probe caches its result: the state directory.
    pub cache_dir: PathBuf,
}

impl Context {
    /// The context of a parsed command line: the state store from
    /// `--state-dir` / `HOOK_STATE_DIR` or the default, the policy from
    /// `--config` / `HOOK_CONFIG` or the built-in one.
    pub fn new(cli: &Cli) -> anyhow::Result<Context> {
        let store = StateStore::new(cli.state_dir.clone().unwrap_or_else(default_state_dir));
        let policy = Policy::load(cli.config.as_deref())?;
        let cache_dir = store.dir().to_path_buf();
        Ok(Context {
            store,
            policy,
            cache_dir,
        })
    }

    /// The capture request of the device flags: what `camera` needs to
    /// choose the input and the encoder. Each flag's value was checked while
    /// the command line was read; the one check that takes two of them is
    /// made here, once (a usage error).
    pub fn capture_request(&self, args: &DeviceArgs) -> anyhow::Result<CaptureRequest> {
        let request = capture_request(args, Some(&self.cache_dir));
        request.check()?;
        Ok(request)
    }
}

/// The capture request of the device flags, with the encoder-probe cache in
/// `cache_dir` (none: probe every time).
pub fn capture_request(args: &DeviceArgs, cache_dir: Option<&Path>) -> CaptureRequest {
    CaptureRequest {
        input_format: args.input_format.clone(),
        size: args.size,
        fps: args.fps,
        encoder: args.encoder,
        bitrate: args.bitrate.clone(),
        ffmpeg: args.ffmpeg.clone(),
        cache_dir: cache_dir.map(Path::to_path_buf),
    }
}
