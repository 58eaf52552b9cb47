//! FFmpeg command lines, built as argument vectors by pure functions.
//!
//! Nothing here touches a process: the supervisor runs what these return.
//! Every command line carries `-progress pipe:1 -nostats` (progress blocks on
//! stdout, which the stall watchdog reads), `-nostdin` (FFmpeg must never read
//! the terminal or MediaMTX's stdin) and `-hide_banner` with `-loglevel
//! warning` (stderr keeps only what is worth showing in `hook status`).

pub(crate) mod diagnose;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use crate::camera::capture::{CaptureInput, Source, DEFAULT_FPS};
use crate::camera::encoder_choice::EncoderChoice;

/// Bitrate given to the hardware encoder when none is asked for: the
/// `h264_v4l2m2m` driver fails or produces garbage at very low bitrates.
pub(crate) const V4L2M2M_DEFAULT_BITRATE: &str = "2M";

/// The RTSP URL MediaMTX serves a path on, on loopback.
pub(crate) fn rtsp_url(port: u16, path: &str) -> String {
    format!("rtsp://127.0.0.1:{port}/{path}")
}

/// Options every supervised FFmpeg gets first.
fn common_head() -> Vec<OsString> {
    [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-nostats",
        "-progress",
        "pipe:1",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

/// RTP packet size of the publisher's RTSP output: FFmpeg's default (1472)
/// carries 1460-byte payloads, above MediaMTX's 1440, and MediaMTX would
/// re-packetize every packet ("RTP packets are too big").
pub(crate) const RTSP_PKT_SIZE: &str = "1400";

/// A live still the publisher writes beside its stream: one JPEG at `file`,
/// rewritten every `every`, atomically (FFmpeg's image2 muxer writes
/// `<file>.tmp` and renames it over `file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Still {
    pub file: PathBuf,
    pub every: Duration,
}

impl Still {
    /// The fps filter for one picture per `every`: `fps=fps=1000/<ms>`.
    fn fps_filter(&self) -> String {
        let ms = self.every.as_millis().max(1);
        format!("fps=fps=1000/{ms}")
    }

    /// The still's output options and file, after its stream's mapping.
    /// Full-range 4:2:0 (what JPEG viewers expect) through a conversion
    /// that FFmpeg does not warn about on every start.
    fn push_output(&self, args: &mut Vec<OsString>) {
        push(
            args,
            &[
                "-c:v",
                "mjpeg",
                "-strict",
                "unofficial",
                "-color_range",
                "pc",
                "-q:v",
                "3",
                "-f",
                "image2",
                "-update",
                "1",
                "-atomic_writing",
                "1",
            ],
        );
        // `file:` so that no part of the name is read as a protocol.
        let mut file = OsString::from("file:");
        file.push(self.file.as_os_str());
        args.push(file);
    }

    /// The still's filter after the fps limit.
    fn filter(&self) -> String {
        format!("{},scale=out_range=full,format=yuv420p", self.fps_filter())
    }
}

/// How the decoded picture of an MJPEG camera (full-range 4:2:2, as JPEG
/// is) becomes the limited-range 4:2:0 the encoder is given
/// (`-pix_fmt yuv420p`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Chroma {
    /// libswscale, which FFmpeg inserts for `-pix_fmt yuv420p` (bicubic):
    /// its generic path, as costly as decoding the JPEG.
    #[default]
    Swscale,
    /// The `zscale` filter (libzimg), bicubic: the same picture (its chroma
    /// closer to the source than libswscale's) at about a third of the cost.
    /// Only where FFmpeg has it (`camera::filter_probe`).
    Zscale,
}

/// The MJPEG conversion with [`Chroma::Zscale`].
pub(crate) const ZSCALE_TO_420: &str = "zscale=range=limited:filter=bicubic,format=yuv420p";

/// The publisher: capture `input` and publish it to MediaMTX at
/// `rtsp://127.0.0.1:{port}/{path}` over TCP, with a key frame every second,
/// and, with `still`, write a JPEG of the live picture at its interval.
///
/// A copied (H.264) input is decoded only for the still, key frames only
/// (`-skip_frame nokey`), then fps-limited, so the copy stays cheap; an
/// encoded input's decoded picture is split between the encoder and the
/// still (`-filter_complex split`). The stream is always output 0, so the
/// `-progress` frame count the stall watchdog reads is the stream's. An
/// encoded MJPEG camera's picture is converted to 4:2:0 as `chroma` says
/// (the still keeps the full-range picture).
pub(crate) fn publish_args(
    input: &CaptureInput,
    port: u16,
    path: &str,
    still: Option<&Still>,
    chroma: Chroma,
) -> Vec<OsString> {
    let mut args = common_head();
    let fps = input.fps.unwrap_or(DEFAULT_FPS).max(1);
    let copy = input.encoder == EncoderChoice::Copy;
    let zscale = chroma == Chroma::Zscale
        && !copy
        && matches!(&input.source, Source::Device(_))
        && input.input_format.as_deref() == Some("mjpeg");
    if still.is_some() && copy {
        // A decoder option: the copy to RTSP is not decoded at all.
        push(&mut args, &["-skip_frame", "nokey"]);
    }
    match &input.source {
        Source::TestPattern => {
            let (w, h) = input
                .size
                .unwrap_or(crate::camera::capture::TEST_PATTERN_SIZE);
            // -re: the synthetic source would otherwise run as fast as the CPU.
            push(&mut args, &["-re", "-f", "lavfi", "-i"]);
            args.push(format!("testsrc2=size={w}x{h}:rate={fps}").into());
        }
        Source::Device(device) => {
            push(&mut args, &["-f", "v4l2"]);
            if let Some(format) = &input.input_format {
                push(&mut args, &["-input_format", format]);
            }
            if let Some((w, h)) = input.size {
                push(&mut args, &["-video_size"]);
                args.push(format!("{w}x{h}").into());
            }
            if let Some(rate) = input.fps {
                push(&mut args, &["-framerate"]);
                args.push(rate.to_string().into());
            }
            push(&mut args, &["-i"]);
            args.push(OsStr::new(device.as_os_str()).to_os_string());
        }
    }
    let gop = fps.to_string();
    match (still, copy) {
        (Some(_), true) => push(&mut args, &["-map", "0:v"]),
        (Some(still), false) => {
            push(&mut args, &["-filter_complex"]);
            let stream = if zscale {
                format!("[0:v]split=2[picture][still];[picture]{ZSCALE_TO_420}[stream]")
            } else {
                "[0:v]split=2[stream][still]".to_string()
            };
            args.push(format!("{stream};[still]{}[jpeg]", still.filter()).into());
            push(&mut args, &["-map", "[stream]"]);
        }
        (None, false) if zscale => push(&mut args, &["-vf", ZSCALE_TO_420]),
        (None, _) => {}
    }
    match input.encoder {
        EncoderChoice::Copy => push(&mut args, &["-c:v", "copy"]),
        EncoderChoice::Libx264 => {
            push(
                &mut args,
                &[
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-tune",
                    "zerolatency",
                    // Cameras deliver 4:2:2; most players only decode 4:2:0.
                    "-pix_fmt",
                    "yuv420p",
                    "-g",
                    &gop,
                    "-keyint_min",
                    &gop,
                    "-force_key_frames",
                    "expr:gte(t,n_forced*1)",
                ],
            );
            if let Some(b) = &input.bitrate {
                push(&mut args, &["-b:v", b]);
            }
        }
        EncoderChoice::V4l2m2m => {
            let bitrate = input.bitrate.as_deref().unwrap_or(V4L2M2M_DEFAULT_BITRATE);
            push(
                &mut args,
                &[
                    // The Raspberry Pi encoder takes only planar 4:2:0 input.
                    "-pix_fmt",
                    "yuv420p",
                    "-c:v",
                    "h264_v4l2m2m",
                    "-b:v",
                    bitrate,
                    "-g",
                    &gop,
                    "-force_key_frames",
                    "expr:gte(t,n_forced*1)",
                ],
            );
        }
    }
    push(
        &mut args,
        &[
            "-an",
            "-f",
            "rtsp",
            "-rtsp_transport",
            "tcp",
            "-pkt_size",
            RTSP_PKT_SIZE,
        ],
    );
    args.push(rtsp_url(port, path).into());
    match (still, copy) {
        (Some(still), true) => {
            push(&mut args, &["-map", "0:v", "-vf"]);
            args.push(still.filter().into());
            still.push_output(&mut args);
        }
        (Some(still), false) => {
            push(&mut args, &["-map", "[jpeg]"]);
            still.push_output(&mut args);
        }
        (None, _) => {}
    }
    args
}

/// What one `-progress` block says, as far as the stall watchdog cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Frames so far (`frame=`).
    pub frames: u64,
    /// Output bytes so far (`total_size=`).
    pub bytes: u64,
    /// Media time written so far, microseconds (`out_time_us=`): advances
    /// for stream copies to `-f null`, whose byte count stays 0.
    pub out_time_us: u64,
}

impl Progress {
    /// True when anything in `self` moved forward since `before`.
    pub(crate) fn advanced_since(&self, before: &Progress) -> bool {
        self.frames > before.frames
            || self.bytes > before.bytes
            || self.out_time_us > before.out_time_us
    }
}

/// Folds one line of FFmpeg's `-progress` output into `progress`. Returns
/// true when the line ends a block (`progress=continue` / `progress=end`).
pub(crate) fn parse_progress_line(line: &str, progress: &mut Progress) -> bool {
    let Some((key, value)) = line.trim().split_once('=') else {
        return false;
    };
    let value = value.trim();
    match key {
        "frame" => {
            if let Ok(n) = value.parse() {
                progress.frames = n;
            }
            false
        }
        "total_size" => {
            if let Ok(n) = value.parse() {
                progress.bytes = n;
            }
            false
        }
        "out_time_us" => {
            // Negative before the first packet; N/A when unknown.
            if let Ok(n) = value.parse::<i64>() {
                progress.out_time_us = n.max(0) as u64;
            }
            false
        }
        "progress" => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn value_of(args: &[String], flag: &str) -> Option<String> {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].clone())
    }

    fn test_pattern() -> CaptureInput {
        CaptureInput {
            source: Source::TestPattern,
            input_format: None,
            size: Some((320, 240)),
            fps: Some(10),
            encoder: EncoderChoice::Libx264,
            bitrate: None,
        }
    }

    #[test]
    fn test_pattern_publishes_over_tcp_with_a_key_frame_per_second() {
        let a = strings(&publish_args(
            &test_pattern(),
            8554,
            "camera0",
            None,
            Chroma::Swscale,
        ));
        assert_eq!(a.last().unwrap(), "rtsp://127.0.0.1:8554/camera0");
        assert_eq!(value_of(&a, "-rtsp_transport").unwrap(), "tcp");
        assert_eq!(value_of(&a, "-f").unwrap(), "lavfi");
        assert!(a.contains(&"-re".to_string()));
        assert_eq!(value_of(&a, "-i").unwrap(), "testsrc2=size=320x240:rate=10");
        assert_eq!(value_of(&a, "-c:v").unwrap(), "libx264");
        assert_eq!(value_of(&a, "-preset").unwrap(), "ultrafast");
        assert_eq!(value_of(&a, "-tune").unwrap(), "zerolatency");
        assert_eq!(value_of(&a, "-g").unwrap(), "10");
        assert_eq!(
            value_of(&a, "-force_key_frames").unwrap(),
            "expr:gte(t,n_forced*1)"
        );
        assert_eq!(value_of(&a, "-progress").unwrap(), "pipe:1");
        for flag in ["-nostats", "-nostdin", "-hide_banner", "-an"] {
            assert!(a.contains(&flag.to_string()), "{flag}");
        }
        // The output options come after the input, the URL last.
        let i = a.iter().position(|x| x == "-i").unwrap();
        let c = a.iter().position(|x| x == "-c:v").unwrap();
        assert!(i < c);
    }

    #[test]
    fn camera_input_options_follow_the_choice() {
        let input = CaptureInput {
            source: Source::Device(PathBuf::from("/dev/video2")),
            input_format: Some("mjpeg".into()),
            size: Some((1280, 720)),
            fps: Some(30),
            encoder: EncoderChoice::Libx264,
            bitrate: Some("1500k".into()),
        };
        let a = strings(&publish_args(&input, 9000, "cam2", None, Chroma::Swscale));
        assert_eq!(value_of(&a, "-f").unwrap(), "v4l2");
        assert_eq!(value_of(&a, "-input_format").unwrap(), "mjpeg");
        assert_eq!(value_of(&a, "-video_size").unwrap(), "1280x720");
        assert_eq!(value_of(&a, "-framerate").unwrap(), "30");
        assert_eq!(value_of(&a, "-i").unwrap(), "/dev/video2");
        assert_eq!(value_of(&a, "-pix_fmt").unwrap(), "yuv420p");
        assert_eq!(value_of(&a, "-b:v").unwrap(), "1500k");
        assert_eq!(value_of(&a, "-g").unwrap(), "30");
        assert!(!a.contains(&"-re".to_string()), "a camera paces itself");
        assert_eq!(a.last().unwrap(), "rtsp://127.0.0.1:9000/cam2");
    }

    fn mjpeg_camera() -> CaptureInput {
        CaptureInput {
            source: Source::Device(PathBuf::from("/dev/video0")),
            input_format: Some("mjpeg".into()),
            size: Some((1280, 720)),
            fps: Some(30),
            encoder: EncoderChoice::Libx264,
            bitrate: None,
        }
    }

    #[test]
    fn mjpeg_is_converted_by_zscale_when_asked() {
        let a = strings(&publish_args(
            &mjpeg_camera(),
            8554,
            "c",
            None,
            Chroma::Zscale,
        ));
        assert_eq!(value_of(&a, "-vf").unwrap(), ZSCALE_TO_420);
        assert_eq!(
            ZSCALE_TO_420,
            "zscale=range=limited:filter=bicubic,format=yuv420p"
        );
        // The stream stays what it was: 4:2:0, the same key frames, size, rate.
        assert_eq!(value_of(&a, "-pix_fmt").unwrap(), "yuv420p");
        assert_eq!(value_of(&a, "-g").unwrap(), "30");
        assert_eq!(value_of(&a, "-keyint_min").unwrap(), "30");
        assert_eq!(value_of(&a, "-video_size").unwrap(), "1280x720");
        assert_eq!(value_of(&a, "-framerate").unwrap(), "30");
        let i = a.iter().position(|x| x == "-i").unwrap();
        let vf = a.iter().position(|x| x == "-vf").unwrap();
        let c = a.iter().position(|x| x == "-c:v").unwrap();
        assert!(i < vf && vf < c, "{a:?}");
        // With libswscale there is no filter: -pix_fmt converts.
        let a = strings(&publish_args(
            &mjpeg_camera(),
            8554,
            "c",
            None,
            Chroma::Swscale,
        ));
        assert!(!a.contains(&"-vf".to_string()), "{a:?}");
        assert_eq!(value_of(&a, "-pix_fmt").unwrap(), "yuv420p");
    }

    #[test]
    fn zscale_only_for_an_encoded_mjpeg_camera() {
        let mut yuyv = mjpeg_camera();
        yuyv.input_format = Some("yuyv422".into());
        let mut copy = mjpeg_camera();
        copy.input_format = Some("h264".into());
        copy.encoder = EncoderChoice::Copy;
        for input in [yuyv, copy, test_pattern()] {
            let a = strings(&publish_args(&input, 8554, "c", None, Chroma::Zscale));
            assert!(!a.iter().any(|x| x.contains("zscale")), "{a:?}");
        }
        let mut hw = mjpeg_camera();
        hw.encoder = EncoderChoice::V4l2m2m;
        let a = strings(&publish_args(&hw, 8554, "c", None, Chroma::Zscale));
        assert_eq!(value_of(&a, "-vf").unwrap(), ZSCALE_TO_420);
    }

    #[test]
    fn with_a_still_zscale_converts_the_stream_branch_only() {
        let a = strings(&publish_args(
            &mjpeg_camera(),
            8554,
            "camera0",
            Some(&still()),
            Chroma::Zscale,
        ));
        assert_eq!(
            value_of(&a, "-filter_complex").unwrap(),
            format!("[0:v]split=2[picture][still];[picture]{ZSCALE_TO_420}[stream];[still]fps=fps=1000/10000,scale=out_range=full,format=yuv420p[jpeg]")
        );
        assert!(!a.contains(&"-vf".to_string()), "{a:?}");
        assert_eq!(value_of(&a, "-map").unwrap(), "[stream]");
    }

    /// FFmpeg runs the zscale command line on a full-range 4:2:2 picture
    /// (what the MJPEG decoder gives) without a warning. Needs an FFmpeg with
    /// zscale (libzimg), as Debian's has.
    #[test]
    fn ffmpeg_runs_the_zscale_conversion() {
        let mut a = publish_args(&mjpeg_camera(), 8554, "c", None, Chroma::Zscale);
        let f = a.iter().position(|x| x == "v4l2").unwrap();
        let i = a.iter().position(|x| x == "-i").unwrap();
        let input: Vec<OsString> = [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30,format=yuvj422p",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        a.splice(f - 1..i + 2, input);
        let rtsp = a.iter().position(|x| x == "rtsp").unwrap();
        a.truncate(rtsp - 1);
        a.extend(["-t", "0.5", "-f", "h264", "-"].map(OsString::from));
        // Progress and frames both go to stdout: progress to null instead.
        let p = a.iter().position(|x| x == "pipe:1").unwrap();
        a[p] = "/dev/null".into();
        let out = std::process::Command::new("ffmpeg")
            .args(&a)
            .output()
            .expect("ffmpeg runs");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // 15 frames of H.264 on stdout.
        assert!(out.stdout.len() > 1000, "{} bytes", out.stdout.len());
    }

    #[test]
    fn unknown_camera_values_are_left_to_ffmpeg() {
        let input = CaptureInput {
            source: Source::Device(PathBuf::from("/dev/video0")),
            input_format: None,
            size: None,
            fps: None,
            encoder: EncoderChoice::Copy,
            bitrate: None,
        };
        let a = strings(&publish_args(
            &input,
            8554,
            "camera0",
            None,
            Chroma::Swscale,
        ));
        for flag in ["-input_format", "-video_size", "-framerate", "-g", "-b:v"] {
            assert!(!a.contains(&flag.to_string()), "{flag} in {a:?}");
        }
        assert_eq!(value_of(&a, "-c:v").unwrap(), "copy");
    }

    #[test]
    fn hardware_encoder_gets_yuv420p_before_it_and_a_usable_bitrate() {
        let mut input = test_pattern();
        input.encoder = EncoderChoice::V4l2m2m;
        let a = strings(&publish_args(&input, 8554, "c", None, Chroma::Swscale));
        let pix = a.iter().position(|x| x == "-pix_fmt").unwrap();
        let enc = a.iter().position(|x| x == "h264_v4l2m2m").unwrap();
        assert!(pix < enc);
        assert_eq!(value_of(&a, "-pix_fmt").unwrap(), "yuv420p");
        assert_eq!(value_of(&a, "-b:v").unwrap(), V4L2M2M_DEFAULT_BITRATE);
        input.bitrate = Some("4M".into());
        let a = strings(&publish_args(&input, 8554, "c", None, Chroma::Swscale));
        assert_eq!(value_of(&a, "-b:v").unwrap(), "4M");
    }

    #[test]
    fn odd_path_names_stay_one_argument() {
        let a = publish_args(
            &test_pattern(),
            8554,
            "cam; rm -rf $HOME",
            None,
            Chroma::Swscale,
        );
        assert_eq!(
            a.last().unwrap(),
            &OsString::from("rtsp://127.0.0.1:8554/cam; rm -rf $HOME")
        );
    }

    #[test]
    fn rtsp_packets_fit_mediamtx() {
        let a = strings(&publish_args(
            &test_pattern(),
            8554,
            "c",
            None,
            Chroma::Swscale,
        ));
        let url = a.len() - 1;
        let pkt = a.iter().position(|x| x == "-pkt_size").unwrap();
        assert!(pkt < url);
        assert_eq!(a[pkt + 1], "1400");
    }

    fn still() -> Still {
        Still {
            file: PathBuf::from("/var/lib/mediamtx-hook/stills/camera0.jpg"),
            every: Duration::from_secs(10),
        }
    }

    #[test]
    fn an_encoded_input_splits_its_picture_for_the_still() {
        let a = strings(&publish_args(
            &test_pattern(),
            8554,
            "camera0",
            Some(&still()),
            Chroma::Swscale,
        ));
        assert_eq!(
            value_of(&a, "-filter_complex").unwrap(),
            "[0:v]split=2[stream][still];[still]fps=fps=1000/10000,scale=out_range=full,format=yuv420p[jpeg]"
        );
        assert!(!a.contains(&"-skip_frame".to_string()));
        // The stream is output 0 (its frame count feeds the stall watchdog).
        let url = a
            .iter()
            .position(|x| x == "rtsp://127.0.0.1:8554/camera0")
            .unwrap();
        let stream = a.iter().position(|x| x == "[stream]").unwrap();
        let jpeg = a.iter().position(|x| x == "[jpeg]").unwrap();
        let x264 = a.iter().position(|x| x == "libx264").unwrap();
        assert!(stream < x264 && x264 < url && url < jpeg, "{a:?}");
        let tail = a[jpeg + 1..].join(" ");
        assert_eq!(
            tail,
            "-c:v mjpeg -strict unofficial -color_range pc -q:v 3 -f image2 -update 1 -atomic_writing 1 file:/var/lib/mediamtx-hook/stills/camera0.jpg"
        );
    }

    #[test]
    fn a_copied_input_decodes_key_frames_only_for_the_still() {
        let input = CaptureInput {
            source: Source::Device(PathBuf::from("/dev/video0")),
            input_format: Some("h264".into()),
            size: None,
            fps: None,
            encoder: EncoderChoice::Copy,
            bitrate: None,
        };
        let a = strings(&publish_args(
            &input,
            8554,
            "camera0",
            Some(&still()),
            Chroma::Swscale,
        ));
        let skip = a.iter().position(|x| x == "-skip_frame").unwrap();
        let i = a.iter().position(|x| x == "-i").unwrap();
        assert!(skip < i, "an input option: {a:?}");
        assert_eq!(a[skip + 1], "nokey");
        assert!(!a.contains(&"-filter_complex".to_string()));
        assert_eq!(value_of(&a, "-c:v").unwrap(), "copy");
        assert_eq!(
            value_of(&a, "-vf").unwrap(),
            "fps=fps=1000/10000,scale=out_range=full,format=yuv420p"
        );
        let url = a
            .iter()
            .position(|x| x == "rtsp://127.0.0.1:8554/camera0")
            .unwrap();
        let vf = a.iter().position(|x| x == "-vf").unwrap();
        assert!(url < vf);
        assert_eq!(a.iter().filter(|x| *x == "-map").count(), 2);
        assert_eq!(
            a.last().unwrap(),
            "file:/var/lib/mediamtx-hook/stills/camera0.jpg"
        );
    }

    /// The command lines run: FFmpeg accepts them and writes whole JPEGs
    /// (a null output stands in for the RTSP server).
    #[test]
    fn ffmpeg_accepts_the_still_outputs() {
        let tmp = tempfile::Builder::new()
            .prefix("hook-still-args-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let s = Still {
            file: dir.join("cam%2F0.jpg"),
            every: Duration::from_millis(200),
        };
        let mut a = publish_args(&test_pattern(), 8554, "c", Some(&s), Chroma::Swscale);
        let url = a.iter().position(|x| x == "rtsp").unwrap();
        // -f rtsp … URL becomes -f null -
        a[url] = "null".into();
        let u = a
            .iter()
            .position(|x| x.to_string_lossy().starts_with("rtsp://"))
            .unwrap();
        a[u] = "-".into();
        let pkt = a.iter().position(|x| x == "-pkt_size").unwrap();
        a.drain(pkt..pkt + 2);
        a.retain(|x| x != "-re");
        a.splice(0..0, [OsString::from("-t"), OsString::from("1")]);
        let out = std::process::Command::new("ffmpeg")
            .args(&a)
            .output()
            .expect("ffmpeg runs");
        let jpeg = std::fs::read(&s.file);
        assert!(
            out.status.success(),
            "{:?}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let jpeg = jpeg.expect("the still was written");
        assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]));
    }

    #[test]
    fn progress_blocks() {
        let mut p = Progress::default();
        assert!(!parse_progress_line("frame=12", &mut p));
        assert!(!parse_progress_line("fps=10.0", &mut p));
        assert!(!parse_progress_line("total_size=4096", &mut p));
        assert!(!parse_progress_line("garbage", &mut p));
        assert!(!parse_progress_line("frame=N/A", &mut p));
        assert!(!parse_progress_line(
            "out_time_us=-9223372036854775807",
            &mut p
        ));
        assert!(parse_progress_line("progress=continue", &mut p));
        let first = Progress {
            frames: 12,
            bytes: 4096,
            out_time_us: 0,
        };
        assert_eq!(p, first);
        assert!(!p.advanced_since(&first));
        parse_progress_line("out_time_us=400000", &mut p);
        assert!(p.advanced_since(&first));
    }
}
