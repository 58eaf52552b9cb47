//! The arguments MediaMTX's variables fill: hidden `env` arguments shared by
//! the commands MediaMTX runs (and by those a person runs beside them).

use clap::Args;

use super::values;
use crate::mediamtx::env as mtx_env;

/// MediaMTX's `MTX_PATH`, for the hooks it runs (hidden: MediaMTX sets it).
#[derive(Debug, Clone, Default, Args)]
pub struct MtxPathArg {
    /// The MediaMTX path name (MTX_PATH, set by MediaMTX)
    #[arg(long = "mtx-path", env = "MTX_PATH", hide = true, value_name = "NAME",
          value_parser = values::path_name("MTX_PATH"))]
    pub mtx_path: Option<String>,
}

impl MtxPathArg {
    /// The path name, which must be set.
    pub(crate) fn name(&self) -> anyhow::Result<String> {
        self.mtx_path
            .clone()
            .map_or_else(|| mtx_env::validate_path_name(None, "MTX_PATH"), Ok)
    }
}

/// MediaMTX's RTSP port: `RTSP_PORT` (set by MediaMTX for its hooks; for
/// commands a person runs, from the environment too), else 8554.
#[derive(Debug, Clone, Args)]
pub struct RtspPortArg {
    /// MediaMTX's RTSP port (RTSP_PORT)
    #[arg(long = "rtsp-port", env = "RTSP_PORT", hide = true, value_name = "PORT",
          default_value_t = mtx_env::DEFAULT_RTSP_PORT, value_parser = values::port("RTSP_PORT"))]
    pub rtsp_port: u16,
}
