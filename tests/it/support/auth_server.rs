//! A small loopback RTSP server that demands Basic or Digest (as MediaMTX's
//! gortsplib does: a challenge to a request without a login, a 401 without
//! one and a closed connection for a wrong login), records every request
//! head it gets, plays an interleaved video track to readers and counts the
//! interleaved bytes publishers send.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mediamtx_hook::mediamtx::rtsp_auth::{base64, md5_hex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demand {
    Basic,
    Digest,
}

pub const REALM: &str = "fake";
pub const NONCE: &str = "0a1b2c3d4e5f";

pub struct AuthServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Interleaved bytes received from publishers after RECORD.
    pub published: Arc<AtomicU64>,
    /// Requests that carried a correct login.
    pub accepted: Arc<AtomicU64>,
    /// Requests that carried a wrong login.
    pub refused: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl AuthServer {
    /// `session` is the Session header value SETUP answers with.
    pub fn start(port: u16, demand: Demand, user: &str, pass: &str, session: &str) -> AuthServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = AuthServer {
            port,
            requests: Arc::default(),
            published: Arc::default(),
            accepted: Arc::default(),
            refused: Arc::default(),
            stop: Arc::default(),
        };
        let ctx = Ctx {
            demand,
            user: user.to_string(),
            pass: pass.to_string(),
            session: session.to_string(),
            port,
            requests: server.requests.clone(),
            published: server.published.clone(),
            accepted: server.accepted.clone(),
            refused: server.refused.clone(),
            stop: server.stop.clone(),
        };
        std::thread::spawn(move || {
            while !ctx.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let ctx = ctx.clone();
                        std::thread::spawn(move || serve(s, ctx));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        server
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Request heads whose first line starts with `method `.
    pub fn with_method(&self, method: &str) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.starts_with(&format!("{method} ")))
            .collect()
    }
}

#[derive(Clone)]
struct Ctx {
    demand: Demand,
    user: String,
    pass: String,
    session: String,
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    published: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn param<'a>(v: &'a str, name: &str) -> Option<&'a str> {
    v.split(',').find_map(|p| {
        let (n, v) = p.trim().split_once('=')?;
        (n.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

enum Login {
    Missing,
    Good,
    Bad,
}

fn check(ctx: &Ctx, method: &str, head: &str) -> Login {
    let Some(auth) = header(head, "Authorization") else {
        return Login::Missing;
    };
    let good = match ctx.demand {
        Demand::Basic => {
            auth == format!(
                "Basic {}",
                base64(format!("{}:{}", ctx.user, ctx.pass).as_bytes())
            )
        }
        Demand::Digest => {
            let Some(rest) = auth.strip_prefix("Digest ") else {
                return Login::Bad;
            };
            let uri = param(rest, "uri").unwrap_or("");
            let ha1 = md5_hex(format!("{}:{REALM}:{}", ctx.user, ctx.pass).as_bytes());
            let ha2 = md5_hex(format!("{method}:{uri}").as_bytes());
            let expected = md5_hex(format!("{ha1}:{NONCE}:{ha2}").as_bytes());
            let request_uri = head.split(' ').nth(1).unwrap_or("");
            param(rest, "username") == Some(ctx.user.as_str())
                && param(rest, "nonce") == Some(NONCE)
                && param(rest, "realm") == Some(REALM)
                && uri == request_uri
                && param(rest, "response") == Some(expected.as_str())
        }
    };
    if good {
        Login::Good
    } else {
        Login::Bad
    }
}

fn serve(mut s: TcpStream, ctx: Ctx) {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut buf: Vec<u8> = Vec::new();
    let mut playing = false;
    let mut recording = false;
    let mut seq: u16 = 0;
    let mut next_packet = Instant::now();
    let mut chunk = [0u8; 16384];
    while !ctx.stop.load(Ordering::SeqCst) {
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
        loop {
            if buf.first() == Some(&b'$') {
                if buf.len() < 4 {
                    break;
                }
                let len = 4 + usize::from(u16::from_be_bytes([buf[2], buf[3]]));
                if buf.len() < len {
                    break;
                }
                if recording {
                    ctx.published.fetch_add(len as u64 - 4, Ordering::SeqCst);
                }
                buf.drain(..len);
                continue;
            }
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let body_len: usize = header(&head, "Content-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if buf.len() < end + 4 + body_len {
                break;
            }
            buf.drain(..end + 4 + body_len);
            ctx.requests.lock().unwrap().push(head.clone());
            let method = head.split(' ').next().unwrap_or("").to_string();
            let url = head.split(' ').nth(1).unwrap_or("").to_string();
            let cseq = header(&head, "CSeq").unwrap_or("0").to_string();
            let reply = |s: &mut TcpStream, status: &str, extra: &str, body: &str| {
                let msg = format!(
                    "RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(msg.as_bytes());
            };
            if method != "OPTIONS" {
                match check(&ctx, &method, &head) {
                    Login::Missing => {
                        let challenge = match ctx.demand {
                            Demand::Basic => format!("WWW-Authenticate: Basic realm=\"{REALM}\"\r\n"),
                            Demand::Digest => format!(
                                "WWW-Authenticate: Digest realm=\"{REALM}\", nonce=\"{NONCE}\", algorithm=\"MD5\"\r\n"
                            ),
                        };
                        reply(&mut s, "401 Unauthorized", &challenge, "");
                        continue;
                    }
                    Login::Bad => {
                        ctx.refused.fetch_add(1, Ordering::SeqCst);
                        reply(&mut s, "401 Unauthorized", "", "");
                        return;
                    }
                    Login::Good => {
                        ctx.accepted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            match method.as_str() {
                "OPTIONS" => reply(
                    &mut s,
                    "200 OK",
                    "Public: DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, TEARDOWN, GET_PARAMETER\r\n",
                    "",
                ),
                "DESCRIBE" => {
                    let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fake\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n";
                    let base = format!(
                        "Content-Base: {}/\r\nContent-Type: application/sdp\r\n",
                        url.trim_end_matches('/')
                    );
                    reply(&mut s, "200 OK", &base, sdp);
                }
                "ANNOUNCE" => reply(&mut s, "200 OK", "", ""),
                "SETUP" => {
                    let transport = header(&head, "Transport").unwrap_or("").to_string();
                    let extra = format!("Transport: {transport}\r\nSession: {}\r\n", ctx.session);
                    reply(&mut s, "200 OK", &extra, "");
                }
                "PLAY" => {
                    reply(&mut s, "200 OK", "", "");
                    playing = true;
                }
                "RECORD" => {
                    reply(&mut s, "200 OK", "", "");
                    recording = true;
                }
                "TEARDOWN" => {
                    reply(&mut s, "200 OK", "", "");
                    return;
                }
                _ => reply(&mut s, "200 OK", "", ""),
            }
        }
        if playing && Instant::now() >= next_packet {
            next_packet = Instant::now() + Duration::from_millis(40);
            seq = seq.wrapping_add(1);
            let mut rtp = vec![0x80, 0xE0 | 96];
            rtp.extend_from_slice(&seq.to_be_bytes());
            rtp.extend_from_slice(&[0; 8]);
            rtp.extend_from_slice(&[0x65, 0x88, 0x84, 0x00]);
            let mut frame = vec![b'$', 0];
            frame.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
            frame.extend_from_slice(&rtp);
            if s.write_all(&frame).is_err() {
                return;
            }
        }
    }
    let _ = ctx.port;
}
