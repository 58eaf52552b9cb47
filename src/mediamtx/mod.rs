//! MediaMTX as the hook sees it: the variables it hands a hook (`env`), its
//! Control API (`api`, its URLs in `url`), the `paths:` entries
//! that wire the hook into `mediamtx.yml` (`config`, for the cameras
//! `cameras` names), and its RTSP server
//! (`rtsp_auth`, the native reader `rtsp_reader`, the login relay
//! `rtsp_relay`).

pub mod api;
pub mod cameras;
pub(crate) mod config;
pub mod env;
pub mod rtsp_auth;
pub mod rtsp_reader;
pub mod rtsp_relay;
mod url;
