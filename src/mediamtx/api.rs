//! A tiny synchronous client for MediaMTX's Control API.
//!
//! The hook needs four requests, all to a MediaMTX on the same machine:
//! switch a path entry's `record` on or off (`PATCH /v3/config/paths/patch/…`),
//! read a path entry's configuration (`GET /v3/config/paths/get/…`, to notice
//! that a restarted MediaMTX forgot the switch) and read a path's runtime
//! state (`GET /v3/paths/get/…`: available, readers). That is plain HTTP/1.1
//! over a loopback TCP socket; ureq speaks it (synchronous, with its default
//! features off: no TLS, no compression), and the base URL's checks, the
//! encoding of path names and the redaction of URLs are in `url`.
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
use std::time::Duration;

use super::rtsp_auth::base64;
use super::url::*;
pub(crate) use super::url::{encode_name, redact_url};
use crate::error::usage;

/// Base URL used when `HOOK_MTX_API` is not set.
pub(crate) const DEFAULT_API: &str = "http://127.0.0.1:9997";
/// Time limit of connecting.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time limit of the answer, once connected: more than MediaMTX's longest
/// pause (4 s) before refusing a login.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6);
/// Largest response read (a path list of many cameras stays far below).
pub(super) const MAX_RESPONSE: usize = 4 << 20;

/// An answer: its status and its body (at most [`MAX_RESPONSE`] bytes).
#[derive(Debug)]
struct Response {
    code: u16,
    body: Vec<u8>,
}

/// How to reach the Control API.
#[derive(Clone, Debug)]
pub struct Api {
    base: BaseUrl,
    /// `Authorization` header value, when credentials are given.
    auth: Option<String>,
    timeout: Duration,
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
    #[cfg(test)]
    pub(crate) fn is_unreachable(&self) -> bool {
        matches!(self.kind, ApiErrorKind::Unreachable(_))
    }

    /// True when the request went out but its answer never came (or was
    /// cut): MediaMTX may have applied it.
    pub(crate) fn outcome_unknown(&self) -> bool {
        matches!(self.kind, ApiErrorKind::Io(_))
    }
}

/// Advice printed when the Control API does not answer.
pub(crate) const ENABLE_API_HINT: &str = "MediaMTX's Control API is off or elsewhere. \
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

impl Api {
    /// The API as the environment describes it (`HOOK_MTX_API`,
    /// `HOOK_MTX_API_USER`, `HOOK_MTX_API_PASS`).
    pub(crate) fn from_env() -> anyhow::Result<Api> {
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
    pub(crate) fn with_timeout(mut self, timeout: Duration) -> Api {
        self.timeout = timeout;
        self
    }

    /// The base URL, for messages.
    pub(crate) fn base_url(&self) -> &str {
        &self.base.text
    }

    /// Switches recording of the path configuration entry `entry` on or off
    /// (`PATCH /v3/config/paths/patch/{entry}` with `{"record": …}`).
    pub(crate) fn set_record(&self, entry: &str, on: bool) -> Result<(), ApiError> {
        self.patch_entry(entry, &serde_json::json!({ "record": on }))
    }

    /// Whether the path configuration entry `entry` has `record` on
    /// (`GET /v3/config/paths/get/{entry}`); `None` when there is no such entry.
    pub(crate) fn record_enabled(&self, entry: &str) -> Result<Option<bool>, ApiError> {
        Ok(self
            .entry(entry)?
            .map(|v| v.get("record").and_then(|r| r.as_bool()).unwrap_or(false)))
    }

    /// Whether the Control API answers (`GET /v3/paths/list` gives 200).
    pub(crate) fn path_list_answers(&self) -> Result<(), ApiError> {
        let target = "/v3/paths/list";
        let resp = self.request("GET", target, None)?;
        match resp.code {
            200 => Ok(()),
            _ => Err(self.status_error("GET", target, &resp, "")),
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
    pub(crate) fn entry(&self, entry: &str) -> Result<Option<serde_json::Value>, ApiError> {
        let target = format!("/v3/config/paths/get/{}", encode_name(entry));
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
    pub(crate) fn patch_entry(
        &self,
        entry: &str,
        fields: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let target = format!("/v3/config/paths/patch/{}", encode_name(entry));
        let body = fields.to_string();
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

    /// One request. Connecting (name lookup included) is bounded by
    /// [`CONNECT_TIMEOUT`] (or the answer's limit when shorter); the answer's
    /// head by the answer's limit; the whole exchange, body included, by
    /// both together. No proxy from the environment, no redirect, no retry.
    fn request(
        &self,
        method: &'static str,
        target: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ApiError> {
        let err = |kind| ApiError {
            method,
            url: self.url(target),
            kind,
        };
        let connect = CONNECT_TIMEOUT.min(self.timeout);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("mediamtx-hook/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .timeout_resolve(Some(connect))
            .timeout_connect(Some(connect))
            .timeout_recv_response(Some(self.timeout))
            .timeout_global(Some(connect + self.timeout))
            .build()
            .into();
        let url = format!("http://{}{}{target}", self.host_header(), self.base.prefix);
        let mut head = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(auth) = &self.auth {
            head = head.header("Authorization", auth);
        }
        let sent = match body {
            Some(b) => head
                .header("Content-Type", "application/json")
                .body(b.to_vec())
                .map_err(ureq::Error::from)
                .and_then(|r| agent.run(r)),
            None => head
                .body(())
                .map_err(ureq::Error::from)
                .and_then(|r| agent.run(r)),
        };
        let mut resp = sent.map_err(|e| err(error_kind(e)))?;
        let code = resp.status().as_u16();
        // A web page (another server on that port) is not the Control API:
        // said at once, whatever its status, not after a deadline.
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        if let Some(kind) = kind.filter(|k| k.starts_with("text/html")) {
            return Err(err(ApiErrorKind::Protocol(format!(
                "answered {code} with a web page ({kind}), not MediaMTX's JSON: HOOK_MTX_API names another server; point it at MediaMTX's apiAddress"
            ))));
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE as u64)
            .read_to_vec()
            .map_err(|e| err(error_kind(e)))?;
        Ok(Response { code, body })
    }

    fn host_header(&self) -> String {
        if self.base.host.contains(':') {
            format!("[{}]:{}", self.base.host, self.base.port)
        } else {
            format!("{}:{}", self.base.host, self.base.port)
        }
    }
}

/// Which of the hook's kinds of failure a ureq error is: nothing listening
/// (or no connection in time) is `Unreachable`, an answer that did not
/// come in time is `Io`, anything else is an answer that is not what
/// MediaMTX sends.
fn error_kind(e: ureq::Error) -> ApiErrorKind {
    use std::io::{Error, ErrorKind};
    use ureq::Timeout;
    match e {
        ureq::Error::Timeout(t @ (Timeout::Resolve | Timeout::Connect)) => {
            ApiErrorKind::Unreachable(Error::new(
                ErrorKind::TimedOut,
                format!("{t} time limit reached"),
            ))
        }
        ureq::Error::Timeout(t) => ApiErrorKind::Io(Error::new(
            ErrorKind::TimedOut,
            format!("{t} time limit reached"),
        )),
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            ApiErrorKind::Unreachable(Error::new(ErrorKind::NotConnected, e.to_string()))
        }
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::NotFound
            ) =>
        {
            ApiErrorKind::Unreachable(io)
        }
        ureq::Error::BodyExceedsLimit(_) => {
            ApiErrorKind::Protocol(format!("answer larger than {MAX_RESPONSE} bytes"))
        }
        other => ApiErrorKind::Protocol(other.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Serves one connection with `answer` and returns the request's head.
    fn serve_once(answer: Vec<u8>) -> (String, std::thread::JoinHandle<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Head and body (a socket closed with unread bytes resets the
            // connection, which may destroy the answer).
            let complete = |raw: &[u8]| {
                raw.windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .is_some_and(|end| {
                        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        raw.len() >= end + 4 + length
                    })
            };
            while !complete(&request) {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "request cut short");
                request.extend_from_slice(&buf[..n]);
            }
            let _ = conn.write_all(&answer);
            String::from_utf8_lossy(&request).into_owned()
        });
        (base, server)
    }

    #[test]
    fn chunked_answers_and_names_with_slashes() {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
            10\r\n{\"available\":tru\r\n3;x=y\r\ne, \r\n13\r\n\"confName\":\"site1\"}\r\n0\r\n\r\n";
        let (base, server) = serve_once(answer.to_vec());
        let api = Api::new(&base, None, None).unwrap();
        let info = api.path("site1/camera 0").unwrap().unwrap();
        assert!(info.available);
        assert_eq!(info.conf_name.as_deref(), Some("site1"));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /v3/paths/get/site1/camera%200 HTTP/1.1\r\n"),
            "{request}"
        );
    }

    #[test]
    fn answers_over_the_size_cap_are_refused() {
        let mut answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            MAX_RESPONSE + 1
        )
        .into_bytes();
        answer.resize(answer.len() + MAX_RESPONSE + 1, b' ');
        let (base, server) = serve_once(answer);
        let api = Api::new(&base, None, None).unwrap();
        let err = api.path("cam0").unwrap_err();
        assert!(matches!(err.kind, ApiErrorKind::Protocol(_)), "{err:?}");
        assert!(err.to_string().contains("answer larger than"), "{err}");
        server.join().unwrap();
    }

    #[test]
    fn a_404_entry_names_the_entry_and_the_way_out() {
        let body = r#"{"status":"error","error":"path configuration not found"}"#;
        let answer = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (base, server) = serve_once(answer.into_bytes());
        let api = Api::new(&base, None, None).unwrap();
        let err = api.set_record("cam9", true).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("HTTP 404"), "{text}");
        assert!(text.contains("path configuration not found"), "{text}");
        assert!(text.contains("hook mediamtx-config"), "{text}");
        let request = server.join().unwrap();
        assert!(
            request.starts_with("PATCH /v3/config/paths/patch/cam9 "),
            "{request}"
        );
    }
}
