//! The integration tests: one binary, one module per area and concern.
//! They drive the real `hook` binary with real FFmpeg, real RTSP peers,
//! real signals and real files. Run one area with
//! `cargo test --test it run_signals`.
//!
//! Tests that cannot run everywhere are `#[ignore]`d and named for what they
//! need, so `scripts/test.sh` can run the groups this machine can run:
//! `root_` (needs root), `real_` (needs `MEDIAMTX_BIN`), `tool_` (needs a
//! tool that `scripts/deps.sh` does not install) and `soak_` (long drills,
//! run by `scripts/soak.sh`).

mod support;

mod api_client;
mod camera_devices;
mod camera_e2e;
mod cli_basics;
mod config_mediamtx;
mod config_mediamtx_load;
mod config_policy;
mod devices_cli;
mod devices_run;
mod docs_reference;
mod drill_full_disk;
mod drill_overlap;
mod drill_restarts;
mod drill_signals;
mod e2e_mediamtx;
mod events_mediamtx;
mod events_ring;
mod fakecam_shim;
mod layout;
mod one_spawn_place;
mod ops_alerts;
mod ops_cli_docs;
mod ops_home_assistant;
mod ops_install;
mod ops_logging;
mod ops_prometheus;
mod ops_prometheus_e2e;
mod ops_session;
mod ops_systemd;
mod props_inputs;
mod record_api_answers;
mod record_events;
mod record_failures;
mod record_hook_stop;
mod record_native_reader;
mod record_races;
mod record_recover;
mod record_retrigger;
mod record_revive;
mod record_session;
mod record_stalled;
mod rtsp_credentials;
mod rtsp_credentials_mediamtx;
mod run_child_env;
mod run_device_lock;
mod run_errors;
mod run_restart;
mod run_signals;
mod run_soak;
mod run_stills;
mod segment_budget;
mod segment_complete;
mod snapshot_failures;
mod snapshot_safety;
mod snapshot_sources;
mod state_inputs;
mod state_ownership;
mod state_planted_links;
mod state_store;
mod state_unwritable_run;
mod status_forecast;
mod status_output;
