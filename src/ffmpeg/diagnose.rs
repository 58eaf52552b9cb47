//! What FFmpeg's last stderr lines say went wrong, as a [`Cause`].
//!
//! The texts are FFmpeg's own (5.1 and later): libavdevice/v4l2.c names the
//! failed ioctl (`ioctl(VIDIOC_STREAMON): No space left on device`), the
//! RTSP muxer the server's answer (`401 Unauthorized`), and `strerror`
//! supplies the rest. The most specific match wins, whatever line it is on:
//! `ENOSPC` from `STREAMON` is the USB bus, `ENOSPC` anywhere else a disk.

use crate::state::{Cause, Failure};

/// The cause the stderr tail shows, with the line that shows it, if any.
pub(crate) fn diagnose(stderr_tail: &[String]) -> Option<Failure> {
    // In order: the first rule any line matches decides.
    const RULES: &[(Cause, &[&str], &[&str])] = &[
        (
            Cause::UsbBandwidth,
            &["VIDIOC_STREAMON"],
            &["No space left on device"],
        ),
        (
            Cause::Unplugged,
            &["VIDIOC_DQBUF", "VIDIOC_QBUF", "/dev/"],
            &["No such device"],
        ),
        (
            Cause::CameraMissing,
            &["Cannot open video device"],
            &["No such file or directory"],
        ),
        (Cause::Permission, &["/dev/"], &["Permission denied"]),
        (Cause::Busy, &[""], &["Device or resource busy"]),
        (
            Cause::CredentialsRefused,
            &[""],
            &["401 Unauthorized", "authorization failed", "403 Forbidden"],
        ),
        (Cause::MediamtxUnreachable, &[""], &["Connection refused"]),
        (
            Cause::EncoderFailed,
            &[""],
            &[
                "Error while opening encoder",
                "Could not open encoder",
                "Error initializing output stream",
                "Could not find a valid device",
            ],
        ),
        (
            Cause::DiskFull,
            &[""],
            &["No space left on device", "Disk quota exceeded"],
        ),
    ];
    RULES.iter().find_map(|(cause, context, says)| {
        stderr_tail.iter().find_map(|line| {
            let hit =
                context.iter().any(|c| line.contains(c)) && says.iter().any(|s| line.contains(s));
            hit.then(|| Failure::new(*cause, format!("FFmpeg: {}", line.trim())))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause_of(lines: &[&str]) -> Option<Cause> {
        let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        diagnose(&lines).map(|f| f.cause)
    }

    #[test]
    fn ffmpegs_lines_name_their_cause() {
        let cases: &[(&[&str], Option<Cause>)] = &[
            (
                &["[video4linux2,v4l2 @ 0x5] ioctl(VIDIOC_STREAMON): No space left on device"],
                Some(Cause::UsbBandwidth),
            ),
            (
                &["[video4linux2,v4l2 @ 0x5] ioctl(VIDIOC_DQBUF): No such device"],
                Some(Cause::Unplugged),
            ),
            (
                &[
                    "[video4linux2,v4l2 @ 0x5] Cannot open video device /dev/video0: No such file or directory",
                    "/dev/video0: No such file or directory",
                ],
                Some(Cause::CameraMissing),
            ),
            (
                &["[video4linux2,v4l2 @ 0x5] Cannot open video device /dev/video0: Permission denied"],
                Some(Cause::Permission),
            ),
            (
                &["[video4linux2,v4l2 @ 0x5] ioctl(VIDIOC_REQBUFS): Device or resource busy"],
                Some(Cause::Busy),
            ),
            (
                &["[rtsp @ 0x5] method ANNOUNCE failed: 401 Unauthorized"],
                Some(Cause::CredentialsRefused),
            ),
            (
                &["[tcp @ 0x5] Connection to tcp://127.0.0.1:8554?timeout=0 failed: Connection refused"],
                Some(Cause::MediamtxUnreachable),
            ),
            (
                &["Error while opening encoder for output stream #0:0 - maybe incorrect parameters"],
                Some(Cause::EncoderFailed),
            ),
            (
                &["av_interleaved_write_frame(): No space left on device"],
                Some(Cause::DiskFull),
            ),
            (&["frame=  10 fps=0.0", "Exiting normally"], None),
            (&[], None),
        ];
        for (lines, want) in cases {
            assert_eq!(cause_of(lines), *want, "{lines:?}");
        }
    }

    #[test]
    fn streamon_enospc_beats_a_later_disk_line_and_keeps_the_evidence() {
        let lines = vec![
            "av_interleaved_write_frame(): No space left on device".to_string(),
            "[video4linux2,v4l2 @ 0x5] ioctl(VIDIOC_STREAMON): No space left on device".to_string(),
        ];
        let f = diagnose(&lines).unwrap();
        assert_eq!(f.cause, Cause::UsbBandwidth);
        assert!(f.detail.contains("VIDIOC_STREAMON"), "{}", f.detail);
        assert!(f.fix.contains("USB"), "{}", f.fix);
    }
}
