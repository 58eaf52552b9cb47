//! Whether something listens on a local TCP port: how the supervisor tells
//! that MediaMTX's RTSP server is up before it starts a child that connects to it.

/// True when a TCP socket listens on `port` where a connection to
/// 127.0.0.1 reaches it (loopback or wildcard address).
///
/// Looking instead of connecting matters: FFmpeg's one-shot RTSP listener
/// would take a probe connection for its publisher and quit. The look is a
/// `bind()` of 127.0.0.1:`port` with `SO_REUSEADDR`, which Linux refuses
/// (`EADDRINUSE`) only when a listening socket holds the address; it takes
/// microseconds, where reading `/proc/net/tcp` takes milliseconds on a busy
/// machine. Where the bind is not allowed (a port below 1024 without the
/// privilege) `/proc/net/tcp*` is read instead; when that fails too the
/// answer is yes (FFmpeg will tell).
pub fn port_listening(port: u16) -> bool {
    match bind_probe(port) {
        Some(answer) => answer,
        None => proc_listening(port),
    }
}

/// `Some(true)` when the bind says a listener holds 127.0.0.1:`port`,
/// `Some(false)` when nothing does, `None` when the bind cannot tell.
pub(super) fn bind_probe(port: u16) -> Option<bool> {
    use nix::errno::Errno;
    use nix::sys::socket::{
        bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ok()?;
    let _ = setsockopt(&fd, sockopt::ReuseAddr, &true);
    match bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port)) {
        Ok(()) => Some(false),
        Err(Errno::EADDRINUSE) => Some(true),
        Err(_) => None,
    }
}

/// The same question answered from `/proc/net/tcp` and `/proc/net/tcp6`.
pub(super) fn proc_listening(port: u16) -> bool {
    let mut readable = false;
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        readable = true;
        if listening_in(&text, port, v6) {
            return true;
        }
    }
    !readable
}

/// Parses one `/proc/net/tcp*` table (pure, for tests).
pub(super) fn listening_in(table: &str, port: u16, v6: bool) -> bool {
    const LISTEN: &str = "0A";
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 || fields[3] != LISTEN {
            return false;
        }
        let Some((addr, p)) = fields[1].split_once(':') else {
            return false;
        };
        if u16::from_str_radix(p, 16) != Ok(port) {
            return false;
        }
        if v6 {
            // Words are in host (little-endian) order: :: (dual stack) or
            // ::ffff:127.x; ::1 alone does not take IPv4 connections.
            addr == "00000000000000000000000000000000"
                || (addr.starts_with("0000000000000000FFFF0000") && addr.ends_with("7F"))
        } else {
            // 0.0.0.0 or 127.x.y.z (the first octet is the last byte).
            addr == "00000000" || addr.ends_with("7F")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2262 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:2263 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0201A8C0:2264 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
   3: 00000000:2265 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0
";
    const TCP6: &str =
        "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:2266 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000001000000:2267 00000000000000000000000000000000:0000 0A
   2: 0000000000000000FFFF00000100007F:2268 00000000000000000000000000000000:0000 0A
   3: 20010DB8000000000000000000000001:2269 00000000000000000000000000000000:0000 0A
";

    #[test]
    fn listening_sockets_are_found_by_port_and_address() {
        assert!(listening_in(TCP, 0x2262, false), "127.0.0.1 listening");
        assert!(
            !listening_in(TCP, 0x2263, false),
            "established, not listening"
        );
        assert!(!listening_in(TCP, 0x2264, false), "192.168.1.2 only");
        assert!(listening_in(TCP, 0x2265, false), "0.0.0.0");
        assert!(!listening_in(TCP, 0x9999, false));
        assert!(listening_in(TCP6, 0x2266, true), "::");
        assert!(!listening_in(TCP6, 0x2267, true), "::1 only");
        assert!(listening_in(TCP6, 0x2268, true), "::ffff:127.0.0.1");
        assert!(!listening_in(TCP6, 0x2269, true), "a global address only");
    }

    #[test]
    fn a_real_listener_is_seen_and_a_closed_port_is_not() {
        for addr in ["127.0.0.1:0", "0.0.0.0:0", "[::]:0"] {
            let l = std::net::TcpListener::bind(addr).unwrap();
            let port = l.local_addr().unwrap().port();
            assert_eq!(bind_probe(port), Some(true), "{addr}");
            assert!(proc_listening(port), "{addr}");
            assert!(port_listening(port), "{addr}");
            // A connection leaves the port in use (TIME_WAIT, ESTABLISHED)
            // but no longer listening once the listener is gone.
            let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let (s, _) = l.accept().unwrap();
            drop(l);
            drop(s);
            drop(c);
            assert_eq!(bind_probe(port), Some(false), "{addr}");
            assert!(!proc_listening(port), "{addr}");
        }
        // ::1 only: 127.0.0.1 does not reach it.
        if let Ok(l) = std::net::TcpListener::bind("[::1]:0") {
            assert!(!port_listening(l.local_addr().unwrap().port()));
        }
    }
}
