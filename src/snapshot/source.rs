//! Where a snapshot's frame comes from: MediaMTX's live stream of the
//! path, the device itself, or the path's live still when it is young
//! enough. Domain layer.

use std::path::Path;
use std::time::Duration;

use super::jpeg::{check_jpeg, MAX_JPEG};
use crate::camera::capture::TEST_PATTERN;
use crate::error::usage;
use crate::mediamtx::api::{ApiError, PathInfo};
use crate::state::{now, SnapshotSource};

/// Where the frame comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// MediaMTX's stream of the path, on loopback.
    Stream,
    /// The device itself (no stream runs).
    Device,
}

impl Source {
    /// How the state records a snapshot taken from it.
    pub(crate) fn recorded(&self) -> SnapshotSource {
        match self {
            Source::Stream => SnapshotSource::Stream,
            Source::Device => SnapshotSource::Device,
        }
    }
}

/// Decides the source from what the Control API said and, when it could not
/// be asked, from whether a publisher is recorded as running.
pub(crate) fn choose_source(
    api: &Result<Option<PathInfo>, ApiError>,
    publisher_running: bool,
) -> Source {
    match api {
        Ok(Some(info)) if info.available => Source::Stream,
        Ok(_) => Source::Device,
        Err(_) if publisher_running => Source::Stream,
        Err(_) => Source::Device,
    }
}

/// The device a snapshot opens: `--device`, else the one `hook run` last
/// used for the path, else `/dev/videoN` from the path name's number.
pub(super) fn device_for(
    flag: Option<&str>,
    path: &str,
    recorded: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(d) = flag {
        return Ok(d.to_string());
    }
    if let Some(d) = recorded {
        return Ok(d.to_string());
    }
    match crate::mediamtx::env::trailing_number(path) {
        Some(n) => Ok(format!("/dev/video{n}")),
        None => Err(usage(format!(
            "path {path:?} has no number at its end and no device is recorded for it: give --device /dev/videoN (or --device {TEST_PATTERN})"
        ))),
    }
}

/// The live still at `file` when it is younger than `max_age` and one whole
/// JPEG: its bytes and age. Err says why not.
pub(super) fn fresh_still(file: &Path, max_age: Duration) -> Result<(Vec<u8>, Duration), String> {
    let (jpeg, at) =
        crate::state::stills::read_still(file, MAX_JPEG as u64).map_err(|e| e.to_string())?;
    let age = (now() - at).max(time::Duration::ZERO);
    let age = Duration::from_secs_f64(age.as_seconds_f64());
    if age >= max_age {
        return Err(format!(
            "it is {:.1}s old, not younger than --max-age {}",
            age.as_secs_f64(),
            crate::policy::duration::Dur(max_age)
        ));
    }
    check_jpeg(&jpeg).map_err(|why| format!("it is not one whole JPEG: {why}"))?;
    Ok((jpeg, age))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mediamtx::api::ApiErrorKind;

    fn unreachable() -> Result<Option<PathInfo>, ApiError> {
        Err(ApiError {
            method: "GET",
            url: "http://127.0.0.1:9997/v3/paths/get/cam0".into(),
            kind: ApiErrorKind::Unreachable(std::io::ErrorKind::ConnectionRefused.into()),
        })
    }

    #[test]
    fn source_follows_the_api_then_the_state() {
        let live = Ok(Some(PathInfo {
            available: true,
            ..Default::default()
        }));
        let idle = Ok(Some(PathInfo::default()));
        assert_eq!(choose_source(&live, false), Source::Stream);
        assert_eq!(choose_source(&idle, true), Source::Device);
        assert_eq!(choose_source(&Ok(None), true), Source::Device);
        assert_eq!(choose_source(&unreachable(), true), Source::Stream);
        assert_eq!(choose_source(&unreachable(), false), Source::Device);
    }
}
