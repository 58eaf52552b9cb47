//! mediamtx-hook: the library behind the `hook` binary.
//!
//! One module per concern: MediaMTX's environment (`mtx_env`), the use-case
//! policy (`policy`), the Control API client (`api`), the state store
//! (`state`), the capture input (`capture`), the commands (`run`, `ready`, `segment`, `record`,
//! `snapshot`, `stop`, `status`, `devices`, `mediamtx_config`).

pub mod api;
pub mod capture;
pub mod cli;
pub mod devices;
pub mod duration;
pub mod error;
pub mod logging;
pub mod mediamtx_config;
pub mod mtx_env;
pub mod policy;
pub mod prometheus;
pub mod ready;
pub mod record;
pub mod run;
pub mod segment;
pub mod snapshot;
pub mod state;
pub mod status;
pub mod stop;
