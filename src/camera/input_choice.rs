//! Which of a camera's formats, sizes and frame rates `hook run` asks for.
//!
//! Pure functions over a capability table ([`FormatCaps`]), so every rule is
//! tested with tables copied from real cameras:
//! - format: the camera's H.264 (copied) > MJPEG > raw (see
//!   [`crate::camera::formats::KNOWN_FORMATS`] for the order); `--input-format`
//!   forces one, `--encoder copy` forces H.264;
//! - size: the largest not above the requested one (default 1280x720); a
//!   format with no size that small loses to one that has; when no format has
//!   one, the smallest size is taken, unless `--size` was given explicitly,
//!   which is then an error listing what the camera offers;
//! - frame rate: the one nearest the requested rate (default 30).

use crate::camera::device_error::Unsupported;
use crate::camera::formats::{self, FourCc, Kind};
use crate::camera::probe::{FormatCaps, FrameRates, FrameSize};

/// What the flags ask for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct InputRequest<'a> {
    /// `--input-format`, as typed.
    pub format: Option<&'a str>,
    /// The largest size wanted.
    pub size: (u32, u32),
    /// `--size` was given (the size is a limit, not a wish).
    pub size_explicit: bool,
    pub fps: u32,
    /// `--encoder copy`: only the camera's H.264 will do.
    pub h264_only: bool,
}

/// What FFmpeg will be told to capture.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct InputChoice {
    pub fourcc: FourCc,
    /// FFmpeg's `-input_format` value.
    pub ffmpeg_format: &'static str,
    pub kind: Kind,
    /// `None` when the driver lists no sizes (the driver then picks).
    pub size: Option<(u32, u32)>,
    pub fps: u32,
}

/// How one format can meet the size request.
#[derive(Clone, Debug, PartialEq)]
enum Fit<'a> {
    /// The largest size not above the request.
    Within((u32, u32), &'a FrameRates),
    /// Every size is above the request: the smallest.
    Above((u32, u32), &'a FrameRates),
    /// The driver lists no sizes.
    Unknown,
}

/// Chooses format, size and rate from `formats` for `req`.
pub(crate) fn choose_input(
    formats: &[FormatCaps],
    req: &InputRequest,
) -> Result<InputChoice, Unsupported> {
    let offered = || formats.iter().map(describe_format).collect::<Vec<_>>();
    let forced = if req.h264_only {
        Some("h264")
    } else {
        req.format
    };
    let candidates: Vec<(&FormatCaps, &formats::KnownFormat)> = formats
        .iter()
        .filter(|f| forced.is_none_or(|asked| formats::matches(asked, f.fourcc)))
        .filter_map(|f| formats::lookup(f.fourcc).map(|k| (f, k)))
        .collect();
    if candidates.is_empty() {
        return Err(match forced {
            Some(asked) => Unsupported::Format {
                asked: asked.to_string(),
                offered: offered(),
            },
            None => Unsupported::NoUsableFormat { offered: offered() },
        });
    }
    let fits: Vec<_> = candidates
        .iter()
        .map(|(f, k)| (*f, *k, fit(&f.sizes, req.size)))
        .collect();
    let best = |want: fn(&Fit) -> bool| {
        fits.iter()
            .filter(|(_, _, fit)| want(fit))
            .min_by_key(|(_, k, _)| k.rank)
    };
    let chosen = best(|f| matches!(f, Fit::Within(..)))
        .or_else(|| best(|f| matches!(f, Fit::Unknown)))
        .or_else(|| best(|_| true))
        .expect("candidates is not empty");
    let (format, known, fit) = chosen;
    let (size, rates) = match fit {
        Fit::Within(size, rates) => (Some(*size), Some(*rates)),
        Fit::Above(size, rates) => {
            if req.size_explicit {
                return Err(Unsupported::Size {
                    asked: req.size,
                    format: known.ffmpeg.to_string(),
                    offered: format.sizes.iter().map(describe_size).collect(),
                });
            }
            (Some(*size), Some(*rates))
        }
        Fit::Unknown => (None, None),
    };
    Ok(InputChoice {
        fourcc: format.fourcc,
        ffmpeg_format: known.ffmpeg,
        kind: known.kind,
        size,
        fps: rates.map_or(req.fps, |r| nearest_fps(r, req.fps)),
    })
}

/// The best size of one format for the requested size.
fn fit(sizes: &[FrameSize], want: (u32, u32)) -> Fit<'_> {
    let area = |(w, h): (u32, u32)| (u64::from(w) * u64::from(h), w);
    let mut within: Option<((u32, u32), &FrameRates)> = None;
    let mut smallest: Option<((u32, u32), &FrameRates)> = None;
    for size in sizes {
        let (largest_within, least, rates) = match size {
            FrameSize::Discrete {
                width,
                height,
                rates,
            } => {
                let s = (*width, *height);
                let ok = s.0 <= want.0 && s.1 <= want.1;
                (ok.then_some(s), s, rates)
            }
            FrameSize::Stepwise {
                min_width,
                max_width,
                step_width,
                min_height,
                max_height,
                step_height,
                rates,
            } => {
                let w = on_grid(*min_width, *max_width, *step_width, want.0);
                let h = on_grid(*min_height, *max_height, *step_height, want.1);
                (w.zip(h), (*min_width, *min_height), rates)
            }
        };
        if let Some(s) = largest_within {
            if within.is_none_or(|(best, _)| area(s) > area(best)) {
                within = Some((s, rates));
            }
        }
        if smallest.is_none_or(|(best, _)| area(least) < area(best)) {
            smallest = Some((least, rates));
        }
    }
    match (within, smallest) {
        (Some((s, r)), _) => Fit::Within(s, r),
        (None, Some((s, r))) => Fit::Above(s, r),
        (None, None) => Fit::Unknown,
    }
}

/// The largest value `min + k*step` not above `limit` (and not above `max`).
fn on_grid(min: u32, max: u32, step: u32, limit: u32) -> Option<u32> {
    let top = max.min(limit);
    if top < min {
        return None;
    }
    let step = step.max(1);
    Some(min + (top - min) / step * step)
}

/// The offered rate nearest `want` (the higher one on a tie), as a whole
/// number of frames per second for FFmpeg's `-framerate`.
pub(crate) fn nearest_fps(rates: &FrameRates, want: u32) -> u32 {
    let want_f = f64::from(want);
    let rate = match rates {
        FrameRates::Discrete { fps } => fps
            .iter()
            .copied()
            .min_by(|a, b| {
                let (da, db) = ((a - want_f).abs(), (b - want_f).abs());
                da.total_cmp(&db).then(b.total_cmp(a))
            })
            .unwrap_or(want_f),
        FrameRates::Range { min_fps, max_fps } => {
            want_f.max(*min_fps).min(max_fps.unwrap_or(f64::INFINITY))
        }
        FrameRates::Unknown => want_f,
    };
    (rate.round() as u32).max(1)
}

/// `mjpeg (MJPG)`, or `NV21 (FFmpeg cannot read it)`.
pub(crate) fn describe_format(f: &FormatCaps) -> String {
    match formats::lookup(f.fourcc) {
        Some(k) => format!("{} ({})", k.ffmpeg, f.fourcc),
        None => format!("{} (FFmpeg cannot read it)", f.fourcc),
    }
}

/// `1280x720` or `32x32-2592x1944 step 2x2`.
pub(crate) fn describe_size(s: &FrameSize) -> String {
    match s {
        FrameSize::Discrete { width, height, .. } => format!("{width}x{height}"),
        FrameSize::Stepwise {
            min_width,
            max_width,
            step_width,
            min_height,
            max_height,
            step_height,
            ..
        } => format!(
            "{min_width}x{min_height}-{max_width}x{max_height} step {step_width}x{step_height}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::probe::FrameRates::{Discrete as Rates, Range};
    use crate::camera::tables::*;

    fn req() -> InputRequest<'static> {
        InputRequest {
            format: None,
            size: (1280, 720),
            size_explicit: false,
            fps: 30,
            h264_only: false,
        }
    }

    /// (camera, request, expected format, size, fps) — or the error text.
    #[test]
    fn choice_table() {
        type Case = (
            &'static str,
            Vec<FormatCaps>,
            InputRequest<'static>,
            Result<(&'static str, Option<(u32, u32)>, u32), &'static str>,
        );
        let with = |f: fn(&mut InputRequest<'static>)| {
            let mut r = req();
            f(&mut r);
            r
        };
        let cases: Vec<Case> = vec![
            // Rule: H.264 first, default size 1280x720, default 30 fps.
            ("c920 defaults", c920(), req(), Ok(("h264", Some((1280, 720)), 30))),
            // Rule: --size picks the largest size not above it.
            ("c920 --size 1920x1080", c920(), with(|r| { r.size = (1920, 1080); r.size_explicit = true }), Ok(("h264", Some((1920, 1080)), 30))),
            ("c920 --size 1000x1000", c920(), with(|r| { r.size = (1000, 1000); r.size_explicit = true }), Ok(("h264", Some((960, 720)), 30))),
            // Rule: --fps picks the nearest rate; tie goes up.
            ("c920 --fps 8", c920(), with(|r| r.fps = 8), Ok(("h264", Some((1280, 720)), 8))),
            ("c920 --fps 22", c920(), with(|r| r.fps = 22), Ok(("h264", Some((1280, 720)), 24))),
            ("c920 --fps 60", c920(), with(|r| r.fps = 60), Ok(("h264", Some((1280, 720)), 30))),
            // Rule: --input-format forces the format (any spelling).
            ("c920 --input-format mjpeg", c920(), with(|r| r.format = Some("mjpeg")), Ok(("mjpeg", Some((1280, 720)), 30))),
            ("c920 --input-format yuyv", c920(), with(|r| r.format = Some("yuyv")), Ok(("yuyv422", Some((1280, 720)), 10))),
            ("c920 --input-format YUYV --size 640x480", c920(), with(|r| { r.format = Some("YUYV"); r.size = (640, 480); r.size_explicit = true }), Ok(("yuyv422", Some((640, 480)), 30))),
            // Rule: MJPEG before raw, even where raw is larger or faster.
            ("c270 defaults", c270(), req(), Ok(("mjpeg", Some((1280, 720)), 30))),
            ("c270 --fps 12", c270(), with(|r| r.fps = 12), Ok(("mjpeg", Some((1280, 720)), 10))),
            ("c270 --input-format yuyv422", c270(), with(|r| r.format = Some("yuyv422")), Ok(("yuyv422", Some((1280, 720)), 8))),
            // Rule: stepwise sizes meet the request exactly; H.264 first.
            ("pi bcm2835 defaults", pi_bcm2835(), req(), Ok(("h264", Some((1280, 720)), 30))),
            ("pi bcm2835 --size 641x479", pi_bcm2835(), with(|r| { r.size = (641, 479); r.size_explicit = true }), Ok(("h264", Some((640, 478)), 30))),
            ("pi bcm2835 --size 8000x8000", pi_bcm2835(), with(|r| { r.size = (8000, 8000); r.size_explicit = true }), Ok(("h264", Some((2592, 1944)), 30))),
            ("pi bcm2835 --fps 90 (no upper limit)", pi_bcm2835(), with(|r| r.fps = 90), Ok(("h264", Some((1280, 720)), 90))),
            // Rule: among raw formats, yuv420p first.
            ("pi bcm2835 --input-format yu12", pi_bcm2835(), with(|r| r.format = Some("yu12")), Ok(("yuv420p", Some((1280, 720)), 30))),
            ("pi bcm2835 --input-format jpeg", pi_bcm2835(), with(|r| r.format = Some("JPEG")), Ok(("mjpeg", Some((1280, 720)), 30))),
            // Rule: formats FFmpeg cannot read are never chosen.
            ("pi unicam defaults", pi_unicam(), req(), Ok(("bayer_rggb8", Some((1280, 720)), 30))),
            // Rule: raw-only camera; its one size is within the request.
            ("cheap uvc defaults", cheap_uvc(), req(), Ok(("yuyv422", Some((640, 480)), 30))),
            ("cheap uvc --fps 20", cheap_uvc(), with(|r| r.fps = 20), Ok(("yuyv422", Some((640, 480)), 15))),
            // Rule: MJPEG before raw on an HDMI dongle; nearest fps 60.
            ("ms2109 defaults", ms2109(), req(), Ok(("mjpeg", Some((1280, 720)), 30))),
            ("ms2109 --fps 60", ms2109(), with(|r| r.fps = 60), Ok(("mjpeg", Some((1280, 720)), 60))),
            ("ms2109 --size 1280x1000", ms2109(), with(|r| { r.size = (1280, 1000); r.size_explicit = true }), Ok(("mjpeg", Some((1280, 960)), 30))),
            ("ms2109 --size 1920x1080 --input-format yuyv", ms2109(), with(|r| { r.size = (1920, 1080); r.size_explicit = true; r.format = Some("yuyv") }), Ok(("yuyv422", Some((1920, 1080)), 5))),
            // Rule: nothing within the default size: the smallest size.
            ("1080p-only defaults", only_1080p_mjpeg(), req(), Ok(("mjpeg", Some((1920, 1080)), 30))),
            // Rule: nothing within an explicit --size: an error listing sizes.
            ("1080p-only --size 1280x720", only_1080p_mjpeg(), with(|r| r.size_explicit = true), Err("no frame size within 1280x720 for mjpeg; it offers 1920x1080")),
            // Rule: a forced format the camera lacks: an error listing formats.
            ("c270 --input-format h264", c270(), with(|r| r.format = Some("h264")), Err("the camera does not offer input format \"h264\"; it offers yuyv422 (YUYV), mjpeg (MJPG)")),
            // Rule: --encoder copy needs the camera's H.264.
            ("c270 --encoder copy", c270(), with(|r| r.h264_only = true), Err("the camera does not offer input format \"h264\"; it offers yuyv422 (YUYV), mjpeg (MJPG)")),
            ("c920 --encoder copy --size 320x240", c920(), with(|r| { r.h264_only = true; r.size = (320, 240); r.size_explicit = true }), Ok(("h264", Some((320, 240)), 30))),
            // Rule: a camera with nothing FFmpeg can read.
            ("packed bayer only", vec![fmt("pRAA", vec![disc(3280, 2464, &[21.0])])], req(), Err("none of the camera's formats can be read by FFmpeg; it offers pRAA (FFmpeg cannot read it)")),
            // Rule: a driver that lists no sizes leaves the size to the driver.
            ("no sizes listed", vec![fmt("YUYV", vec![])], req(), Ok(("yuyv422", None, 30))),
        ];
        for (name, caps, request, want) in cases {
            let got = choose_input(&caps, &request)
                .map(|c| (c.ffmpeg_format, c.size, c.fps))
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{name}");
        }
    }

    /// A format with a size within the request beats a preferred format
    /// without one; with none within, the preferred format's smallest size.
    #[test]
    fn size_fit_before_format_rank() {
        let caps = vec![
            fmt("H264", vec![disc(1920, 1080, &[30.0])]),
            fmt(
                "MJPG",
                vec![disc(1280, 720, &[30.0]), disc(1920, 1080, &[30.0])],
            ),
        ];
        let c = choose_input(&caps, &req()).unwrap();
        assert_eq!((c.ffmpeg_format, c.size), ("mjpeg", Some((1280, 720))));
        let small = InputRequest {
            size: (320, 240),
            ..req()
        };
        let c = choose_input(&caps, &small).unwrap();
        assert_eq!((c.ffmpeg_format, c.size), ("h264", Some((1920, 1080))));
    }

    #[test]
    fn stepwise_grid() {
        assert_eq!(on_grid(32, 2592, 2, 1280), Some(1280));
        assert_eq!(on_grid(32, 2592, 2, 1281), Some(1280));
        assert_eq!(on_grid(32, 2592, 16, 1000), Some(992));
        assert_eq!(on_grid(32, 2592, 0, 1001), Some(1001));
        assert_eq!(on_grid(32, 2592, 2, 31), None);
        assert_eq!(on_grid(32, 640, 2, 5000), Some(640));
    }

    #[test]
    fn nearest_rates() {
        let r = Rates {
            fps: vec![30.0, 15.0, 7.5],
        };
        assert_eq!(nearest_fps(&r, 30), 30);
        assert_eq!(nearest_fps(&r, 25), 30);
        assert_eq!(nearest_fps(&r, 22), 15);
        assert_eq!(nearest_fps(&r, 1), 8);
        let range = Range {
            min_fps: 2.0,
            max_fps: Some(60.0),
        };
        assert_eq!(nearest_fps(&range, 90), 60);
        assert_eq!(nearest_fps(&range, 1), 2);
        assert_eq!(nearest_fps(&FrameRates::Unknown, 25), 25);
        let ntsc = Rates { fps: vec![29.97] };
        assert_eq!(nearest_fps(&ntsc, 30), 30);
    }

    use proptest::prelude::*;

    /// A camera's formats: each code at most once (as drivers list them),
    /// each with a few discrete sizes and rates.
    fn arb_formats() -> impl Strategy<Value = Vec<FormatCaps>> {
        let codes = vec!["H264", "MJPG", "YUYV", "NV12", "YU12", "NV21", "RGB3"];
        let size = (
            1u32..4000,
            1u32..3000,
            prop::collection::vec(1u32..120, 1..5),
        )
            .prop_map(|(w, h, fps)| {
                disc(w, h, &fps.iter().map(|&f| f64::from(f)).collect::<Vec<_>>())
            });
        prop::sample::subsequence(codes, 1..5)
            .prop_flat_map(move |codes| {
                let n = codes.len();
                (
                    Just(codes),
                    prop::collection::vec(prop::collection::vec(size.clone(), 1..6), n),
                )
            })
            .prop_map(|(codes, sizes)| {
                codes
                    .into_iter()
                    .zip(sizes)
                    .map(|(c, s)| fmt(c, s))
                    .collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Whatever the camera offers: the choice is one of its formats FFmpeg
        /// can read, at one of that format's sizes, at one of that size's
        /// rates; within the request whenever any readable format can be, and
        /// then no size of that format within the request is larger; and
        /// H.264 wins whenever it fits.
        #[test]
        fn choice_invariants(
            formats in arb_formats(),
            want in (1u32..4000, 1u32..3000),
            fps in 1u32..120,
        ) {
            let request = InputRequest { size: want, fps, ..req() };
            let within = |w: u32, h: u32| w <= want.0 && h <= want.1;
            let sizes_of = |f: &FormatCaps| -> Vec<(u32, u32, Vec<f64>)> {
                f.sizes.iter().map(|s| match s {
                    FrameSize::Discrete { width, height, rates: Rates { fps } } => (*width, *height, fps.clone()),
                    _ => unreachable!(),
                }).collect()
            };
            let readable: Vec<&FormatCaps> = formats.iter().filter(|f| formats::lookup(f.fourcc).is_some()).collect();
            match choose_input(&formats, &request) {
                Err(e) => {
                    prop_assert!(readable.is_empty(), "{e}");
                }
                Ok(c) => {
                    let chosen: Vec<&FormatCaps> = readable.iter().copied().filter(|f| f.fourcc == c.fourcc).collect();
                    prop_assert!(!chosen.is_empty());
                    let (w, h) = c.size.unwrap();
                    let offered: Vec<(u32, u32, Vec<f64>)> = chosen.iter().flat_map(|f| sizes_of(f)).collect();
                    let at_size: Vec<&(u32, u32, Vec<f64>)> = offered.iter().filter(|s| (s.0, s.1) == (w, h)).collect();
                    prop_assert!(!at_size.is_empty(), "{w}x{h} not offered");
                    prop_assert!(at_size.iter().any(|s| s.2.iter().any(|&r| (r.round() as u32).max(1) == c.fps)));
                    let any_within = readable.iter().any(|f| sizes_of(f).iter().any(|s| within(s.0, s.1)));
                    if any_within {
                        prop_assert!(within(w, h));
                        let area = u64::from(w) * u64::from(h);
                        prop_assert!(offered.iter().filter(|s| within(s.0, s.1)).all(|s| u64::from(s.0) * u64::from(s.1) <= area));
                        let h264_fits = readable.iter().any(|f| f.fourcc == FourCc::new("H264") && sizes_of(f).iter().any(|s| within(s.0, s.1)));
                        prop_assert_eq!(h264_fits, c.fourcc == FourCc::new("H264"));
                    }
                }
            }
        }
    }
}
