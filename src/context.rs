//! What every command gets, built once from the parsed command line: where
//! the state lives, the policy values, and where the encoder probe caches its
//! answer.

use std::path::{Path, PathBuf};

use crate::camera::capture::CaptureRequest;
use crate::policy::Policy;
use crate::state::{default_state_dir, StateStore};

/// What every command gets: where the state lives and the policy values.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub store: StateStore,
    pub policy: Policy,
    /// Where the encoder probe caches its result: the state directory.
    pub cache_dir: PathBuf,
}

impl Context {
    /// The context of a command line: the state store in `state_dir`
    /// (`--state-dir` / `HOOK_STATE_DIR`) or the default, the policy from
    /// `config` (`--config` / `HOOK_CONFIG`) or the built-in one.
    pub(crate) fn new(
        state_dir: Option<PathBuf>,
        config: Option<&Path>,
    ) -> anyhow::Result<Context> {
        let store = StateStore::new(state_dir.unwrap_or_else(default_state_dir));
        let policy = Policy::load(config)?;
        let cache_dir = store.dir().to_path_buf();
        Ok(Context {
            store,
            policy,
            cache_dir,
        })
    }

    /// A capture request with the encoder-probe cache in the state
    /// directory, checked: the one check that takes two device flags is
    /// made here, once (a usage error).
    pub(crate) fn capture_request(
        &self,
        mut request: CaptureRequest,
    ) -> anyhow::Result<CaptureRequest> {
        request.cache_dir = Some(self.cache_dir.clone());
        request.check()?;
        Ok(request)
    }
}
