//! A tiny synchronous client for MediaMTX's Control API.
//!
//! The hook needs four requests, all to a MediaMTX on the same machine:
//! switch a path entry's `record` on or off (`PATCH /v3/config/paths/patch/…`),
//! read a path entry's configuration (`GET /v3/config/paths/get/…`, to notice
//! that a restarted MediaMTX forgot the switch) and read a path's runtime
//! state (`GET /v3/paths/get/…`: available, readers). That is plain HTTP/1.1
//! over a loopback TCP socket, so it is written here on `std::net` rather than
//! pulling an HTTP stack (and its TLS and async-adjacent dependencies) into a
//! program whose budget is a few milliseconds and a few MiB.
//!
//! Where things come from: the base URL from `HOOK_MTX_API` (default
//! `http://127.0.0.1:9997`), Basic credentials from `HOOK_MTX_API_USER` /
//! `HOOK_MTX_API_PASS` (never from the command line, where `ps` would show
//! them). Connecting is bounded by a short deadline (2 s); the answer gets
//! 6 s from then, because MediaMTX holds a refused login back a random 0-4 s
//! before its 401 (`internal/auth/log_and_delay_error.go`), and that 401
//! must arrive as advice about credentials, not as a time-out. Every error
//! names the URL, passed through [`redact_url`] so that a password written
//! into a URL never reaches a message or the journal; when nothing answers
//! it says how to turn the API on or how to record without it.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::error::usage;

/// Base URL used when `HOOK_MTX_API` is not set.
pub const DEFAULT_API: &str = "http://127.0.0.1:9997";
/// Time limit of connecting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time limit of the answer, once connected: more than MediaMTX's longest
/// pause (4 s) before refusing a login.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6);
/// Largest response read (a path list of many cameras stays far below).
const MAX_RESPONSE: usize = 4 << 20;

/// How to reach the Control API.
#[derive(Clone, Debug)]
pub struct Api {
    base: BaseUrl,
    /// `Authorization` header value, when credentials are given.
    auth: Option<String>,
    timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct BaseUrl {
    /// As given (without a trailing slash), for messages.
    text: String,
    host: String,
    port: u16,
    /// Path prefix before `/v3/…` (empty, or `/something` behind a proxy).
    prefix: String,
}

/// Why a request failed.
#[derive(Debug)]
pub enum ApiErrorKind {
    /// Nothing answered (refused, unreachable, timed out connecting).
    Unreachable(std::io::Error),
    /// Connected, but the answer did not come in time or was cut.
    Io(std::io::Error),
    /// MediaMTX answered with an error status.
    Status { code: u16, message: String },
    /// The answer was not HTTP or not the JSON expected.
    Protocol(String),
}

/// A failed Control API request; its text names the URL and what to do.
#[derive(Debug)]
pub struct ApiError {
    pub method: &'static str,
    pub url: String,
    pub kind: ApiErrorKind,
}

impl ApiError {
    /// True when nothing answered at the API address.
    pub fn is_unreachable(&self) -> bool {
        matches!(self.kind, ApiErrorKind::Unreachable(_))
    }
}

/// Advice printed when the Control API does not answer.
pub const ENABLE_API_HINT: &str = "MediaMTX's Control API is off or elsewhere. \
Turn it on in mediamtx.yml with `api: true` and `apiAddress: 127.0.0.1:9997` \
(and point HOOK_MTX_API at it if you use another address), \
or record without the API: give the path a static entry with `record: true` \
and a `runOnInit: hook run --device …` publisher, so MediaMTX records it all the time";

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (method, url) = (self.method, &self.url);
        match &self.kind {
            ApiErrorKind::Unreachable(e) => write!(
                f,
                "Control API {method} {url}: nothing answers ({e}). {ENABLE_API_HINT}"
            ),
            ApiErrorKind::Io(e) => write!(
                f,
                "Control API {method} {url}: no complete answer within the time limit ({e})"
            ),
            ApiErrorKind::Status { code, message } => {
                write!(f, "Control API {method} {url}: HTTP {code}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                match code {
                    401 | 403 => write!(
                        f,
                        " (set HOOK_MTX_API_USER and HOOK_MTX_API_PASS to a MediaMTX user with the `api` permission)"
                    ),
                    _ => Ok(()),
                }
            }
            ApiErrorKind::Protocol(why) => {
                write!(
                    f,
                    "Control API {method} {url}: unexpected answer ({why}); is this MediaMTX's API address?"
                )
            }
        }
    }
}

impl std::error::Error for ApiError {}

/// What `GET /v3/paths/get/{name}` says about an active path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathInfo {
    /// The stream can be read (`available`, or the older `ready`).
    pub available: bool,
    /// How many readers are connected.
    pub readers: usize,
    /// The publisher's type (`rtspSession`…), when there is one.
    pub source_type: Option<String>,
    /// The configuration entry serving the path (`confName`): the path's
    /// own name, or a regular expression entry shared by several paths.
    pub conf_name: Option<String>,
}

/// A raw HTTP answer.
#[derive(Debug)]
struct Response {
    code: u16,
    body: Vec<u8>,
}

impl Api {
    /// The API as the environment describes it (`HOOK_MTX_API`,
    /// `HOOK_MTX_API_USER`, `HOOK_MTX_API_PASS`).
    pub fn from_env() -> anyhow::Result<Api> {
        let base = std::env::var("HOOK_MTX_API").unwrap_or_default();
        let base = if base.trim().is_empty() {
            DEFAULT_API.to_string()
        } else {
            base
        };
        let user = std::env::var("HOOK_MTX_API_USER").ok();
        let pass = std::env::var("HOOK_MTX_API_PASS").ok();
        Api::new(&base, user.as_deref(), pass.as_deref())
    }

    /// An API client for `base` (`http://host:port[/prefix]`).
    pub fn new(base: &str, user: Option<&str>, pass: Option<&str>) -> anyhow::Result<Api> {
        let base = parse_base(base).map_err(usage)?;
        let auth = match (user.filter(|u| !u.is_empty()), pass) {
            (Some(u), p) => Some(format!(
                "Basic {}",
                base64(format!("{u}:{}", p.unwrap_or("")).as_bytes())
            )),
            (None, _) => None,
        };
        Ok(Api {
            base,
            auth,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Changes the time limit of each answer (connecting stays bounded by
    /// [`CONNECT_TIMEOUT`], or this limit when shorter).
    pub fn with_timeout(mut self, timeout: Duration) -> Api {
        self.timeout = timeout;
        self
    }

    /// The base URL, for messages.
    pub fn base_url(&self) -> &str {
        &self.base.text
    }

    /// Switches recording of the path configuration entry `entry` on or off
    /// (`PATCH /v3/config/paths/patch/{entry}` with `{"record": …}`).
    pub fn set_record(&self, entry: &str, on: bool) -> Result<(), ApiError> {
        let target = format!("/v3/config/paths/patch/{}", encode_name(entry));
        let body = serde_json::json!({ "record": on }).to_string();
        let resp = self.request("PATCH", &target, Some(body.as_bytes()))?;
        match resp.code {
            200..=299 => Ok(()),
            404 => Err(self.status_error(
                "PATCH",
                &target,
                &resp,
                &format!(
                    "MediaMTX has no path entry named {entry:?}; add an explicit entry for it to mediamtx.yml (`hook mediamtx-config` prints one)"
                ),
            )),
            _ => Err(self.status_error("PATCH", &target, &resp, "")),
        }
    }

    /// Whether the path configuration entry `entry` has `record` on
    /// (`GET /v3/config/paths/get/{entry}`); `None` when there is no such entry.
    pub fn record_enabled(&self, entry: &str) -> Result<Option<bool>, ApiError> {
        let target = format!("/v3/config/paths/get/{}", encode_name(entry));
        let resp = self.request("GET", &target, None)?;
        match resp.code {
            200 => {
                let v = self.json("GET", &target, &resp)?;
                Ok(Some(
                    v.get("record").and_then(|r| r.as_bool()).unwrap_or(false),
                ))
            }
            404 => Ok(None),
            _ => Err(self.status_error("GET", &target, &resp, "")),
        }
    }

    /// The runtime state of path `name` (`GET /v3/paths/get/{name}`); `None`
    /// when MediaMTX says it is not active (404).
    pub fn path(&self, name: &str) -> Result<Option<PathInfo>, ApiError> {
        let target = format!("/v3/paths/get/{}", encode_name(name));
        let resp = self.request("GET", &target, None)?;
        match resp.code {
            200 => {
                let v = self.json("GET", &target, &resp)?;
                Ok(Some(path_info(&v)))
            }
            404 => Ok(None),
            _ => Err(self.status_error("GET", &target, &resp, "")),
        }
    }

    /// The configuration entry `entry` as MediaMTX holds it now
    /// (`GET /v3/config/paths/get/{entry}`); `None` when there is no such entry.
    pub fn entry(&self, entry: &str) -> Result<Option<serde_json::Value>, ApiError> {
        let target = format!("/v3/config/paths/get/{}", encode_segment(entry));
        let resp = self.request("GET", &target, None)?;
        match resp.code {
            200 => self.json("GET", &target, &resp).map(Some),
            404 => Ok(None),
            _ => Err(self.status_error("GET", &target, &resp, "")),
        }
    }

    /// Merges `fields` into the configuration entry `entry`
    /// (`PATCH /v3/config/paths/patch/{entry}`). MediaMTX keeps the change in
    /// memory only. A change of anything but the `record*` fields recreates
    /// every path the entry serves: readers are dropped and on-demand
    /// commands get their SIGINT.
    pub fn patch_entry(&self, entry: &str, fields: &serde_json::Value) -> Result<(), ApiError> {
        let target = format!("/v3/config/paths/patch/{}", encode_segment(entry));
        let body = fields.to_string();
        let resp = self.request("PATCH", &target, Some(body.as_bytes()))?;
        match resp.code {
            200..=299 => Ok(()),
            404 => Err(self.status_error(
                "PATCH",
                &target,
                &resp,
                &format!("MediaMTX has no path entry named {entry:?}"),
            )),
            _ => Err(self.status_error("PATCH", &target, &resp, "")),
        }
    }

    fn url(&self, target: &str) -> String {
        format!("{}{target}", self.base.text)
    }

    fn status_error(
        &self,
        method: &'static str,
        target: &str,
        resp: &Response,
        advice: &str,
    ) -> ApiError {
        let mut message = error_message(&resp.body);
        if !advice.is_empty() {
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str(advice);
        }
        ApiError {
            method,
            url: self.url(target),
            kind: ApiErrorKind::Status {
                code: resp.code,
                message,
            },
        }
    }

    fn json(
        &self,
        method: &'static str,
        target: &str,
        resp: &Response,
    ) -> Result<serde_json::Value, ApiError> {
        serde_json::from_slice(&resp.body).map_err(|e| ApiError {
            method,
            url: self.url(target),
            kind: ApiErrorKind::Protocol(format!("body is not JSON: {e}")),
        })
    }

    /// One request on a fresh connection (`Connection: close`), bounded by
    /// the time limit from connect to the last byte.
    fn request(
        &self,
        method: &'static str,
        target: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ApiError> {
        let url = self.url(target);
        let err = |kind| ApiError {
            method,
            url: url.clone(),
            kind,
        };
        let connect_deadline = Instant::now() + CONNECT_TIMEOUT.min(self.timeout);
        let mut stream = self
            .connect(connect_deadline)
            .map_err(|e| err(ApiErrorKind::Unreachable(e)))?;
        let deadline = Instant::now() + self.timeout;
        let request = build_request(
            method,
            &format!("{}{target}", self.base.prefix),
            &self.host_header(),
            self.auth.as_deref(),
            body,
        );
        let io = |e| err(ApiErrorKind::Io(e));
        set_timeouts(&stream, deadline).map_err(io)?;
        stream.write_all(&request).map_err(io)?;
        let mut raw = Vec::with_capacity(4096);
        let mut buf = [0u8; 8192];
        loop {
            set_timeouts(&stream, deadline).map_err(io)?;
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if raw.len() > MAX_RESPONSE {
                        return Err(err(ApiErrorKind::Protocol(format!(
                            "answer larger than {MAX_RESPONSE} bytes"
                        ))));
                    }
                    // Stop as soon as a Content-Length answer is complete:
                    // some servers keep the socket open a moment.
                    if let Ok(Some(resp)) = parse_response(&raw, false) {
                        return Ok(resp);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        match parse_response(&raw, true) {
            Ok(Some(resp)) => Ok(resp),
            Ok(None) => Err(err(ApiErrorKind::Protocol("answer cut short".into()))),
            Err(why) => Err(err(ApiErrorKind::Protocol(why))),
        }
    }

    fn connect(&self, deadline: Instant) -> std::io::Result<TcpStream> {
        let addrs: Vec<SocketAddr> = (self.base.host.as_str(), self.base.port)
            .to_socket_addrs()?
            .collect();
        let mut last = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} resolves to no address", self.base.host),
        );
        for addr in addrs {
            let left = remaining(deadline)?;
            match TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn host_header(&self) -> String {
        if self.base.host.contains(':') {
            format!("[{}]:{}", self.base.host, self.base.port)
        } else {
            format!("{}:{}", self.base.host, self.base.port)
        }
    }
}

fn remaining(deadline: Instant) -> std::io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "time limit reached",
        ));
    }
    Ok(left)
}

fn set_timeouts(stream: &TcpStream, deadline: Instant) -> std::io::Result<()> {
    let left = remaining(deadline)?;
    stream.set_read_timeout(Some(left))?;
    stream.set_write_timeout(Some(left))
}

/// Parses `http://host[:port][/prefix]`. Only plain http: the API is meant
/// to be reached on loopback; credentials belong in the environment.
fn parse_base(given: &str) -> Result<BaseUrl, String> {
    let expected = "expected http://HOST:PORT, e.g. http://127.0.0.1:9997";
    let text = given;
    // Every message below shows the URL without its password.
    let shown = redact_url(given);
    let text_shown = shown.as_str();
    let trimmed = text.trim().trim_end_matches('/');
    let Some(rest) = trimmed.strip_prefix("http://") else {
        if trimmed.starts_with("https://") {
            return Err(format!(
                "HOOK_MTX_API {text_shown:?}: https is not supported (the hook talks to MediaMTX's API over plain http on this machine); {expected}"
            ));
        }
        return Err(format!("HOOK_MTX_API {text_shown:?}: {expected}"));
    };
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(format!(
            "HOOK_MTX_API {text_shown:?}: put credentials in HOOK_MTX_API_USER and HOOK_MTX_API_PASS, not in the URL"
        ));
    }
    if prefix.contains(['?', '#', ' ']) || prefix.chars().any(|c| c.is_control()) {
        return Err(format!("HOOK_MTX_API {text_shown:?}: {expected}"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("HOOK_MTX_API {text_shown:?}: {expected}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("HOOK_MTX_API {text_shown:?}: {expected}")),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("HOOK_MTX_API {text_shown:?}: {expected}"));
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && !p.starts_with('+') => n,
            _ => {
                return Err(format!(
                    "HOOK_MTX_API {text_shown:?}: port {p:?} is not 1-65535; {expected}"
                ))
            }
        },
    };
    Ok(BaseUrl {
        text: redact_url(trimmed),
        host: host.to_string(),
        port,
        prefix: prefix.to_string(),
    })
}

/// A URL as it may be shown: the password of its user information
/// replaced by `***` (`http://admin:***@host/…`), user information without
/// a password (possibly a token) replaced whole (`http://***@host/…`).
/// Works on anything URL-like, with or without a scheme. Every message
/// that shows a URL shows it through this.
pub fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_len = url[start..]
        .find(['/', '?', '#'])
        .unwrap_or(url.len() - start);
    let authority = &url[start..start + authority_len];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let hidden = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => "***".to_string(),
    };
    format!("{}{hidden}{}", &url[..start], &url[start + at..])
}

/// Percent-encodes a MediaMTX path or entry name for a URL: each segment
/// encoded, the `/` between them kept (MediaMTX's API routes take the rest
/// of the URL path as the name: `/v3/paths/get/site1/camera0`).
pub fn encode_name(s: &str) -> String {
    s.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Percent-encodes one path segment.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The bytes of one HTTP/1.1 request.
fn build_request(
    method: &str,
    target: &str,
    host: &str,
    auth: Option<&str>,
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mediamtx-hook/{}\r\nAccept: application/json\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(auth) = auth {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if let Some(body) = body {
        bytes.extend_from_slice(body);
    }
    bytes
}

/// Parses an HTTP/1.x response. `Ok(None)` while more bytes are needed;
/// with `at_eof` a body without a length ends at the end of the stream.
fn parse_response(raw: &[u8], at_eof: bool) -> Result<Option<Response>, String> {
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if at_eof {
            Err("no complete HTTP header".into())
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| "header is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("status line {status:?} is not HTTP/1.x"));
    }
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("status line {status:?} has no status code"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
    }
    let rest = &raw[head_end + 4..];
    let body = if chunked {
        match decode_chunked(rest)? {
            Some(b) => b,
            None if at_eof => return Err("chunked body cut short".into()),
            None => return Ok(None),
        }
    } else if let Some(n) = length {
        if rest.len() < n {
            return if at_eof {
                Err(format!("body cut short ({} of {n} bytes)", rest.len()))
            } else {
                Ok(None)
            };
        }
        rest[..n].to_vec()
    } else if code == 204 || code == 304 || (100..200).contains(&code) {
        Vec::new()
    } else if at_eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response { code, body }))
}

/// Decodes a chunked body; `Ok(None)` when it is not complete yet.
fn decode_chunked(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&data[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// MediaMTX's `{"status":"error","error":"…"}` text, else the body itself (short).
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
            return e.to_string();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    text.chars().take(200).collect()
}

/// Reads the fields the hook uses from a `Path` object.
fn path_info(v: &serde_json::Value) -> PathInfo {
    let flag = |k: &str| v.get(k).and_then(|x| x.as_bool());
    PathInfo {
        available: flag("available").or_else(|| flag("ready")).unwrap_or(false),
        readers: v
            .get("readers")
            .and_then(|r| r.as_array())
            .map_or(0, |r| r.len()),
        source_type: v
            .get("source")
            .and_then(|s| s.get("type"))
            .and_then(|t| t.as_str())
            .map(str::to_string),
        conf_name: v
            .get("confName")
            .and_then(|c| c.as_str())
            .map(str::to_string),
    }
}

/// Standard base64 with padding (for the Basic `Authorization` header).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let b = parse_base("http://127.0.0.1:9997").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.prefix.as_str()),
            ("127.0.0.1", 9997, "")
        );
        let b = parse_base("http://localhost/mtx/").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.prefix.as_str()),
            ("localhost", 80, "/mtx")
        );
        assert_eq!(b.text, "http://localhost/mtx");
        let b = parse_base("http://[::1]:9997").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 9997));
        for bad in [
            "",
            "127.0.0.1:9997",
            "https://127.0.0.1:9997",
            "http://user:pw@127.0.0.1:9997",
            "http://127.0.0.1:0",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:+80",
            "http://:9997",
            "http://[::1:9997",
        ] {
            assert!(parse_base(bad).is_err(), "{bad:?}");
        }
        assert!(parse_base("https://x").unwrap_err().contains("https"));
        assert!(parse_base("http://u:p@x")
            .unwrap_err()
            .contains("HOOK_MTX_API_USER"));
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode_segment("camera0"), "camera0");
        assert_eq!(encode_segment("cam 1"), "cam%201");
        assert_eq!(encode_segment("a?b#c%"), "a%3Fb%23c%25");
        assert_eq!(encode_segment("é"), "%C3%A9");
        assert_eq!(encode_name("site1/camera0"), "site1/camera0");
        assert_eq!(encode_name("a b/c?"), "a%20b/c%3F");
    }

    #[test]
    fn urls_are_shown_without_passwords() {
        for (url, shown) in [
            (
                "http://admin:pass@127.0.0.1:9997",
                "http://admin:***@127.0.0.1:9997",
            ),
            (
                "http://admin:p@ss@host/x?y=z",
                "http://admin:***@host/x?y=z",
            ),
            ("http://token@host:1/v3", "http://***@host:1/v3"),
            ("admin:pass@127.0.0.1:9997", "admin:***@127.0.0.1:9997"),
            ("rtsp://u:secret@cam/stream", "rtsp://u:***@cam/stream"),
            ("http://127.0.0.1:9997/a@b", "http://127.0.0.1:9997/a@b"),
            ("http://127.0.0.1:9997", "http://127.0.0.1:9997"),
            ("", ""),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        for given in [
            "http://admin:hunter2@127.0.0.1:9997",
            "https://admin:hunter2@127.0.0.1:9997",
            "admin:hunter2@127.0.0.1:9997",
            "http://admin:hunter2@127.0.0.1:99999",
            "http://admin:hunter2@[::1:9997",
        ] {
            let err = parse_base(given).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains("admin:***@"), "{err}");
        }
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (input, out) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("admin:secret", "YWRtaW46c2VjcmV0"),
        ] {
            assert_eq!(base64(input.as_bytes()), out);
        }
    }

    #[test]
    fn request_bytes() {
        let r = build_request(
            "PATCH",
            "/v3/config/paths/patch/cam0",
            "127.0.0.1:9997",
            Some("Basic eDp5"),
            Some(br#"{"record":true}"#),
        );
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("PATCH /v3/config/paths/patch/cam0 HTTP/1.1\r\n"));
        assert!(text.contains("\r\nHost: 127.0.0.1:9997\r\n"));
        assert!(text.contains("\r\nAuthorization: Basic eDp5\r\n"));
        assert!(text.contains("\r\nContent-Length: 15\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"record\":true}"));
    }

    #[test]
    fn parses_responses() {
        let raw =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let r = parse_response(raw, false).unwrap().unwrap();
        assert_eq!((r.code, r.body.as_slice()), (200, &b"{}"[..]));
        assert!(parse_response(&raw[..raw.len() - 1], false)
            .unwrap()
            .is_none());
        assert!(parse_response(&raw[..raw.len() - 1], true).is_err());
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        let r = parse_response(chunked, false).unwrap().unwrap();
        assert_eq!((r.code, r.body.as_slice()), (404, &b"hello world"[..]));
        let close = b"HTTP/1.0 500 Oops\r\n\r\nboom";
        assert!(parse_response(close, false).unwrap().is_none());
        assert_eq!(parse_response(close, true).unwrap().unwrap().body, b"boom");
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", true).is_err());
    }

    #[test]
    fn reads_path_objects() {
        let v = serde_json::json!({
            "name": "cam0", "confName": "cam0", "ready": true, "available": true,
            "source": {"type": "rtspSession", "id": "x"},
            "readers": [{"type": "rtspSession", "id": "a"}, {"type": "hlsMuxer", "id": "b"}]
        });
        assert_eq!(
            path_info(&v),
            PathInfo {
                available: true,
                readers: 2,
                source_type: Some("rtspSession".into()),
                conf_name: Some("cam0".into()),
            }
        );
        let old = serde_json::json!({"ready": true, "readers": [], "source": null});
        assert!(path_info(&old).available);
        assert_eq!(path_info(&serde_json::json!({})), PathInfo::default());
    }

    #[test]
    fn error_texts_name_the_url_and_the_way_out() {
        let api = Api::new("http://127.0.0.1:1", None, None).unwrap();
        // Port 1 on loopback: nothing listens there.
        let err = api.path("cam0").unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("http://127.0.0.1:1/v3/paths/get/cam0"),
            "{text}"
        );
        assert!(text.contains("api: true"), "{text}");
        assert!(text.contains("record: true"), "{text}");
        assert!(text.contains("runOnInit"), "{text}");
        let unauthorized = ApiError {
            method: "GET",
            url: "http://x/v3".into(),
            kind: ApiErrorKind::Status {
                code: 401,
                message: "authentication error".into(),
            },
        };
        assert!(unauthorized.to_string().contains("HOOK_MTX_API_USER"));
    }

    #[test]
    fn credentials_make_a_basic_header() {
        let api = Api::new("http://127.0.0.1:9997", Some("admin"), Some("secret")).unwrap();
        assert_eq!(api.auth.as_deref(), Some("Basic YWRtaW46c2VjcmV0"));
        let api = Api::new("http://127.0.0.1:9997", None, Some("secret")).unwrap();
        assert!(api.auth.is_none());
    }
}
