//! The HTTP/1.1 the Control API client speaks, on `std::net`: the base URL
//! (`HOOK_MTX_API`), requests written and answers parsed (with
//! `Content-Length` or chunked), the deadline on every socket operation,
//! and the encodings the requests need (path segments, Basic credentials).

use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct BaseUrl {
    /// As given (without a trailing slash), for messages.
    pub(super) text: String,
    pub(super) host: String,
    pub(super) port: u16,
    /// Path prefix before `/v3/…` (empty, or `/something` behind a proxy).
    pub(super) prefix: String,
}

/// A raw HTTP answer.
#[derive(Debug)]
pub(super) struct Response {
    pub(super) code: u16,
    pub(super) body: Vec<u8>,
}

pub(super) fn remaining(deadline: Instant) -> std::io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "time limit reached",
        ));
    }
    Ok(left)
}

pub(super) fn set_timeouts(stream: &TcpStream, deadline: Instant) -> std::io::Result<()> {
    let left = remaining(deadline)?;
    stream.set_read_timeout(Some(left))?;
    stream.set_write_timeout(Some(left))
}

/// Parses `http://host[:port][/prefix]`. Only plain http: the API is meant
/// to be reached on loopback; credentials belong in the environment.
pub(super) fn parse_base(given: &str) -> Result<BaseUrl, String> {
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
pub(super) fn build_request(
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
pub(super) fn parse_response(raw: &[u8], at_eof: bool) -> Result<Option<Response>, String> {
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
pub(super) fn decode_chunked(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
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

/// Standard base64 with padding (for the Basic `Authorization` header).
pub(super) fn base64(input: &[u8]) -> String {
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
}
