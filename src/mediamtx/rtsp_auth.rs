//! RTSP credentials and the pieces of RTSP both the native reader and the
//! relay need: the head of a message (start line, headers, body length), the
//! server's `WWW-Authenticate` challenges, and the `Authorization` header that
//! answers one (Basic, or Digest with MD5 as MediaMTX's gortsplib computes it).
//!
//! Credentials come only from the environment (`HOOK_RTSP_USER`,
//! `HOOK_RTSP_PASS`): an argument vector is world-readable in `/proc`. The
//! password is never formatted into anything but an `Authorization` header;
//! `Debug` of [`Credentials`] hides it.
//!
//! Every parser here is total: any input gives a value or an error, never a
//! panic (property tests in this module and in `rtsp_reader`).

use anyhow::{anyhow, bail, Context as _};

use crate::error::usage;

/// Environment variable naming the RTSP user.
pub(crate) const USER_VAR: &str = "HOOK_RTSP_USER";
/// Environment variable holding the RTSP password.
pub(crate) const PASS_VAR: &str = "HOOK_RTSP_PASS";

/// What a refused login says, wherever it happens.
pub(crate) const REFUSED: &str =
    "MediaMTX refused the credentials in HOOK_RTSP_USER/HOOK_RTSP_PASS";

/// A user and password for MediaMTX's RTSP server.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub user: String,
    pass: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("pass", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    #[cfg(test)]
    pub(crate) fn new(user: impl Into<String>, pass: impl Into<String>) -> Credentials {
        Credentials {
            user: user.into(),
            pass: pass.into(),
        }
    }

    /// The credentials the environment gives: both variables or neither (an
    /// empty variable counts as unset). One without the other is a usage
    /// error naming the missing one.
    pub(crate) fn from_env() -> anyhow::Result<Option<Credentials>> {
        let get = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.into_string()
                        .map_err(|_| usage(format!("{name} is not valid UTF-8")))
                })
                .transpose()
        };
        Credentials::from_values(get(USER_VAR)?, get(PASS_VAR)?)
    }

    /// [`Credentials::from_env`] on given values.
    pub(crate) fn from_values(
        user: Option<String>,
        pass: Option<String>,
    ) -> anyhow::Result<Option<Credentials>> {
        match (user, pass) {
            (Some(user), Some(pass)) => {
                if user.contains(':') || user.chars().any(char::is_control) {
                    return Err(usage(format!(
                        "{USER_VAR} {user:?}: expected a user name without ':' or control characters"
                    )));
                }
                if pass.chars().any(|c| c == '\r' || c == '\n') {
                    return Err(usage(format!(
                        "{PASS_VAR} contains a line break: expected the password on one line"
                    )));
                }
                Ok(Some(Credentials { user, pass }))
            }
            (None, None) => Ok(None),
            (Some(_), None) => Err(usage(format!(
                "{USER_VAR} is set but {PASS_VAR} is not: set both (RTSP credentials) or neither"
            ))),
            (None, Some(_)) => Err(usage(format!(
                "{PASS_VAR} is set but {USER_VAR} is not: set both (RTSP credentials) or neither"
            ))),
        }
    }
}

/// The head of an RTSP message: its first line, its headers, and how long
/// the head (through the blank line) and the body are.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub first: String,
    pub headers: Vec<(String, String)>,
    pub head_len: usize,
    pub body_len: usize,
}

impl Head {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }

    /// Every header named `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Head and body together.
    pub(crate) fn total(&self) -> usize {
        self.head_len + self.body_len
    }

    /// The status code of a response (`RTSP/1.0 401 Unauthorized`).
    pub(crate) fn status(&self) -> Option<u16> {
        let rest = self.first.strip_prefix("RTSP/1.0 ")?;
        let code = rest.split(' ').next()?;
        if code.len() != 3 {
            return None;
        }
        code.parse().ok()
    }

    /// Method and URI of a request (`DESCRIBE rtsp://… RTSP/1.0`).
    pub(crate) fn request_line(&self) -> Option<(&str, &str)> {
        let mut parts = self.first.split(' ');
        let method = parts.next().filter(|m| !m.is_empty())?;
        let uri = parts.next().filter(|u| !u.is_empty())?;
        (parts.next() == Some("RTSP/1.0")).then_some((method, uri))
    }
}

/// Parses the head of the message at the start of `buf`; `None` while the
/// head is incomplete. Heads or bodies larger than `max` bytes are an error.
pub(crate) fn parse_head(buf: &[u8], max: usize) -> anyhow::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > max {
            bail!("RTSP header larger than {max} bytes");
        }
        return Ok(None);
    };
    if end > max {
        bail!("RTSP header larger than {max} bytes");
    }
    let text = std::str::from_utf8(&buf[..end]).context("RTSP header is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut head = Head {
        first,
        headers,
        head_len: end + 4,
        body_len: 0,
    };
    if let Some(v) = head.header("Content-Length") {
        let len: usize = v
            .parse()
            .map_err(|_| anyhow!("bad Content-Length {v:?}: expected a byte count"))?;
        if len > max {
            bail!("RTSP body of {len} bytes: larger than {max} bytes");
        }
        head.body_len = len;
    }
    Ok(Some(head))
}

/// How to authenticate on one connection, learnt from a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    Basic,
    Digest {
        realm: String,
        nonce: String,
        opaque: Option<String>,
    },
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `WWW-Authenticate` values into challenges. One value may hold
/// several (`Basic realm="x", Digest realm="x", nonce="y"`); a server may
/// also send several headers. Anything unreadable is skipped.
pub(crate) fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        let mut rest = value.trim();
        let mut current: Option<Challenge> = None;
        while !rest.is_empty() {
            rest = rest.trim_start_matches([',', ' ', '\t']);
            if rest.is_empty() {
                break;
            }
            let token_end = rest.find(['=', ',', ' ', '\t']).unwrap_or(rest.len());
            let token = &rest[..token_end];
            let after = rest[token_end..].trim_start_matches([' ', '\t']);
            if let Some(v) = after.strip_prefix('=') {
                // An auth-param of the current challenge.
                let v = v.trim_start_matches([' ', '\t']);
                let (value, remaining) = if let Some(q) = v.strip_prefix('"') {
                    quoted(q)
                } else {
                    let end = v.find(',').unwrap_or(v.len());
                    (v[..end].trim().to_string(), &v[end..])
                };
                if let Some(c) = current.as_mut() {
                    c.params.push((token.to_string(), value));
                }
                rest = remaining;
            } else {
                // A new scheme.
                if let Some(c) = current.take() {
                    out.push(c);
                }
                current = Some(Challenge {
                    scheme: token.to_string(),
                    params: Vec::new(),
                });
                rest = after;
            }
        }
        if let Some(c) = current {
            out.push(c);
        }
    }
    out
}

/// Reads a quoted string's content (after its opening quote): the value and
/// what follows the closing quote.
fn quoted(s: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &s[i + c.len_utf8()..]),
            '\\' => {
                if let Some((_, e)) = chars.next() {
                    value.push(e);
                }
            }
            c => value.push(c),
        }
    }
    (value, "")
}

/// The scheme to answer `challenges` with: Basic when offered (MediaMTX's
/// default `rtspAuthMethods`, and the one hashed passwords work with), else
/// Digest with MD5. `None` when nothing offered is supported.
pub(crate) fn choose(challenges: &[Challenge]) -> Option<Scheme> {
    if challenges
        .iter()
        .any(|c| c.scheme.eq_ignore_ascii_case("Basic"))
    {
        return Some(Scheme::Basic);
    }
    challenges
        .iter()
        .filter(|c| c.scheme.eq_ignore_ascii_case("Digest"))
        .find(|c| {
            c.param("algorithm")
                .is_none_or(|a| a.eq_ignore_ascii_case("MD5"))
        })
        .and_then(|c| {
            Some(Scheme::Digest {
                realm: c.param("realm")?.to_string(),
                nonce: c.param("nonce")?.to_string(),
                opaque: c.param("opaque").map(str::to_string),
            })
        })
}

/// The `Authorization` header value for a request `method uri`.
pub(crate) fn authorization(
    scheme: &Scheme,
    creds: &Credentials,
    method: &str,
    uri: &str,
) -> String {
    match scheme {
        Scheme::Basic => format!(
            "Basic {}",
            base64(format!("{}:{}", creds.user, creds.pass).as_bytes())
        ),
        Scheme::Digest {
            realm,
            nonce,
            opaque,
        } => {
            let ha1 = md5_hex(format!("{}:{realm}:{}", creds.user, creds.pass).as_bytes());
            let ha2 = md5_hex(format!("{method}:{uri}").as_bytes());
            let response = md5_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes());
            let mut v = format!(
                "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\"",
                escape(&creds.user),
                escape(realm),
                escape(nonce),
                escape(uri)
            );
            if let Some(o) = opaque {
                v.push_str(&format!(", opaque=\"{}\"", escape(o)));
            }
            v.push_str(", algorithm=\"MD5\"");
            v
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Standard base64 with padding (RFC 4648), for Basic authentication.
pub fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// MD5 (RFC 1321) of `data`, as 32 lowercase hex digits. Used only for
/// RTSP Digest authentication, which is defined on MD5.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn md5_matches_rfc1321() {
        for (input, out) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(md5_hex(input.as_bytes()), out, "{input:?}");
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
        ] {
            assert_eq!(base64(input.as_bytes()), out);
        }
    }

    #[test]
    fn credentials_come_in_pairs() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(Credentials::from_values(None, None).unwrap(), None);
        let c = Credentials::from_values(s("cam"), s("secret"))
            .unwrap()
            .unwrap();
        assert_eq!(c.user, "cam");
        assert!(!format!("{c:?}").contains("secret"));
        for (u, p, missing) in [(s("cam"), None, PASS_VAR), (None, s("secret"), USER_VAR)] {
            let err = Credentials::from_values(u, p).unwrap_err();
            assert!(crate::error::is_usage(&err));
            assert!(
                err.to_string().contains(&format!("{missing} is not")),
                "{err}"
            );
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        assert!(Credentials::from_values(s("a:b"), s("x")).is_err());
        let err = Credentials::from_values(s("a"), s("x\ny")).unwrap_err();
        assert!(!err.to_string().contains("x\ny"));
    }

    #[test]
    fn mediamtx_challenges_are_read() {
        // What gortsplib sends with rtspAuthMethods [basic, digest].
        let values = [
            "Basic realm=\"IPCAM\"",
            "Digest realm=\"IPCAM\", nonce=\"f0e1d2\", algorithm=\"MD5\"",
        ];
        let c = parse_challenges(values);
        assert_eq!(c.len(), 2);
        assert_eq!(choose(&c), Some(Scheme::Basic));
        let digest_only = parse_challenges([values[1]]);
        assert_eq!(
            choose(&digest_only),
            Some(Scheme::Digest {
                realm: "IPCAM".into(),
                nonce: "f0e1d2".into(),
                opaque: None
            })
        );
        // Several in one value, unquoted and escaped parameters.
        let c = parse_challenges([
            r#"Digest realm="a \"q\"", nonce=n1, opaque="o,p", stale=FALSE, Basic realm="b""#,
        ]);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].param("realm"), Some("a \"q\""));
        assert_eq!(c[0].param("nonce"), Some("n1"));
        assert_eq!(c[0].param("opaque"), Some("o,p"));
        assert_eq!(c[1].scheme, "Basic");
        // SHA-256 only: nothing this side supports.
        let sha = parse_challenges(["Digest realm=\"r\", nonce=\"n\", algorithm=\"SHA-256\""]);
        assert_eq!(choose(&sha), None);
        assert_eq!(choose(&parse_challenges(["Digest realm=\"r\""])), None);
    }

    #[test]
    fn digest_matches_gortsplib() {
        // gortsplib's Verify: md5(md5(user:realm:pass):nonce:md5(method:uri)).
        let creds = Credentials::new("myuser", "mypass");
        let scheme = Scheme::Digest {
            realm: "IPCAM".into(),
            nonce: "abcde".into(),
            opaque: None,
        };
        let v = authorization(&scheme, &creds, "DESCRIBE", "rtsp://127.0.0.1:8554/cam");
        let ha1 = md5_hex(b"myuser:IPCAM:mypass");
        let ha2 = md5_hex(b"DESCRIBE:rtsp://127.0.0.1:8554/cam");
        let expected = md5_hex(format!("{ha1}:abcde:{ha2}").as_bytes());
        assert!(v.starts_with("Digest username=\"myuser\""), "{v}");
        assert!(v.contains(&format!("response=\"{expected}\"")), "{v}");
        assert!(v.contains("uri=\"rtsp://127.0.0.1:8554/cam\""), "{v}");
        assert!(!v.contains("mypass"));
        assert_eq!(
            authorization(&Scheme::Basic, &creds, "X", "y"),
            format!("Basic {}", base64(b"myuser:mypass"))
        );
    }

    #[test]
    fn heads() {
        let raw = b"ANNOUNCE rtsp://h/p RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 4\r\n\r\nv=0\nX";
        let h = parse_head(raw, 1024).unwrap().unwrap();
        assert_eq!(h.request_line(), Some(("ANNOUNCE", "rtsp://h/p")));
        assert_eq!(h.status(), None);
        assert_eq!(
            (h.head_len, h.body_len, h.total()),
            (raw.len() - 5, 4, raw.len() - 1)
        );
        assert!(parse_head(&raw[..10], 1024).unwrap().is_none());
        assert!(parse_head(
            b"RTSP/1.0 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            1024
        )
        .is_err());
        assert!(parse_head(b"RTSP/1.0 200 OK\r\nContent-Length: 2000\r\n\r\n", 1024).is_err());
        assert!(parse_head(&[b'x'; 2000], 1024).is_err());
        let r = parse_head(b"RTSP/1.0 401 Unauthorized\r\n\r\n", 64)
            .unwrap()
            .unwrap();
        assert_eq!(r.status(), Some(401));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), text in ".{0,200}") {
            let _ = parse_head(&bytes, 256);
            let _ = parse_challenges([text.as_str(), String::from_utf8_lossy(&bytes).as_ref()]);
            let c = parse_challenges([text.as_str()]);
            if let Some(s) = choose(&c) {
                let _ = authorization(&s, &Credentials::new("u", "p"), "PLAY", &text);
            }
        }

        #[test]
        fn heads_with_arbitrary_header_values_never_panic(
            name in "[A-Za-z-]{1,20}",
            value in "[^\r\n]{0,80}",
            status in "[^\r\n]{0,40}",
            body in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let mut raw = format!("{status}\r\n{name}: {value}\r\nContent-Length: {value}\r\n\r\n").into_bytes();
            raw.extend_from_slice(&body);
            if let Ok(Some(h)) = parse_head(&raw, 1024) {
                let _ = h.status();
                let _ = h.request_line();
                prop_assert!(h.body_len <= 1024);
            }
        }
    }
}
