//! Whether the FFmpeg binary has the `zscale` filter (libzimg), which turns
//! an MJPEG camera's full-range 4:2:2 into the limited-range 4:2:0 the
//! encoder takes at about a third of what libswscale's generic path costs
//! (the conversion libswscale makes for `-pix_fmt yuv420p` is a third of the
//! whole camera's CPU at 1280x720). Most builds have it (Debian's, Ubuntu's,
//! the static builds); where it is missing the publisher falls back to
//! `-pix_fmt yuv420p`.
//!
//! Asking costs one FFmpeg run (`-filters`), so the answer is cached in the
//! state directory (`filter-probe.json`) keyed by the FFmpeg binary (path,
//! size, mtime), as the encoder probe is.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::camera::encoder_choice::{identify, run_bounded, FfmpegId};

/// The file the answer is cached in, inside the state directory.
pub(crate) const CACHE_FILE: &str = "filter-probe.json";

/// The cached answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FilterRecord {
    /// The FFmpeg binary, resolved through PATH and links.
    pub ffmpeg: PathBuf,
    pub ffmpeg_size: u64,
    pub ffmpeg_mtime_ns: i128,
    pub zscale: bool,
}

impl FilterRecord {
    fn answers_for(&self, id: &FfmpegId) -> bool {
        self.ffmpeg == id.path && self.ffmpeg_size == id.size && self.ffmpeg_mtime_ns == id.mtime_ns
    }
}

/// True when `ffmpeg -filters` output lists `zscale` (a line such as
/// ` .SC zscale            V->V       Apply resizing, …`).
pub(crate) fn lists_zscale(filters: &str) -> bool {
    filters
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("zscale"))
}

/// True when `ffmpeg` has `zscale`: from the cache in `cache_dir` when it
/// answers for this binary, else by asking it (and caching the answer). An
/// FFmpeg that cannot be run or asked has not.
pub(crate) fn has_zscale_cached(ffmpeg: &Path, cache_dir: Option<&Path>) -> bool {
    let Some(id) = identify(ffmpeg) else {
        return false;
    };
    if let Some(dir) = cache_dir {
        if let Some(record) = crate::state::files::read_regular(dir, CACHE_FILE, 1 << 16)
            .ok()
            .and_then(|b| serde_json::from_slice::<FilterRecord>(&b).ok())
        {
            if record.answers_for(&id) {
                return record.zscale;
            }
        }
    }
    let zscale = match run_bounded(&id.path, &["-hide_banner", "-nostdin", "-filters"]) {
        Ok(run) if run.success => lists_zscale(&run.stdout),
        Ok(run) => {
            log::info!(
                "{} -filters failed: {}",
                id.path.display(),
                run.stderr.lines().last().unwrap_or("no error output")
            );
            return false;
        }
        Err(why) => {
            log::info!("cannot ask FFmpeg for its filters: {why}");
            return false;
        }
    };
    if !zscale {
        log::info!(
            "{} has no zscale filter (libzimg): MJPEG is converted to 4:2:0 by libswscale",
            id.path.display()
        );
    }
    if let Some(dir) = cache_dir {
        let record = FilterRecord {
            ffmpeg: id.path.clone(),
            ffmpeg_size: id.size,
            ffmpeg_mtime_ns: id.mtime_ns,
            zscale,
        };
        let bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
        if let Err(e) = crate::state::files::replace_file(dir, CACHE_FILE, &bytes) {
            log::warn!(
                "could not cache the filter probe in {}: {e}",
                dir.join(CACHE_FILE).display()
            );
        }
    }
    zscale
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_filter_list_is_read_by_name() {
        let listed = " T.. yadif             V->V       Deinterlace the input image.\n .SC zscale            V->V       Apply resizing, colorspace and bit depth conversion.\n";
        assert!(lists_zscale(listed));
        let not = " ..C scale             V->V       Scale the input video size and/or convert the image format.\n ... zscale_cuda        V->V       hypothetical\n Filters:\n  zscale is mentioned here\n";
        assert!(!lists_zscale(not));
    }

    fn temp_dir(tag: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("hook-filter-{tag}-"))
            .tempdir()
            .unwrap()
    }

    /// A stand-in FFmpeg that counts its runs and lists `zscale` or not.
    fn fake_ffmpeg(dir: &Path, with_zscale: bool) -> PathBuf {
        let bin = dir.join("ffmpeg");
        let line = if with_zscale {
            " .SC zscale            V->V       Apply resizing."
        } else {
            " ..C scale             V->V       Scale."
        };
        std::fs::write(
            &bin,
            format!(
                "#!/bin/sh\necho run >> {}/runs\necho 'Filters:'\necho '{line}'\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    fn runs(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("runs"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn asked_once_per_binary_then_cached() {
        let tmp = temp_dir("cache");
        let dir = tmp.path().to_path_buf();
        let state = dir.join("state");
        let ffmpeg = fake_ffmpeg(&dir, true);
        assert!(has_zscale_cached(&ffmpeg, Some(&state)));
        assert!(has_zscale_cached(&ffmpeg, Some(&state)));
        assert_eq!(runs(&dir), 1, "the second answer came from the cache");
        // Another binary at the same path (size and mtime change): asked again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ffmpeg = fake_ffmpeg(&dir, false);
        assert!(!has_zscale_cached(&ffmpeg, Some(&state)));
        assert_eq!(runs(&dir), 2);
        assert!(!has_zscale_cached(&ffmpeg, Some(&state)));
        assert_eq!(runs(&dir), 2);
        // No cache directory: asked every time.
        assert!(!has_zscale_cached(&ffmpeg, None));
        assert_eq!(runs(&dir), 3);
    }

    #[test]
    fn a_missing_ffmpeg_has_not() {
        let tmp = temp_dir("missing");
        let dir = tmp.path().to_path_buf();
        assert!(!has_zscale_cached(&dir.join("no-ffmpeg"), Some(&dir)));
    }
}
