//! The one picture a snapshot accepts: at most [`MAX_JPEG`] bytes, one
//! whole baseline or progressive JPEG ([`check_jpeg`]). Domain layer.

/// The largest JPEG a snapshot accepts from FFmpeg (an 8K frame at the
/// quality used here is well below it).
pub const MAX_JPEG: usize = 32 * 1024 * 1024;

/// Checks that `data` is one whole baseline or progressive JPEG: SOI first,
/// then well-formed marker segments (each length inside the data), a frame
/// header with a size, at least one scan, and EOI as its last two bytes.
/// Returns the picture's width and height.
pub fn check_jpeg(data: &[u8]) -> Result<(u16, u16), String> {
    if data.len() < 4 || data[..2] != [0xFF, 0xD8] {
        return Err("it does not start with a JPEG start-of-image marker".into());
    }
    let mut i = 2;
    let mut size = None;
    let mut scans = 0;
    loop {
        // Marker: 0xFF, optional 0xFF fill bytes, the code.
        if i >= data.len() || data[i] != 0xFF {
            return Err(format!("no marker at byte {i} (torn or not a JPEG)"));
        }
        while i < data.len() && data[i] == 0xFF {
            i += 1;
        }
        let Some(&code) = data.get(i) else {
            return Err("it ends inside a marker (torn)".into());
        };
        i += 1;
        match code {
            0xD9 => break,
            0x01 | 0xD0..=0xD7 => continue,
            0x00 | 0xD8 => return Err(format!("unexpected marker 0x{code:02X} at byte {}", i - 1)),
            _ => {}
        }
        let Some(len) = data
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        else {
            return Err("it ends inside a segment header (torn)".into());
        };
        if len < 2 || i + len > data.len() {
            return Err(format!(
                "segment 0x{code:02X} at byte {} runs past the end (torn)",
                i - 2
            ));
        }
        let body = &data[i + 2..i + len];
        i += len;
        match code {
            0xC0..=0xCF if !matches!(code, 0xC4 | 0xC8 | 0xCC) => {
                if body.len() < 5 {
                    return Err("frame header too short".into());
                }
                let h = u16::from_be_bytes([body[1], body[2]]);
                let w = u16::from_be_bytes([body[3], body[4]]);
                if w == 0 || h == 0 {
                    return Err(format!("frame header says {w}x{h}"));
                }
                size = Some((w, h));
            }
            0xDA => {
                if size.is_none() {
                    return Err("a scan before any frame header".into());
                }
                scans += 1;
                // Entropy-coded data: up to the next marker that is neither
                // a stuffed 0xFF00 nor a restart marker.
                loop {
                    match data.get(i..i + 2) {
                        None => return Err("it ends inside the image data (torn)".into()),
                        Some([0xFF, 0x00]) | Some([0xFF, 0xD0..=0xD7]) => i += 2,
                        Some([0xFF, 0xFF]) => i += 1,
                        Some([0xFF, _]) => break,
                        Some(_) => i += 1,
                    }
                }
            }
            _ => {}
        }
    }
    if scans == 0 {
        return Err("it has no image data".into());
    }
    if i != data.len() {
        return Err(format!(
            "{} bytes follow its end-of-image marker",
            data.len() - i
        ));
    }
    size.ok_or_else(|| "it has no frame header".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small real JPEG from FFmpeg's encoder, as a snapshot gets it.
    fn ffmpeg_jpeg() -> Vec<u8> {
        let out = std::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=64x48:rate=1",
                "-frames:v",
                "1",
                "-c:v",
                "mjpeg",
                "-q:v",
                "3",
                "-f",
                "mjpeg",
                "pipe:1",
            ])
            .output()
            .expect("ffmpeg runs");
        assert!(out.status.success());
        out.stdout
    }

    #[test]
    fn only_a_whole_jpeg_passes() {
        let jpeg = ffmpeg_jpeg();
        assert_eq!(check_jpeg(&jpeg), Ok((64, 48)));
        // Torn anywhere: refused, whichever byte it stops at.
        for cut in 0..jpeg.len() {
            assert!(check_jpeg(&jpeg[..cut]).is_err(), "torn at {cut} accepted");
        }
        // A full-length file whose end is zeros (a short write on a full
        // disk that kept the size) is refused too.
        let mut zeroed = jpeg.clone();
        let n = zeroed.len();
        zeroed[n / 2..].fill(0);
        assert!(check_jpeg(&zeroed).is_err());
        let mut trailing = jpeg.clone();
        trailing.extend_from_slice(b"junk");
        assert!(check_jpeg(&trailing).unwrap_err().contains("follow"));
        assert!(
            check_jpeg(b"\xFF\xD8\xFF\xD9").is_err(),
            "no frame, no scan"
        );
        assert!(check_jpeg(b"GIF89a....").is_err());
    }
}
