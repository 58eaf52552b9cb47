//! A minimal RTSP reader for recording holds (`hook rtsp-read URL`).
//!
//! A hold only has to be a reader: MediaMTX keeps an on-demand stream alive
//! while one is connected. FFmpeg does that well but carries a demuxer, a
//! muxer and tens of MiB of libraries for packets it throws away. This reader
//! speaks just enough RTSP 1.0 over one TCP connection (DESCRIBE, SETUP with
//! interleaved TCP transport for every track, PLAY, a keep-alive OPTIONS
//! before the session times out, TEARDOWN on SIGINT/SIGTERM) and discards the
//! RTP packets it receives.
//!
//! It prints FFmpeg-style `-progress` blocks on stdout (`frame=`,
//! `total_size=`, `progress=continue`) every half second, so the supervisor
//! watches it exactly like an FFmpeg reader: frames advancing means running,
//! no progress for the stall timeout means stalled. A frame is an RTP packet
//! of the first video track with the marker bit set (the last packet of an
//! access unit for H.264, H.265 and MJPEG).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

use crate::error::usage;
use crate::mediamtx::rtsp_auth::{self, Credentials, Head, Scheme};

/// Time limit for connecting and for each answer during setup.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// Session timeout assumed when the server names none (RFC 2326: 60 s).
const DEFAULT_SESSION_TIMEOUT: u64 = 60;
/// Largest RTSP header block or body accepted.
const MAX_MESSAGE: usize = 64 * 1024;
/// Longest session timeout believed (seconds): keep-alives go at least every
/// half hour whatever the server announces.
const MAX_SESSION_TIMEOUT: u64 = 3600;

/// Entry point of `hook rtsp-read URL`: reads until SIGINT/SIGTERM (exit 0)
/// or until the stream fails (error, exit 1). Credentials, when MediaMTX asks
/// for them, come from `HOOK_RTSP_USER`/`HOOK_RTSP_PASS` (one without the
/// other: exit 2).
pub(crate) fn main(url: &str) -> anyhow::Result<std::process::ExitCode> {
    let creds = Credentials::from_env()?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in crate::supervise::signals::STOP_SIGNALS {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let mut out = std::io::stdout().lock();
    read(url, creds, &mut out, &stop)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `rtsp://host[:port]/path` split for connecting.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
}

fn parse_url(url: &str) -> anyhow::Result<Target> {
    let shown = crate::mediamtx::api::redact_url(url);
    let rest = url
        .strip_prefix("rtsp://")
        .ok_or_else(|| anyhow!("{shown:?} is not an rtsp:// URL"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(usage(format!(
            "{shown:?}: credentials in the URL would show in the process list; give them in {} and {}",
            rtsp_auth::USER_VAR,
            rtsp_auth::PASS_VAR
        )));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| anyhow!("{shown:?}: unclosed '[' in the host"))?;
        match after.strip_prefix(':') {
            Some(p) => (host, parse_port(&shown, p)?),
            None if after.is_empty() => (host, 554),
            None => bail!("{shown:?}: unexpected {after:?} after the host"),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, parse_port(&shown, p)?),
            None => (authority, 554),
        }
    };
    if host.is_empty() {
        bail!("{shown:?} has no host");
    }
    Ok(Target {
        host: host.to_string(),
        port,
    })
}

fn parse_port(url: &str, p: &str) -> anyhow::Result<u16> {
    p.parse::<u16>()
        .map_err(|_| anyhow!("{url:?}: bad port {p:?}: expected 0-65535"))
}

/// One RTSP answer.
#[derive(Debug, Default)]
struct Answer {
    code: u16,
    head: Head,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }
}

/// Parses an RTSP answer at the start of `buf`; returns it and its length,
/// or `None` while incomplete.
fn parse_answer(buf: &[u8]) -> anyhow::Result<Option<(Answer, usize)>> {
    let Some(head) = rtsp_auth::parse_head(buf, MAX_MESSAGE)? else {
        return Ok(None);
    };
    let code = head
        .status()
        .ok_or_else(|| anyhow!("not an RTSP answer: {:?}", head.first))?;
    let total = head.total();
    let Some(body) = buf.get(head.head_len..total) else {
        return Ok(None);
    };
    let body = body.to_vec();
    Ok(Some((Answer { code, head, body }, total)))
}

/// The session id and timeout (seconds) of a `Session` header
/// (`id;timeout=60`). A timeout that is missing or not a number is `None`.
fn parse_session(header: &str) -> (String, Option<u64>) {
    let mut parts = header.split(';');
    let id = parts.next().unwrap_or("").trim().to_string();
    let timeout = parts
        .filter_map(|p| p.trim().strip_prefix("timeout="))
        .find_map(|t| t.trim().parse().ok());
    (id, timeout)
}

/// How often to send a keep-alive for a session that times out after
/// `timeout` seconds: half of it, within 1 s and half of [`MAX_SESSION_TIMEOUT`]
/// whatever the server says.
fn keepalive_every(timeout: u64) -> Duration {
    Duration::from_secs((timeout.min(MAX_SESSION_TIMEOUT) / 2).max(1))
}

/// `now + d`, or far ahead when that does not fit in an `Instant`.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(MAX_SESSION_TIMEOUT)))
        .unwrap_or(now)
}

/// The tracks of an SDP: each one's control URL and whether it is video.
fn sdp_tracks(sdp: &str, base: &str) -> Vec<(String, bool)> {
    let mut tracks = Vec::new();
    let mut current: Option<(Option<String>, bool)> = None;
    for line in sdp.lines().map(str::trim) {
        if let Some(media) = line.strip_prefix("m=") {
            if let Some((control, video)) = current.take() {
                tracks.push((control_url(base, control.as_deref()), video));
            }
            current = Some((None, media.starts_with("video")));
        } else if let Some(control) = line.strip_prefix("a=control:") {
            if let Some((c, _)) = current.as_mut() {
                *c = Some(control.to_string());
            }
        }
    }
    if let Some((control, video)) = current {
        tracks.push((control_url(base, control.as_deref()), video));
    }
    tracks
}

/// Resolves a track's `a=control` against the content base (RFC 2326 C.1.1).
fn control_url(base: &str, control: Option<&str>) -> String {
    match control {
        None | Some("*") => base.to_string(),
        Some(c) if c.starts_with("rtsp://") => c.to_string(),
        Some(c) => {
            if base.ends_with('/') {
                format!("{base}{c}")
            } else {
                format!("{base}/{c}")
            }
        }
    }
}

/// The RTSP conversation on one connection.
struct Conversation {
    stream: TcpStream,
    buf: Vec<u8>,
    cseq: u32,
    session: Option<String>,
    creds: Option<Credentials>,
    /// How to authenticate, once the server has asked.
    scheme: Option<Scheme>,
}

impl Conversation {
    fn send(&mut self, method: &str, url: &str, extra: &[(&str, &str)]) -> anyhow::Result<()> {
        self.cseq = self.cseq.wrapping_add(1);
        let mut req = format!(
            "{method} {url} RTSP/1.0\r\nCSeq: {}\r\nUser-Agent: mediamtx-hook/{}\r\n",
            self.cseq,
            env!("CARGO_PKG_VERSION")
        );
        if let (Some(scheme), Some(creds)) = (&self.scheme, &self.creds) {
            let value = rtsp_auth::authorization(scheme, creds, method, url);
            req.push_str(&format!("Authorization: {value}\r\n"));
        }
        if let Some(s) = &self.session {
            req.push_str(&format!("Session: {s}\r\n"));
        }
        for (n, v) in extra {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.stream
            .write_all(req.as_bytes())
            .with_context(|| format!("sending {method}"))
    }

    /// Sends a request and waits for its answer (setup phase: no media yet).
    /// A 401 is answered once with the credentials, if there are any.
    fn request(
        &mut self,
        method: &str,
        url: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut retried = false;
        loop {
            let answer = self.exchange(method, url, extra)?;
            match answer.code {
                200 => return Ok(answer),
                401 => {
                    let next = self
                        .after_unauthorized(&answer, retried)
                        .with_context(|| format!("{method} {url}: RTSP 401 Unauthorized"))?;
                    self.scheme = Some(next);
                    retried = true;
                }
                code => bail!("{method} {url}: RTSP {code}"),
            }
        }
    }

    /// What to answer a 401 with, or why not to.
    fn after_unauthorized(&self, answer: &Answer, retried: bool) -> anyhow::Result<Scheme> {
        if self.creds.is_none() {
            bail!(
                "MediaMTX requires credentials: set {} and {} in the environment",
                rtsp_auth::USER_VAR,
                rtsp_auth::PASS_VAR
            );
        }
        if retried || self.scheme.is_some() {
            bail!("{}", rtsp_auth::REFUSED);
        }
        let challenges = rtsp_auth::parse_challenges(answer.head.all("WWW-Authenticate"));
        rtsp_auth::choose(&challenges).ok_or_else(|| {
            anyhow!(
                "MediaMTX asks for an authentication method this reader does not speak (it speaks Basic and Digest MD5): {:?}",
                answer.head.all("WWW-Authenticate")
            )
        })
    }

    /// Sends one request and waits for whatever answer comes.
    fn exchange(
        &mut self,
        method: &str,
        url: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        self.send(method, url, extra)?;
        let deadline = later(Instant::now(), SETUP_TIMEOUT);
        loop {
            if let Some((answer, used)) = parse_answer(&self.buf)? {
                self.buf.drain(..used);
                return Ok(answer);
            }
            if Instant::now() >= deadline {
                bail!("{method} {url}: no answer within {SETUP_TIMEOUT:?}");
            }
            self.fill()
                .with_context(|| format!("waiting for the answer to {method}"))?;
        }
    }

    /// Reads more bytes into the buffer; Ok(false) on a read timeout.
    fn fill(&mut self) -> anyhow::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => bail!("the server closed the connection"),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e).context("reading from the server"),
        }
    }
}

/// What the media loop counted.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    frames: u64,
    bytes: u64,
}

/// Consumes whole interleaved packets and RTSP answers from the front of
/// `buf`; counts frames on `video_channel`.
fn consume(
    buf: &mut Vec<u8>,
    video_channel: Option<u8>,
    counts: &mut Counts,
) -> anyhow::Result<()> {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        match rest.first() {
            None => break,
            Some(b'$') => {
                if rest.len() < 4 {
                    break;
                }
                let channel = rest[1];
                let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
                if rest.len() < 4 + len {
                    break;
                }
                let payload = &rest[4..4 + len];
                counts.bytes = counts.bytes.saturating_add(len as u64);
                let marker = payload.len() >= 12 && payload[1] & 0x80 != 0;
                if Some(channel) == video_channel && marker {
                    counts.frames = counts.frames.saturating_add(1);
                }
                at += 4 + len;
            }
            Some(b'R') => match parse_answer(rest)? {
                // The answer to a keep-alive: nothing to do with it.
                Some((_, used)) => at += used,
                None => break,
            },
            Some(other) => bail!("unexpected byte {other:#04x} in the interleaved stream"),
        }
    }
    buf.drain(..at);
    Ok(())
}

/// Reads `url` until `stop` is set (then TEARDOWN, Ok) or the stream fails.
pub(crate) fn read(
    url: &str,
    creds: Option<Credentials>,
    out: &mut dyn Write,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let target = parse_url(url)?;
    let addr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {}", target.host))?
        .next()
        .ok_or_else(|| anyhow!("{} resolves to no address", target.host))?;
    let stream = TcpStream::connect_timeout(&addr, SETUP_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut rtsp = Conversation {
        stream,
        buf: Vec::with_capacity(64 * 1024),
        cseq: 0,
        session: None,
        creds,
        scheme: None,
    };

    let described = rtsp.request("DESCRIBE", url, &[("Accept", "application/sdp")])?;
    let base = described
        .header("Content-Base")
        .or_else(|| described.header("Content-Location"))
        .unwrap_or(url)
        .to_string();
    let sdp = String::from_utf8_lossy(&described.body).into_owned();
    let tracks = sdp_tracks(&sdp, &base);
    if tracks.is_empty() {
        bail!("DESCRIBE {url}: the SDP has no media");
    }
    let mut video_channel = None;
    let mut timeout = DEFAULT_SESSION_TIMEOUT;
    for (i, (control, video)) in tracks.iter().enumerate() {
        let channel = u8::try_from(2 * i).context("too many tracks")?;
        let transport = format!("RTP/AVP/TCP;unicast;interleaved={channel}-{}", channel + 1);
        let answer = rtsp.request("SETUP", control, &[("Transport", &transport)])?;
        if rtsp.session.is_none() {
            let header = answer
                .header("Session")
                .ok_or_else(|| anyhow!("SETUP {control}: no Session in the answer"))?;
            let (id, announced) = parse_session(header);
            if id.is_empty() {
                bail!("SETUP {control}: empty Session id in {header:?}");
            }
            rtsp.session = Some(id);
            timeout = announced.unwrap_or(timeout);
        }
        if *video && video_channel.is_none() {
            video_channel = Some(channel);
        }
    }
    rtsp.request("PLAY", &base, &[("Range", "npt=0.000-")])?;

    let keepalive = keepalive_every(timeout);
    let mut next_keepalive = later(Instant::now(), keepalive);
    let mut next_progress = Instant::now();
    let mut counts = Counts::default();
    while !stop.load(Ordering::SeqCst) {
        rtsp.fill()?;
        consume(&mut rtsp.buf, video_channel, &mut counts)?;
        let now = Instant::now();
        if now >= next_progress {
            next_progress = later(now, PROGRESS_EVERY);
            let _ = write!(
                out,
                "frame={}\ntotal_size={}\nprogress=continue\n",
                counts.frames, counts.bytes
            );
            let _ = out.flush();
        }
        if now >= next_keepalive {
            next_keepalive = later(now, keepalive);
            rtsp.send("OPTIONS", url, &[])?;
        }
    }
    let _ = rtsp.send("TEARDOWN", &base, &[]);
    let _ = write!(
        out,
        "frame={}\ntotal_size={}\nprogress=end\n",
        counts.frames, counts.bytes
    );
    let _ = out.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("rtsp://127.0.0.1:8554/cam0").unwrap(),
            Target {
                host: "127.0.0.1".into(),
                port: 8554
            }
        );
        assert_eq!(parse_url("rtsp://cam/x").unwrap().port, 554);
        assert!(parse_url("http://x/y").is_err());
        assert!(parse_url("rtsp://u:p@x/y").is_err());
        let err = parse_url("rtsp://u:hunter2@x/y").unwrap_err().to_string();
        assert!(!err.contains("hunter2") && err.contains("u:***@"), "{err}");
        assert!(parse_url("rtsp://x:99999/y").is_err());
        let err = parse_url("rtsp://u:secret@x/y").unwrap_err();
        assert!(crate::error::is_usage(&err));
        assert!(err.to_string().contains("HOOK_RTSP_USER"), "{err}");
        assert_eq!(
            parse_url("rtsp://[::1]:8554/p").unwrap(),
            Target {
                host: "::1".into(),
                port: 8554
            }
        );
        assert_eq!(parse_url("rtsp://[::1]/p").unwrap().port, 554);
        assert!(parse_url("rtsp://[::1/p").is_err());
        assert!(parse_url("rtsp://:8554/p").is_err());
    }

    #[test]
    fn absurd_session_timeouts_are_capped() {
        let (id, t) = parse_session("x;timeout=18446744073709551615");
        assert_eq!((id.as_str(), t), ("x", Some(u64::MAX)));
        assert_eq!(keepalive_every(u64::MAX), Duration::from_secs(1800));
        assert_eq!(keepalive_every(60), Duration::from_secs(30));
        assert_eq!(keepalive_every(0), Duration::from_secs(1));
        assert_eq!(parse_session("abc; timeout = 30").1, None);
        assert_eq!(parse_session("abc;timeout=99999999999999999999999").1, None);
        assert_eq!(parse_session("").0, "");
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
        assert!(later(now, keepalive_every(u64::MAX)) > now);
    }

    #[test]
    fn answers() {
        let raw = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 3\r\nSession: abc;timeout=30\r\n\r\nv=0RTSP";
        let (a, used) = parse_answer(raw).unwrap().unwrap();
        assert_eq!(a.code, 200);
        assert_eq!(a.body, b"v=0");
        assert_eq!(a.header("session"), Some("abc;timeout=30"));
        assert_eq!(used, raw.len() - 4);
        assert!(parse_answer(&raw[..20]).unwrap().is_none());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        // Huge or unreadable lengths are errors, never an allocation or a panic.
        for len in [
            "18446744073709551615",
            "99999999999999999999999",
            "-1",
            "1e3",
            "65537",
        ] {
            let raw = format!("RTSP/1.0 200 OK\r\nContent-Length: {len}\r\n\r\n");
            assert!(parse_answer(raw.as_bytes()).is_err(), "{len}");
        }
        // A missing status code, a short one, an empty head.
        assert!(parse_answer(b"RTSP/1.0\r\n\r\n").is_err());
        assert!(parse_answer(b"RTSP/1.0 20 OK\r\n\r\n").is_err());
        assert!(parse_answer(b"\r\n\r\n").is_err());
    }

    #[test]
    fn sdp_controls() {
        let sdp = "v=0\r\ns=x\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\nm=audio 0 RTP/AVP 97\r\na=control:rtsp://h/p/trackID=1\r\n";
        assert_eq!(
            sdp_tracks(sdp, "rtsp://h/p/"),
            vec![
                ("rtsp://h/p/trackID=0".to_string(), true),
                ("rtsp://h/p/trackID=1".to_string(), false)
            ]
        );
        assert_eq!(
            sdp_tracks("m=video 0 RTP/AVP 96\r\n", "rtsp://h/p"),
            vec![("rtsp://h/p".to_string(), true)]
        );
        assert_eq!(
            control_url("rtsp://h/p", Some("stream=0")),
            "rtsp://h/p/stream=0"
        );
    }

    #[test]
    fn interleaved_packets_and_answers_are_consumed() {
        let rtp = |marker: bool| {
            let mut p = vec![0x80, if marker { 0xE0 } else { 0x60 }];
            p.extend_from_slice(&[0; 10]);
            p
        };
        let mut buf = Vec::new();
        for (ch, marker) in [(0u8, false), (0, true), (2, true), (1, true)] {
            let p = rtp(marker);
            buf.push(b'$');
            buf.push(ch);
            buf.extend_from_slice(&(p.len() as u16).to_be_bytes());
            buf.extend_from_slice(&p);
        }
        buf.extend_from_slice(b"RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n");
        buf.extend_from_slice(&[b'$', 0, 0]); // an incomplete packet stays
        let mut counts = Counts::default();
        consume(&mut buf, Some(0), &mut counts).unwrap();
        assert_eq!(
            counts,
            Counts {
                frames: 1,
                bytes: 48
            }
        );
        assert_eq!(buf, vec![b'$', 0, 0]);
        let mut bad = b"xyz".to_vec();
        assert!(consume(&mut bad, Some(0), &mut counts).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn answers_from_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let _ = parse_answer(&bytes);
                let mut buf = bytes.clone();
                let mut counts = Counts::default();
                let _ = consume(&mut buf, Some(0), &mut counts);
                prop_assert!(buf.len() <= bytes.len());
                let text = String::from_utf8_lossy(&bytes);
                let _ = sdp_tracks(&text, "rtsp://h/p");
                let _ = parse_url(&text);
                let _ = parse_url(&format!("rtsp://{text}"));
            }

            #[test]
            fn answers_with_arbitrary_header_values_never_panic(
                code in "[0-9]{0,6}",
                session in "[^\r\n]{0,60}",
                length in "[^\r\n]{0,30}",
                other in "[^\r\n]{0,60}",
                body in proptest::collection::vec(any::<u8>(), 0..200),
            ) {
                let mut raw = format!(
                    "RTSP/1.0 {code} OK\r\nSession: {session}\r\nContent-Length: {length}\r\nWWW-Authenticate: {other}\r\n{other}\r\n\r\n"
                ).into_bytes();
                raw.extend_from_slice(&body);
                if let Ok(Some((answer, used))) = parse_answer(&raw) {
                    prop_assert!(used <= raw.len());
                    let (_, timeout) = parse_session(answer.header("Session").unwrap_or(""));
                    let every = keepalive_every(timeout.unwrap_or(DEFAULT_SESSION_TIMEOUT));
                    prop_assert!(every >= Duration::from_secs(1));
                    let _ = later(Instant::now(), every);
                    let _ = rtsp_auth::choose(&rtsp_auth::parse_challenges(answer.head.all("WWW-Authenticate")));
                }
                let (_, timeout) = parse_session(&session);
                let _ = later(Instant::now(), keepalive_every(timeout.unwrap_or(0)));
                let mut buf = raw;
                buf.insert(0, b'$');
                let _ = consume(&mut buf, Some(0), &mut Counts::default());
            }
        }
    }
}
