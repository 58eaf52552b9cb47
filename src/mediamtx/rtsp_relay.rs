//! A loopback relay that logs FFmpeg in to MediaMTX's RTSP server.
//!
//! FFmpeg takes RTSP credentials only inside the URL, and its command line is
//! world-readable in `/proc/PID/cmdline`. So when `HOOK_RTSP_USER` and
//! `HOOK_RTSP_PASS` are set, FFmpeg (the publisher; holds read with the
//! native reader, which logs in itself) connects without credentials to this relay instead, on `127.0.0.1` and an
//! ephemeral port, and the relay carries the connection on to MediaMTX,
//! adding the login on the way.
//!
//! - One thread per relay, blocked in `poll(2)` when nothing moves (no timer
//!   while idle), for the relay's whole life (the process's: it stops with
//!   the hook). It serves FFmpeg's successive connections (the supervisor
//!   restarts FFmpeg), each with its own connection to MediaMTX.
//! - Only connections from a process of the hook's own user are served
//!   (checked in `/proc/net/tcp`): that user can read the hook's environment
//!   anyway, nobody else gets a free login.
//! - From FFmpeg to MediaMTX, every RTSP request gets an `Authorization`
//!   header once MediaMTX has said which scheme it wants; the first request
//!   MediaMTX refuses with a challenge (401 + `WWW-Authenticate`) is sent
//!   again, authenticated, and that 401 never reaches FFmpeg. Basic when
//!   offered, else Digest MD5 computed for each request's method and URI.
//!   The relay waits for the challenge instead of sending Basic up front: a
//!   request carrying a login of the wrong kind (Basic when MediaMTX takes
//!   only Digest) makes MediaMTX close the connection without a challenge.
//! - Interleaved binary data (`$`, channel, 2-byte length, payload) passes
//!   through untouched in both directions; each direction copies through one
//!   fixed 64 KiB buffer and stops reading while the other side is behind.
//! - A 401 to an authenticated request means the credentials are wrong: it
//!   is logged ([`rtsp_auth::REFUSED`]) and passed on, so FFmpeg fails.
//! - URLs are not rewritten: MediaMTX takes the path from the request URL
//!   and answers with the host the client used (gortsplib builds
//!   `Content-Base` and `RTP-Info` from the request), and Digest is computed
//!   over the URI exactly as sent, so the relay's `host:port` in FFmpeg's
//!   URLs is consistent end to end.
//!
//! Nothing here logs a header value or the password.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::mediamtx::rtsp_auth::{self, Credentials, Scheme};

/// Size of each direction's input buffer.
const BUF: usize = 64 * 1024;
/// Largest RTSP head or body relayed (a whole message must fit in [`BUF`]).
const MAX_MESSAGE: usize = 30 * 1024;
/// Output waiting for a slow side beyond which its source is not read.
const OUT_HIGH: usize = 64 * 1024;
/// Requests remembered per connection for a possible resend.
const MAX_PENDING: usize = 32;
/// Time to hand the last bytes over once one side has closed.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Time limit for connecting to MediaMTX.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A running relay. Dropping it stops its thread.
pub(crate) struct Relay {
    port: u16,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listens on 127.0.0.1 (ephemeral port) and relays to `upstream`.
    pub(crate) fn start(upstream: SocketAddr, creds: Credentials) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("opening the RTSP credential relay on 127.0.0.1")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let (wake_r, wake_w) = pipe()?;
        let thread = std::thread::Builder::new()
            .name("rtsp-relay".into())
            .spawn(move || {
                let mut worker = Worker {
                    listener,
                    upstream,
                    creds,
                    wake: wake_r,
                    pairs: Vec::new(),
                    uid: nix::unistd::geteuid().as_raw(),
                };
                worker.run();
            })
            .context("starting the RTSP credential relay's thread")?;
        log::debug!("RTSP credential relay on 127.0.0.1:{port} for {upstream}");
        Ok(Relay {
            port,
            wake: wake_w,
            thread: Some(thread),
        })
    }

    /// The port FFmpeg connects to.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = nix::unistd::write(&self.wake, b"x");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The port FFmpeg must use to reach MediaMTX's RTSP port `mediamtx_port`:
/// that port itself without credentials in the environment; with them, the
/// port of this process's relay to it (started on first use, running until
/// the process ends). Half-set credentials are a usage error.
pub(crate) fn ffmpeg_port(mediamtx_port: u16) -> anyhow::Result<u16> {
    static RELAYS: Mutex<Vec<(u16, Relay)>> = Mutex::new(Vec::new());
    let Some(creds) = Credentials::from_env()? else {
        return Ok(mediamtx_port);
    };
    let mut relays = RELAYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, r)) = relays.iter().find(|(p, _)| *p == mediamtx_port) {
        return Ok(r.port());
    }
    let upstream = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, mediamtx_port));
    let relay = Relay::start(upstream, creds)?;
    let port = relay.port();
    log::info!(
        "FFmpeg reaches MediaMTX's RTSP port {mediamtx_port} through the credential relay on 127.0.0.1:{port} (credentials from {}/{})",
        rtsp_auth::USER_VAR,
        rtsp_auth::PASS_VAR
    );
    relays.push((mediamtx_port, relay));
    Ok(port)
}

/// A relay that cannot start (or credentials that are half set) as the
/// supervisor's fatal start error: usage for the latter, failure otherwise.
pub(crate) fn start_error(e: anyhow::Error) -> crate::supervise::StartError {
    use crate::supervise::{FatalKind, StartError};
    let kind = if crate::error::is_usage(&e) {
        FatalKind::Usage
    } else {
        FatalKind::Failure
    };
    StartError::fatal(format!("{e:#}"), kind)
}

fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::OFlag;
    nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
        .map_err(io::Error::from)
        .context("creating the relay's wake-up pipe")
}

struct Worker {
    listener: TcpListener,
    upstream: SocketAddr,
    creds: Credentials,
    wake: OwnedFd,
    pairs: Vec<Pair>,
    uid: u32,
}

impl Worker {
    fn run(&mut self) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        loop {
            let mut polled = vec![
                PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
            ];
            for p in &self.pairs {
                let (c, u) = p.interest();
                polled.push(PollFd::new(
                    p.client.as_fd(),
                    PollFlags::from_bits_truncate(c),
                ));
                polled.push(PollFd::new(
                    p.upstream.as_fd(),
                    PollFlags::from_bits_truncate(u),
                ));
            }
            let timeout = if self.pairs.iter().any(|p| p.closing.is_some()) {
                PollTimeout::from(200u16)
            } else {
                PollTimeout::NONE
            };
            let n = poll(&mut polled, timeout);
            // What poll found on each descriptor (read before the pairs change).
            let revents: Vec<i16> = polled
                .iter()
                .map(|p| p.revents().map_or(0, |r| r.bits()))
                .collect();
            drop(polled);
            if let Err(e) = n {
                if e == nix::errno::Errno::EINTR {
                    continue;
                }
                let e = io::Error::from(e);
                log::warn!("RTSP credential relay: poll failed: {e}; relay stopped");
                return;
            }
            if revents[0] != 0 {
                return;
            }
            for (i, pair) in self.pairs.iter_mut().enumerate() {
                let (c, u) = (revents[2 + 2 * i], revents[3 + 2 * i]);
                pair.step(c, u, &self.creds);
            }
            self.pairs.retain(|p| !p.finished());
            if revents[1] != 0 {
                self.accept();
            }
        }
    }

    fn accept(&mut self) {
        loop {
            let (client, peer) = match self.listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("RTSP credential relay: accepting a connection: {e}");
                    return;
                }
            };
            let local = client.local_addr().ok();
            match local.and_then(|l| peer_uid(peer, l)) {
                Some(uid) if uid == self.uid => {}
                other => {
                    log::warn!(
                        "RTSP credential relay: refused a connection from {peer} (user {}): only this user's FFmpeg is relayed",
                        other.map_or("unknown".to_string(), |u| u.to_string())
                    );
                    continue;
                }
            }
            let upstream = match TcpStream::connect_timeout(&self.upstream, CONNECT_TIMEOUT) {
                Ok(s) => s,
                Err(e) => {
                    log::warn!(
                        "RTSP credential relay: connecting to MediaMTX at {}: {e}",
                        self.upstream
                    );
                    continue;
                }
            };
            let setup = |s: &TcpStream| {
                s.set_nonblocking(true)?;
                s.set_nodelay(true)
            };
            if let Err(e) = setup(&client).and_then(|()| setup(&upstream)) {
                log::warn!("RTSP credential relay: setting up a connection: {e}");
                continue;
            }
            log::debug!("RTSP credential relay: {peer} connected");
            self.pairs.push(Pair::new(client, upstream));
        }
    }
}

/// The uid owning the TCP socket `peer` connected to `local`, from
/// `/proc/net/tcp` (IPv4 only: the relay listens on 127.0.0.1).
fn peer_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let (SocketAddr::V4(peer), SocketAddr::V4(local)) = (peer, local) else {
        return None;
    };
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    proc_net_uid(&table, peer, local)
}

/// [`peer_uid`] on the text of `/proc/net/tcp`.
fn proc_net_uid(table: &str, peer: SocketAddrV4, local: SocketAddrV4) -> Option<u32> {
    let hex = |a: SocketAddrV4| {
        format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(a.ip().octets()),
            a.port()
        )
    };
    let (want_local, want_remote) = (hex(peer), hex(local));
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.get(1) == Some(&want_local.as_str()) && f.get(2) == Some(&want_remote.as_str()))
            .then(|| f.get(7)?.parse().ok())
            .flatten()
    })
}

/// A request sent to MediaMTX that may have to be sent again.
struct Pending {
    cseq: String,
    method: String,
    uri: String,
    /// The request as FFmpeg sent it (no `Authorization`).
    raw: Vec<u8>,
    authenticated: bool,
}

/// One direction of a connection.
struct Flow {
    inbuf: Vec<u8>,
    filled: usize,
    out: Vec<u8>,
    /// Bytes of the current interleaved frame still to copy.
    passthrough: usize,
    /// Whole messages to send once the current frame is through.
    inject: Vec<u8>,
    eof: bool,
}

impl Flow {
    fn new() -> Flow {
        Flow {
            inbuf: vec![0; BUF],
            filled: 0,
            out: Vec::with_capacity(OUT_HIGH),
            passthrough: 0,
            inject: Vec::new(),
            eof: false,
        }
    }

    fn wants_input(&self) -> bool {
        !self.eof && self.filled < BUF && self.out.len() < OUT_HIGH
    }

    /// Reads what `from` has, as far as there is room; `eof` at its end.
    fn read_from(&mut self, from: &mut TcpStream) -> io::Result<()> {
        while self.wants_input() {
            match from.read(&mut self.inbuf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn write_to(&mut self, to: &mut TcpStream) -> io::Result<()> {
        while !self.out.is_empty() {
            match to.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Splits the buffered input into interleaved frames (copied to `out`)
    /// and RTSP messages (handed to `on_message`, which writes what it wants).
    fn process(
        &mut self,
        mut on_message: impl FnMut(&rtsp_auth::Head, &[u8], &mut Vec<u8>),
    ) -> anyhow::Result<()> {
        let mut at = 0;
        loop {
            if self.passthrough == 0 && !self.inject.is_empty() {
                self.out.append(&mut self.inject);
            }
            let data = &self.inbuf[at..self.filled];
            if self.passthrough > 0 {
                let n = self.passthrough.min(data.len());
                if n == 0 {
                    break;
                }
                self.out.extend_from_slice(&data[..n]);
                self.passthrough -= n;
                at += n;
                continue;
            }
            match data {
                [] => break,
                [b'$', _, hi, lo, ..] => {
                    self.passthrough = 4 + usize::from(u16::from_be_bytes([*hi, *lo]));
                }
                [b'$', ..] => break,
                _ => {
                    let Some(head) = rtsp_auth::parse_head(data, MAX_MESSAGE)? else {
                        break;
                    };
                    let Some(message) = data.get(..head.total()) else {
                        break;
                    };
                    on_message(&head, message, &mut self.out);
                    at += head.total();
                }
            }
        }
        self.inbuf.copy_within(at..self.filled, 0);
        self.filled -= at;
        Ok(())
    }
}

/// FFmpeg's connection and the relay's connection to MediaMTX.
struct Pair {
    client: TcpStream,
    upstream: TcpStream,
    /// FFmpeg → MediaMTX.
    up: Flow,
    /// MediaMTX → FFmpeg.
    down: Flow,
    scheme: Option<Scheme>,
    pending: Vec<Pending>,
    closing: Option<Instant>,
    refused_logged: bool,
}

/// `request` with an `Authorization` header added before its blank line.
pub(crate) fn with_authorization(request: &[u8], head_len: usize, value: &str) -> Vec<u8> {
    let cut = head_len.saturating_sub(2).min(request.len());
    let mut out = Vec::with_capacity(request.len() + value.len() + 20);
    out.extend_from_slice(&request[..cut]);
    out.extend_from_slice(b"Authorization: ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&request[cut..]);
    out
}

impl Pair {
    fn new(client: TcpStream, upstream: TcpStream) -> Pair {
        Pair {
            client,
            upstream,
            up: Flow::new(),
            down: Flow::new(),
            scheme: None,
            pending: Vec::new(),
            closing: None,
            refused_logged: false,
        }
    }

    /// poll events wanted on (client, upstream).
    fn interest(&self) -> (i16, i16) {
        let open = self.closing.is_none();
        let mut c = 0;
        let mut u = 0;
        if open && self.up.wants_input() {
            c |= libc::POLLIN;
        }
        if open && self.down.wants_input() {
            u |= libc::POLLIN;
        }
        if !self.down.out.is_empty() {
            c |= libc::POLLOUT;
        }
        if !self.up.out.is_empty() {
            u |= libc::POLLOUT;
        }
        (c, u)
    }

    fn finished(&self) -> bool {
        match self.closing {
            None => false,
            Some(since) => {
                (self.up.out.is_empty() && self.down.out.is_empty())
                    || since.elapsed() >= CLOSE_GRACE
            }
        }
    }

    fn close(&mut self, why: &str) {
        if self.closing.is_none() {
            log::debug!("RTSP credential relay: connection ends ({why})");
            self.closing = Some(Instant::now());
        }
    }

    fn step(&mut self, client_ev: i16, upstream_ev: i16, creds: &Credentials) {
        if self.closing.is_none() {
            if client_ev != 0 {
                if let Err(e) = self.up.read_from(&mut self.client) {
                    return self.fail(&format!("reading from FFmpeg: {e}"));
                }
            }
            if upstream_ev != 0 {
                if let Err(e) = self.down.read_from(&mut self.upstream) {
                    return self.fail(&format!("reading from MediaMTX: {e}"));
                }
            }
            if let Err(e) = self.forward_requests(creds) {
                log::warn!("RTSP credential relay: from FFmpeg: {e:#}");
                return self.fail("unreadable request");
            }
            if let Err(e) = self.forward_answers(creds) {
                log::warn!("RTSP credential relay: from MediaMTX: {e:#}");
                return self.fail("unreadable answer");
            }
        }
        if let Err(e) = self.up.write_to(&mut self.upstream) {
            return self.fail(&format!("writing to MediaMTX: {e}"));
        }
        if let Err(e) = self.down.write_to(&mut self.client) {
            return self.fail(&format!("writing to FFmpeg: {e}"));
        }
        if self.up.eof {
            self.close("FFmpeg closed");
        } else if self.down.eof {
            self.close("MediaMTX closed");
        }
    }

    fn fail(&mut self, why: &str) {
        self.up.out.clear();
        self.down.out.clear();
        self.close(why);
    }

    /// FFmpeg's requests go on with the login once the scheme is known.
    fn forward_requests(&mut self, creds: &Credentials) -> anyhow::Result<()> {
        let scheme = &self.scheme;
        let pending = &mut self.pending;
        self.up.process(|head, message, out| {
            let Some((method, uri)) = head.request_line() else {
                // FFmpeg answering a request of the server: as it is.
                out.extend_from_slice(message);
                return;
            };
            let authenticated = scheme.is_some();
            match scheme {
                Some(s) => {
                    let value = rtsp_auth::authorization(s, creds, method, uri);
                    out.extend_from_slice(&with_authorization(message, head.head_len, &value));
                }
                None => out.extend_from_slice(message),
            }
            if let Some(cseq) = head.header("CSeq") {
                if pending.len() >= MAX_PENDING {
                    pending.remove(0);
                }
                pending.push(Pending {
                    cseq: cseq.to_string(),
                    method: method.to_string(),
                    uri: uri.to_string(),
                    raw: message.to_vec(),
                    authenticated,
                });
            }
        })
    }

    /// MediaMTX's answers go back to FFmpeg, except a challenge the relay
    /// answers itself.
    fn forward_answers(&mut self, creds: &Credentials) -> anyhow::Result<()> {
        let mut resend: Vec<u8> = Vec::new();
        let mut refused = false;
        let scheme = &mut self.scheme;
        let pending = &mut self.pending;
        self.down.process(|head, message, out| {
            let Some(code) = head.status() else {
                // A request of the server (rare): as it is.
                out.extend_from_slice(message);
                return;
            };
            let request = head
                .header("CSeq")
                .and_then(|c| pending.iter().position(|p| p.cseq == c))
                .map(|i| pending.remove(i));
            if code == 401 {
                if let Some(req) = request {
                    if req.authenticated {
                        refused = true;
                    } else if let Some(s) = rtsp_auth::choose(&rtsp_auth::parse_challenges(
                        head.all("WWW-Authenticate"),
                    )) {
                        let value = rtsp_auth::authorization(&s, creds, &req.method, &req.uri);
                        let header_end = rtsp_auth::parse_head(&req.raw, MAX_MESSAGE)
                            .ok()
                            .flatten()
                            .map_or(req.raw.len(), |h| h.head_len);
                        resend.extend_from_slice(&with_authorization(&req.raw, header_end, &value));
                        *scheme = Some(s);
                        pending.push(Pending {
                            authenticated: true,
                            ..req
                        });
                        return; // FFmpeg never sees this 401.
                    }
                }
            }
            out.extend_from_slice(message);
        })?;
        if refused && !self.refused_logged {
            self.refused_logged = true;
            log::error!("{}", rtsp_auth::REFUSED);
        }
        if !resend.is_empty() {
            log::debug!("RTSP credential relay: MediaMTX asked for a login; sending it");
            self.up.inject.extend_from_slice(&resend);
            // At once unless a frame is half through (then after it).
            if self.up.passthrough == 0 {
                self.up.out.append(&mut self.up.inject);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn authorization_goes_before_the_blank_line() {
        let req = b"ANNOUNCE rtsp://h/p RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nv=0";
        let head = rtsp_auth::parse_head(req, 1024).unwrap().unwrap();
        let out = with_authorization(req, head.head_len, "Basic eA==");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ANNOUNCE rtsp://h/p RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 3\r\nAuthorization: Basic eA==\r\n\r\nv=0"
        );
    }

    #[test]
    fn peer_uid_from_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  65534        0 123 1 0 20 4 30 10 -1\n   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 124 1 0 20 4 30 10 -1\n";
        let a = |p| SocketAddrV4::new(Ipv4Addr::LOCALHOST, p);
        // FFmpeg's socket 127.0.0.1:40000 → the relay's 127.0.0.1:8080.
        assert_eq!(proc_net_uid(table, a(40000), a(8080)), Some(65534));
        assert_eq!(proc_net_uid(table, a(8080), a(40000)), Some(0));
        assert_eq!(proc_net_uid(table, a(1), a(2)), None);
        assert_eq!(proc_net_uid("", a(1), a(2)), None);
    }

    /// Feeds `input` through a flow in pieces of `chunk` bytes.
    fn run_flow(input: &[u8], chunk: usize, mut f: impl FnMut(&[u8], &mut Vec<u8>)) -> Vec<u8> {
        let mut flow = Flow::new();
        let mut got = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            flow.inbuf[flow.filled..flow.filled + piece.len()].copy_from_slice(piece);
            flow.filled += piece.len();
            if flow.process(|_, m, out| f(m, out)).is_err() {
                break;
            }
            got.append(&mut flow.out);
        }
        got
    }

    #[test]
    fn frames_pass_untouched_and_messages_whole() {
        let mut input = Vec::new();
        input.extend_from_slice(b"OPTIONS rtsp://h/p RTSP/1.0\r\nCSeq: 1\r\n\r\n");
        input.extend_from_slice(&[b'$', 0, 0, 5, b'R', b'T', b'S', b'P', b'/']);
        input.extend_from_slice(&[b'$', 1, 0, 0]);
        input.extend_from_slice(b"GET_PARAMETER rtsp://h/p RTSP/1.0\r\nCSeq: 2\r\n\r\n");
        for chunk in [1, 3, 7, 1000] {
            let mut messages = Vec::new();
            let out = run_flow(&input, chunk, |m, out| {
                messages.push(m.to_vec());
                out.extend_from_slice(m);
            });
            assert_eq!(out, input, "chunk {chunk}");
            assert_eq!(messages.len(), 2, "chunk {chunk}");
        }
    }

    proptest! {
        #[test]
        fn flows_never_panic_and_frames_survive(
            bytes in proptest::collection::vec(any::<u8>(), 0..3000),
            chunk in 1usize..700,
        ) {
            let _ = run_flow(&bytes, chunk, |m, out| out.extend_from_slice(m));
            // Interleaved frames of any content come out as they went in.
            let mut framed = Vec::new();
            for piece in bytes.chunks(300) {
                framed.push(b'$');
                framed.push(3);
                framed.extend_from_slice(&(piece.len() as u16).to_be_bytes());
                framed.extend_from_slice(piece);
            }
            let out = run_flow(&framed, chunk, |_, _| panic!("no message in frames"));
            prop_assert_eq!(out, framed);
        }
    }
}
