//! Free space: the size of a file system and what is left on it
//! (`statvfs`), for the disk budget and `hook status`.

use std::io;
use std::path::Path;

/// Size and free space of a file system, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Space {
    /// Free to unprivileged users (`f_bavail`): what MediaMTX can still write.
    pub free: u64,
    pub total: u64,
}

impl Space {
    fn of(st: &nix::sys::statvfs::Statvfs) -> Space {
        let unit = st.fragment_size();
        Space {
            free: st.blocks_available().saturating_mul(unit),
            total: st.blocks().saturating_mul(unit),
        }
    }
}

/// The file system holding `dir`, or its nearest existing ancestor (a
/// directory that does not exist yet will be made on it).
pub(crate) fn space(dir: &Path) -> io::Result<Space> {
    let mut at = dir;
    loop {
        match nix::sys::statvfs::statvfs(at) {
            Ok(st) => return Ok(Space::of(&st)),
            Err(e) => {
                let err = io::Error::from(e);
                match at.parent() {
                    Some(up) if err.kind() == io::ErrorKind::NotFound => at = up,
                    _ => return Err(err),
                }
            }
        }
    }
}
