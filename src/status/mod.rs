//! How `hook status` shows what it observed: human text, JSON, Prometheus
//! metrics. Rendering only; the observation itself is in `state`.

pub mod events;
pub mod forecast;
pub mod human;
pub mod json;
pub mod prometheus;
pub mod recording;
pub mod storage;
pub mod units;
