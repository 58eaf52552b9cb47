//! The recordings' file system: its size and free space (`statvfs`), for
//! the disk budget and `hook status`.

use std::path::Path;

/// Size and free space of a file system, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    /// Free to unprivileged users (`f_bavail`): what MediaMTX can still write.
    pub free: u64,
    pub total: u64,
}

/// The file system holding `dir`, or its nearest existing ancestor (the
/// recording root may not exist before the first segment).
pub fn space(dir: &Path) -> std::io::Result<Space> {
    use std::os::unix::ffi::OsStrExt;
    let mut at = dir;
    loop {
        let c = std::ffi::CString::new(at.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid C string and `st` a writable statvfs.
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0 {
            let unit = st.f_frsize as u64;
            return Ok(Space {
                free: (st.f_bavail as u64).saturating_mul(unit),
                total: (st.f_blocks as u64).saturating_mul(unit),
            });
        }
        let err = std::io::Error::last_os_error();
        match at.parent() {
            Some(up) if err.kind() == std::io::ErrorKind::NotFound => at = up,
            _ => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_of_a_missing_directory_is_its_ancestor_s() {
        let here = space(Path::new("/tmp")).unwrap();
        assert!(here.total > 0 && here.free <= here.total);
        let missing = space(Path::new("/tmp/no/such/dir/at/all")).unwrap();
        assert_eq!(missing.total, here.total);
    }
}
