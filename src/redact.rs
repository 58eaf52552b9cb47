//! Hiding secrets in text that is shown: logs, status, errors.

/// A URL as it may be shown: the password of its user information
/// replaced by `***` (`http://admin:***@host/…`), user information without
/// a password (possibly a token) replaced whole (`http://***@host/…`).
/// Works on anything URL-like, with or without a scheme. Every message
/// that shows a URL shows it through this.
pub(crate) fn redact_url(url: &str) -> String {
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
