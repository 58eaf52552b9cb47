//! The recordings' file system: its size and free space, for the disk
//! budget and `hook status` (see [`crate::fs::space`]).

pub(crate) use crate::fs::{space, Space};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn space_of_a_missing_directory_is_its_ancestor_s() {
        let here = space(Path::new("/tmp")).unwrap();
        assert!(here.total > 0 && here.free <= here.total);
        let missing = space(Path::new("/tmp/no/such/dir/at/all")).unwrap();
        assert_eq!(missing.total, here.total);
    }
}
