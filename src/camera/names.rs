//! A camera's names, and which one to wire it by.
//!
//! `/dev/videoN` numbers are handed out in plug-in order: after a replug or
//! a reboot a camera may come back under another number. udev also makes
//! links that stay: `/dev/v4l/by-id/usb-<vendor>_<model>_<serial>-video-index0`
//! (the camera itself, wherever it is plugged in) and
//! `/dev/v4l/by-path/…-usb-0:<port>…-video-index0` (whatever camera is in
//! that USB port). A camera is wired by its by-id name when that name is its
//! alone; two cameras of one model without serial numbers would claim the
//! same by-id name (udev points it at whichever came last), so then, and when
//! there is no by-id name, the by-path name; the node when udev made neither.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Where udev puts the links.
pub(crate) const LINKS_ROOT: &str = "/dev/v4l";

/// Every name a camera has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Names {
    pub node: PathBuf,
    pub by_id: Vec<PathBuf>,
    pub by_path: Vec<PathBuf>,
}

/// Which kind of name a camera is wired by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum NameKind {
    ById,
    ByPath,
    Node,
}

impl NameKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NameKind::ById => "by-id",
            NameKind::ByPath => "by-path",
            NameKind::Node => "node",
        }
    }
}

/// The name to wire a camera by, and why that one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Stable {
    pub name: PathBuf,
    pub kind: NameKind,
    pub why: String,
    /// Set when the camera's by-id name is not its alone: which cameras
    /// share it.
    pub ambiguous: Option<String>,
}

/// The links in `links_dir` that resolve to `node` (sorted; index0, the
/// capture node's own, first).
pub(crate) fn links_to(node: &Path, links_dir: &Path) -> Vec<PathBuf> {
    let Ok(target) = fs::canonicalize(node) else {
        return Vec::new();
    };
    let mut links: Vec<PathBuf> = fs::read_dir(links_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|link| fs::canonicalize(link).is_ok_and(|t| t == target))
        .collect();
    links.sort();
    links
}

/// Every name of `node` under `links_root` (`/dev/v4l`).
pub(crate) fn names_of(node: &Path, links_root: &Path) -> Names {
    Names {
        node: node.to_path_buf(),
        by_id: links_to(node, &links_root.join("by-id")),
        by_path: links_to(node, &links_root.join("by-path")),
    }
}

/// One camera as [`choose`] sees it: its names and its model (the card
/// name the driver reports).
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub names: Names,
    pub card: String,
}

/// The name to wire each camera by (same order as `cameras`).
///
/// A by-id name is ambiguous when another camera of the same model has no
/// by-id name of its own: udev gave the name to one of the two, and after a
/// replug it may be the other.
pub(crate) fn choose(cameras: &[Seen]) -> Vec<Stable> {
    cameras
        .iter()
        .enumerate()
        .map(|(i, cam)| {
            let twins: Vec<&Seen> = cameras
                .iter()
                .enumerate()
                .filter(|&(j, other)| j != i && other.card == cam.card)
                .map(|(_, other)| other)
                .collect();
            let by_id = cam.names.by_id.first();
            let by_path = cam.names.by_path.first();
            // With a by-id name: a twin without one. Without: a twin with one.
            let twin = twins
                .iter()
                .find(|t| t.names.by_id.is_empty() == by_id.is_some());
            let ambiguous = match (by_id, twin) {
                (Some(id), Some(twin)) => Some(format!(
                    "{} and {} are both {:?} and udev can give only one of them {}: \
                     it goes to whichever was plugged in last",
                    cam.names.node.display(),
                    twin.names.node.display(),
                    cam.card,
                    id.display()
                )),
                (None, Some(twin)) => Some(format!(
                    "{} and {} are both {:?}; the by-id name {} is {}'s now, and may \
                     be this one's after a replug",
                    cam.names.node.display(),
                    twin.names.node.display(),
                    cam.card,
                    twin.names.by_id[0].display(),
                    twin.names.node.display()
                )),
                _ => None,
            };
            match (by_id, by_path, &ambiguous) {
                (Some(id), _, None) => Stable {
                    name: id.clone(),
                    kind: NameKind::ById,
                    why: "its by-id name (model and serial) is its alone: it reaches this \
                          camera in any port, under any node number"
                        .into(),
                    ambiguous: None,
                },
                (_, Some(path), Some(_)) => Stable {
                    name: path.clone(),
                    kind: NameKind::ByPath,
                    why: "its by-id name is ambiguous (same model, no serial): named by the \
                          USB port instead; keep it in that port"
                        .into(),
                    ambiguous,
                },
                (_, Some(path), None) => Stable {
                    name: path.clone(),
                    kind: NameKind::ByPath,
                    why: "udev made no by-id name for it: named by the USB port; keep it \
                          in that port"
                        .into(),
                    ambiguous: None,
                },
                (_, None, _) => Stable {
                    name: cam.names.node.clone(),
                    kind: NameKind::Node,
                    why: "udev made no stable name for it: the node number may change \
                          after a replug or a reboot"
                        .into(),
                    ambiguous,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn seen(node: &str, card: &str, by_id: &[&str], by_path: &[&str]) -> Seen {
        Seen {
            names: Names {
                node: node.into(),
                by_id: by_id.iter().map(PathBuf::from).collect(),
                by_path: by_path.iter().map(PathBuf::from).collect(),
            },
            card: card.into(),
        }
    }

    #[test]
    fn by_id_when_unique_else_by_path_else_node() {
        let chosen = choose(&[
            seen("/dev/video0", "C920", &["/id/c920-A"], &["/path/p1"]),
            seen("/dev/video2", "C920", &["/id/c920-B"], &["/path/p2"]),
            seen("/dev/video4", "Cheap", &[], &["/path/p3"]),
            seen("/dev/video6", "Other", &[], &[]),
        ]);
        let kinds: Vec<NameKind> = chosen.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                NameKind::ById,
                NameKind::ById,
                NameKind::ByPath,
                NameKind::Node
            ]
        );
        assert_eq!(chosen[0].name, PathBuf::from("/id/c920-A"));
        assert_eq!(chosen[2].name, PathBuf::from("/path/p3"));
        assert!(chosen.iter().all(|s| s.ambiguous.is_none()));
        assert!(chosen[3].why.contains("node number may change"));
    }

    #[test]
    fn two_cameras_of_one_model_sharing_a_by_id_name_are_ambiguous() {
        let chosen = choose(&[
            seen("/dev/video0", "USB Cam", &["/id/usb-Cam"], &["/path/p1"]),
            seen("/dev/video2", "USB Cam", &[], &["/path/p2"]),
        ]);
        assert_eq!(chosen[0].kind, NameKind::ByPath);
        assert_eq!(chosen[1].kind, NameKind::ByPath);
        let why = chosen[0].ambiguous.as_deref().unwrap();
        assert!(
            why.contains("/dev/video2") && why.contains("/id/usb-Cam"),
            "{why}"
        );
        assert!(chosen[1].ambiguous.is_some());
    }

    #[test]
    fn links_are_found_by_their_target() {
        let tmp = tempfile::Builder::new()
            .prefix("hook-names-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        fs::create_dir_all(dir.join("v4l/by-id")).unwrap();
        fs::create_dir_all(dir.join("v4l/by-path")).unwrap();
        fs::write(dir.join("video0"), b"").unwrap();
        fs::write(dir.join("video1"), b"").unwrap();
        let id0 = dir.join("v4l/by-id/usb-Cam_1-video-index0");
        let id1 = dir.join("v4l/by-id/usb-Cam_1-video-index1");
        symlink("../../video0", &id0).unwrap();
        symlink("../../video1", &id1).unwrap();
        let p0 = dir.join("v4l/by-path/pci-0-usb-0:1:1.0-video-index0");
        symlink(dir.join("video0"), &p0).unwrap();
        let names = names_of(&dir.join("video0"), &dir.join("v4l"));
        assert_eq!(names.by_id, vec![id0]);
        assert_eq!(names.by_path, vec![p0]);
        assert!(names_of(&dir.join("video9"), &dir.join("v4l"))
            .by_id
            .is_empty());
    }
}
