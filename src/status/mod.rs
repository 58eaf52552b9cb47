//! How `hook status` shows what it observed: human text, JSON, Prometheus
//! metrics (`units` the units people read); `view` puts the status together (the state checked against the
//! living processes by `state::observe`, the recording's trouble, the disk
//! budget) and renders it in the format asked for.

pub mod events;
pub mod forecast;
pub mod human;
pub mod json;
pub mod prometheus;
pub mod recording;
pub mod storage;
pub mod units;
pub mod view;
