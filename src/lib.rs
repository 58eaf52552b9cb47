//! mediamtx-hook: the library behind the `hook` binary.
//!
//! One module per concern: MediaMTX's environment (`mtx_env`), the use-case
//! policy (`policy`), the Control API client (`api`), the state store
//! (`state`), the capture input (`capture`) with V4L2 probing (`v4l_probe`,
//! `v4l_formats`, `device_error`) and the input and encoder choice
//! (`input_choice`, `encoder_choice`), FFmpeg's command lines (`ffmpeg`),
//! the supervision of a child (`supervisor`, built on `process`, `signals`,
//! `backoff` and `device_lock`), the commands (`run`, `ready`,
//! `segment`, `record`, `snapshot`, `stop`, `status`, `devices`,
//! `mediamtx_config`).

pub mod api;
pub mod backoff;
#[cfg(test)]
mod camera_tables;
pub mod capture;
pub mod cli;
pub mod completions;
pub mod device_error;
pub mod device_lock;
pub mod devices;
pub mod duration;
pub mod encoder_choice;
pub mod error;
pub mod ffmpeg;
pub mod footprint;
pub mod input_choice;
pub mod logging;
pub mod manpage;
pub mod mediamtx_config;
pub mod mtx_env;
pub mod policy;
pub mod process;
pub mod process_identity;
pub mod prometheus;
pub mod ready;
pub mod record;
pub mod rtsp_auth;
pub mod rtsp_reader;
pub mod rtsp_relay;
pub mod run;
pub mod segment;
pub mod signals;
pub mod snapshot;
pub mod state;
pub mod state_files;
pub mod status;
pub mod stop;
pub mod supervisor;
pub mod v4l_formats;
pub mod v4l_probe;
