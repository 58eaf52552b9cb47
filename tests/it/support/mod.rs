#![allow(dead_code)]
//! What the integration tests share: temporary directories, free ports,
//! running `hook`, the stand-ins for MediaMTX and RTSP peers.

pub mod auth_server;
pub mod cmd;
pub mod common;
pub mod drill;
pub mod e2e;
pub mod fakecam;
pub mod prom;
pub mod run;
pub mod standin;
