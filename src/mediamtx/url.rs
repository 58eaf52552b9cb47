//! The URLs of the Control API: the base URL (`HOOK_MTX_API`) checked with
//! messages that name what is wrong, path names encoded for a URL, and URLs
//! shown without their passwords. The HTTP itself is ureq's (see `api`).

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct BaseUrl {
    /// As given (without a trailing slash), for messages.
    pub(super) text: String,
    pub(super) host: String,
    pub(super) port: u16,
    /// Path prefix before `/v3/…` (empty, or `/something` behind a proxy).
    pub(super) prefix: String,
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

pub(crate) use crate::redact::redact_url;

/// Percent-encodes a MediaMTX path or entry name for a URL: each segment
/// encoded, the `/` between them kept (MediaMTX's API routes take the rest
/// of the URL path as the name: `/v3/paths/get/site1/camera0`).
pub(crate) fn encode_name(s: &str) -> String {
    s.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Percent-encodes one path segment.
pub(crate) fn encode_segment(s: &str) -> String {
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
}
