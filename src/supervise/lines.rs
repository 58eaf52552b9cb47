//! A child's stdout and stderr read line by line without blocking, long
//! lines capped, the last unterminated line flushed at end of file.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Longest stderr line kept (FFmpeg can print very long lines).
pub(super) const MAX_LINE: usize = 512;

/// A non-blocking pipe read end split into lines.
pub(super) struct Lines {
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
}

impl Lines {
    pub(super) fn new(fd: OwnedFd) -> Self {
        Lines {
            fd: Some(fd),
            buf: Vec::new(),
        }
    }

    pub(super) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// Complete lines available now. At end of file the descriptor is
    /// closed and a last unterminated line is returned too.
    pub(super) fn read_lines(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(fd) = &self.fd else {
            return out;
        };
        let fd = fd.as_raw_fd();
        let mut chunk = [0u8; 4096];
        let mut eof = false;
        loop {
            match nix::unistd::read(fd, &mut chunk) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            push_line(&mut out, &line[..line.len() - 1]);
        }
        if self.buf.len() > 64 * 1024 {
            let line = std::mem::take(&mut self.buf);
            push_line(&mut out, &line);
        }
        if eof {
            let rest = std::mem::take(&mut self.buf);
            push_line(&mut out, &rest);
            self.fd = None;
        }
        out
    }
}

pub(super) fn push_line(out: &mut Vec<String>, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    let mut line: String = text.chars().take(MAX_LINE).collect();
    if line.len() < text.len() {
        line.push('…');
    }
    out.push(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_capped_and_flushed_at_eof() {
        let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
        r.set_nonblocking(true).unwrap();
        let mut lines = Lines::new(OwnedFd::from(r));
        let mut w = w;
        std::io::Write::write_all(&mut w, b"frame=1\nprogress=continue\r\npart").unwrap();
        assert_eq!(lines.read_lines(), ["frame=1", "progress=continue"]);
        std::io::Write::write_all(&mut w, &vec![b'x'; 2000]).unwrap();
        drop(w);
        let last = lines.read_lines();
        assert_eq!(last.len(), 1);
        assert!(last[0].starts_with("partxxx") && last[0].ends_with('…'));
        assert!(lines.fd().is_none());
    }
}
