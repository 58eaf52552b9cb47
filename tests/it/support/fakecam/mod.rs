//! Cameras for the tests: UVC-like V4L2 devices served in userspace by
//! `tests/support/fakecam/libfakecam.so` (an `LD_PRELOAD` shim, built here
//! with the system C compiler once per test run), on real character nodes
//! (major 81) in a per-test directory that becomes `/dev` only inside the
//! private mount namespace of the processes a test starts. Needs root
//! (`mknod`, `unshare(CLONE_NEWNS)`, `mount`): tests using it are `root_`.
//!
//! ```ignore
//! let dev = FakeDev::new();
//! let node = dev.plug(&Camera::mjpeg("cam1").serial("A1"), 0); // "/dev/video0"
//! let out = Cmd::hook(dir.path()).fakedev(&dev).args(["devices", "--json"]).run();
//! dev.unplug("cam1");                       // nodes and links gone, streams get ENODEV
//! dev.plug(&Camera::mjpeg("cam1").serial("A1"), 2); // back as /dev/video2, same by-id name
//! ```

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

mod build;
mod streamer;

pub use build::{media, shim};
pub use streamer::{Holder, Streamer};

/// A camera's pixel format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pixel {
    Mjpeg,
    Yuyv,
    H264,
}

impl Pixel {
    /// The V4L2 fourcc.
    pub fn fourcc(self) -> &'static str {
        match self {
            Pixel::Mjpeg => "MJPG",
            Pixel::Yuyv => "YUYV",
            Pixel::H264 => "H264",
        }
    }

    /// The name FFmpeg's `-input_format` takes.
    pub fn ffmpeg_name(self) -> &'static str {
        match self {
            Pixel::Mjpeg => "mjpeg",
            Pixel::Yuyv => "yuyv422",
            Pixel::H264 => "h264",
        }
    }
}

/// Frame sizes of one format: (width, height, frame rates, fastest first).
pub type Sizes = Vec<(u32, u32, Vec<u32>)>;

/// What a fake camera is and offers.
#[derive(Clone, Debug)]
pub struct Camera {
    /// Names the camera across plugs (its lock and plug state).
    pub id: String,
    /// QUERYCAP card; also the model part of the by-id link.
    pub card: String,
    /// USB port path ("1", "3.2"): bus_info `usb-0000:00:14.0-<port>` and
    /// the by-path link. `None`: the first port no other plugged camera has.
    pub port: Option<String>,
    /// USB serial number, part of the by-id link.
    pub serial: Option<String>,
    /// Formats in the order ENUM_FMT lists them.
    pub formats: Vec<(Pixel, Sizes)>,
    /// Delay of the first frame after STREAMON.
    pub first_frame_delay: Duration,
    /// STREAMON fails with this errno (ENOSPC: no USB bandwidth left).
    pub streamon_errno: Option<i32>,
    /// A metadata node (the next minor) beside the capture node, as
    /// uvcvideo registers one.
    pub meta_node: bool,
}

impl Camera {
    fn with(id: &str, pixel: Pixel, sizes: Sizes) -> Camera {
        Camera {
            id: id.to_string(),
            card: "Fake Camera".to_string(),
            port: None,
            serial: Some(format!(
                "FC{}",
                id.to_uppercase().replace(['-', '_', '.'], "")
            )),
            formats: vec![(pixel, sizes)],
            first_frame_delay: Duration::ZERO,
            streamon_errno: None,
            meta_node: true,
        }
    }

    /// An MJPEG camera: 1280x720 and 640x480, each at 30 and 15 fps.
    pub fn mjpeg(id: &str) -> Camera {
        Camera::with(
            id,
            Pixel::Mjpeg,
            vec![(1280, 720, vec![30, 15]), (640, 480, vec![30, 15])],
        )
    }

    /// A YUYV-only camera: 640x480 at 30 and 15 fps, 320x240 at 30.
    pub fn yuyv(id: &str) -> Camera {
        Camera::with(
            id,
            Pixel::Yuyv,
            vec![(640, 480, vec![30, 15]), (320, 240, vec![30])],
        )
    }

    /// An H.264 camera: 1280x720 and 640x480 at 30 fps.
    pub fn h264(id: &str) -> Camera {
        Camera::with(
            id,
            Pixel::H264,
            vec![(1280, 720, vec![30]), (640, 480, vec![30])],
        )
    }

    /// Replaces the sizes of the first format.
    pub fn sizes(mut self, sizes: Sizes) -> Camera {
        self.formats[0].1 = sizes;
        self
    }

    /// Adds another format (listed after the ones already there).
    pub fn format(mut self, pixel: Pixel, sizes: Sizes) -> Camera {
        self.formats.push((pixel, sizes));
        self
    }

    pub fn card(mut self, card: &str) -> Camera {
        self.card = card.to_string();
        self
    }

    pub fn serial(mut self, serial: &str) -> Camera {
        self.serial = Some(serial.to_string());
        self
    }

    /// No USB serial number: the by-id name is only `usb-<card>-video-index0`,
    /// the same for two such cameras (udev's behaviour).
    pub fn no_serial(mut self) -> Camera {
        self.serial = None;
        self
    }

    /// The USB port path, e.g. "2" or "3.1".
    pub fn bus(mut self, port: &str) -> Camera {
        self.port = Some(port.to_string());
        self
    }

    pub fn first_frame_delay(mut self, delay: Duration) -> Camera {
        self.first_frame_delay = delay;
        self
    }

    pub fn streamon_errno(mut self, errno: i32) -> Camera {
        self.streamon_errno = Some(errno);
        self
    }

    /// No metadata node.
    pub fn no_meta(mut self) -> Camera {
        self.meta_node = false;
        self
    }

    /// The by-id link name of its capture node (udev: `usb-$ID_SERIAL-video-index0`).
    pub fn by_id_name(&self) -> String {
        by_id_name(self, 0)
    }
}

fn udev_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn by_id_name(cam: &Camera, index: u32) -> String {
    let model = udev_text(&cam.card);
    match &cam.serial {
        Some(s) => format!("usb-{model}_{}-video-index{index}", udev_text(s)),
        None => format!("usb-{model}-video-index{index}"),
    }
}

fn by_path_name(port: &str, index: u32) -> String {
    format!("pci-0000:00:14.0-usb-0:{port}:1.0-video-index{index}")
}

/// The group udev gives video nodes.
pub fn video_gid() -> u32 {
    std::fs::read_to_string("/etc/group")
        .ok()
        .and_then(|g| {
            g.lines().find_map(|l| {
                let mut f = l.split(':');
                (f.next() == Some("video"))
                    .then(|| f.nth(1).and_then(|gid| gid.parse().ok()))
                    .flatten()
            })
        })
        .unwrap_or(44)
}

#[derive(Clone, Debug)]
struct Plugged {
    cam: Camera,
    minor: u32,
    port: String,
}

#[derive(Default)]
struct State {
    plugged: Vec<Plugged>,
    ports: HashMap<String, String>,
    generation: u64,
}

/// What a process needs to see a [`FakeDev`]: cheap to clone, for
/// launchers that keep it to restart a process.
#[derive(Clone, Debug)]
pub struct DevNs {
    dev: PathBuf,
    ctl: PathBuf,
}

/// Host device files bound into the test's /dev (when the host has them).
const HOST_NODES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
/// Host directories bound into it.
const HOST_DIRS: &[&str] = &["pts", "shm"];

impl DevNs {
    /// Makes `cmd` see this test's cameras: `LD_PRELOAD` and `FAKECAM_DIR`
    /// in its environment, and (before exec) a private mount namespace in
    /// which the test's directory is bound on `/dev`, with the host's
    /// null, zero, full, random, urandom, tty, pts and shm bound inside it.
    /// Its children inherit both.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("LD_PRELOAD", shim()).env("FAKECAM_DIR", &self.ctl);
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
        let mut binds: Vec<(CString, CString, bool)> = Vec::new();
        for n in HOST_NODES {
            let host = Path::new("/dev").join(n);
            if host.exists() {
                binds.push((c(&host), c(&self.dev.join(n)), *n != "tty"));
            }
        }
        for d in HOST_DIRS {
            let host = Path::new("/dev").join(d);
            if host.is_dir() {
                binds.push((c(&host), c(&self.dev.join(d)), false));
            }
        }
        let dev = c(&self.dev);
        let root = CString::new("/").unwrap();
        let slash_dev = CString::new("/dev").unwrap();
        // SAFETY: the closure runs in the forked child before exec and only
        // makes system calls on strings prepared above.
        unsafe {
            cmd.pre_exec(move || {
                let fail = || Err(std::io::Error::last_os_error());
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return fail();
                }
                let none = std::ptr::null();
                if libc::mount(
                    none,
                    root.as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
                {
                    return fail();
                }
                for (host, inside, needed) in &binds {
                    let r = libc::mount(
                        host.as_ptr(),
                        inside.as_ptr(),
                        none,
                        libc::MS_BIND | libc::MS_REC,
                        std::ptr::null(),
                    );
                    if r != 0 && *needed {
                        return fail();
                    }
                }
                if libc::mount(
                    dev.as_ptr(),
                    slash_dev.as_ptr(),
                    none,
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) != 0
                {
                    return fail();
                }
                Ok(())
            });
        }
    }
}

/// A test's own `/dev`: a directory (removed on drop) holding the cameras'
/// nodes and udev-style links, and the shim's control directory.
pub struct FakeDev {
    root: PathBuf,
    ns: DevNs,
    state: Mutex<State>,
}

impl FakeDev {
    /// An empty `/dev` with what programs need (null, zero, urandom, pts,
    /// shm, the fd links). Needs root.
    pub fn new() -> FakeDev {
        assert!(
            unsafe { libc::geteuid() } == 0,
            "fake cameras need root (mknod, mount namespaces): run the root_ tests as root"
        );
        let root = tempfile::Builder::new()
            .prefix("hook-fakecam-")
            .tempdir()
            .unwrap()
            .keep();
        let dev = root.join("dev");
        let ctl = root.join("ctl");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::create_dir_all(&ctl).unwrap();
        for p in [&root, &dev, &ctl] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for n in HOST_NODES {
            std::fs::write(dev.join(n), b"").unwrap();
        }
        for d in HOST_DIRS {
            std::fs::create_dir(dev.join(d)).unwrap();
        }
        std::fs::set_permissions(dev.join("shm"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        for (link, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            ("ptmx", "pts/ptmx"),
        ] {
            symlink(target, dev.join(link)).unwrap();
        }
        FakeDev {
            root,
            ns: DevNs { dev, ctl },
            state: Mutex::new(State::default()),
        }
    }

    /// What a launcher keeps to start processes on this `/dev` again.
    pub fn ns(&self) -> DevNs {
        self.ns.clone()
    }

    /// See [`DevNs::apply`].
    pub fn apply(&self, cmd: &mut Command) {
        self.ns.apply(cmd);
    }

    /// The shim's control directory (`FAKECAM_DIR`).
    pub fn ctl_dir(&self) -> &Path {
        &self.ns.ctl
    }

    /// Where `/dev/...` (as the test's processes see it) is on the host.
    pub fn host_path(&self, inside_dev: &str) -> PathBuf {
        let rest = inside_dev
            .strip_prefix("/dev")
            .unwrap_or_else(|| panic!("{inside_dev} is not under /dev"));
        self.ns.dev.join(rest.trim_start_matches('/'))
    }

    /// Plugs `cam` in as `/dev/video<minor>` (its metadata node, if any, as
    /// `/dev/video<minor+1>`), both `crw-rw---- root video` as udev makes
    /// them, with `/dev/v4l/by-id/...-video-index0` (and `index1`) and
    /// `/dev/v4l/by-path/...` links; a camera already plugged under the same
    /// id is replugged (its old nodes go). Returns "/dev/video<minor>".
    pub fn plug(&self, cam: &Camera, minor: u32) -> String {
        for (pixel, sizes) in &cam.formats {
            if *pixel != Pixel::Yuyv {
                for (w, h, _) in sizes {
                    media(*pixel, *w, *h);
                }
            }
        }
        let mut st = self.state.lock().unwrap();
        if let Some(i) = st.plugged.iter().position(|p| p.cam.id == cam.id) {
            let old = st.plugged.remove(i);
            self.remove_nodes(&old);
        }
        let port = match &cam.port {
            Some(p) => p.clone(),
            None => match st.ports.get(&cam.id) {
                Some(p) => p.clone(),
                None => {
                    let taken: Vec<String> = st.ports.values().cloned().collect();
                    (1..)
                        .map(|n: u32| n.to_string())
                        .find(|p| !taken.contains(p))
                        .unwrap()
                }
            },
        };
        st.ports.insert(cam.id.clone(), port.clone());
        let plugged = Plugged {
            cam: cam.clone(),
            minor,
            port,
        };
        st.plugged.push(plugged.clone());
        st.generation += 1;
        let generation = st.generation;
        self.write_config(&st);
        write_atomic(
            &self.ns.ctl.join(format!("plug-{}", cam.id)),
            &generation.to_string(),
        );
        // The lock file exists for every user's processes to lock.
        let lock = self.ns.ctl.join(format!("lock-{}.{generation}", cam.id));
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .unwrap();
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o644)).unwrap();
        let gid = video_gid();
        make_node(
            &self.ns.dev.join(format!("video{minor}")),
            minor,
            0o660,
            gid,
        );
        if cam.meta_node {
            make_node(
                &self.ns.dev.join(format!("video{}", minor + 1)),
                minor + 1,
                0o660,
                gid,
            );
        }
        self.sync_links(&st);
        format!("/dev/video{minor}")
    }

    /// Changes a plugged camera's behaviour without a replug (same id,
    /// nodes and links): descriptors opened from now on see `cam` (its
    /// formats, first-frame delay, STREAMON errno); open ones keep what
    /// they had, as the shim reads the config at open.
    pub fn reconfigure(&self, cam: &Camera) {
        let mut st = self.state.lock().unwrap();
        let p = st
            .plugged
            .iter_mut()
            .find(|p| p.cam.id == cam.id)
            .unwrap_or_else(|| panic!("camera {} is not plugged", cam.id));
        assert_eq!(
            p.cam.meta_node, cam.meta_node,
            "a metadata node needs a replug"
        );
        p.cam = cam.clone();
        self.write_config(&st);
    }

    /// Unplugs camera `id` as the kernel and udev do: the device goes first
    /// (every open descriptor's next ioctl fails with ENODEV), then its nodes
    /// and links (a new open gives ENOENT).
    pub fn unplug(&self, id: &str) {
        let mut st = self.state.lock().unwrap();
        let Some(i) = st.plugged.iter().position(|p| p.cam.id == id) else {
            panic!("camera {id} is not plugged");
        };
        let old = st.plugged.remove(i);
        let _ = std::fs::remove_file(self.ns.ctl.join(format!("plug-{id}")));
        self.write_config(&st);
        self.remove_nodes(&old);
        self.sync_links(&st);
    }

    /// `/dev/video<minor>` of a plugged camera.
    pub fn node(&self, id: &str) -> Option<String> {
        let st = self.state.lock().unwrap();
        st.plugged
            .iter()
            .find(|p| p.cam.id == id)
            .map(|p| format!("/dev/video{}", p.minor))
    }

    /// `/dev/v4l/by-id/...` of a camera (plugged or not).
    pub fn by_id(&self, cam: &Camera) -> String {
        format!("/dev/v4l/by-id/{}", cam.by_id_name())
    }

    /// `/dev/v4l/by-path/...` of a plugged camera.
    pub fn by_path(&self, id: &str) -> Option<String> {
        let st = self.state.lock().unwrap();
        st.plugged
            .iter()
            .find(|p| p.cam.id == id)
            .map(|p| format!("/dev/v4l/by-path/{}", by_path_name(&p.port, 0)))
    }

    /// Sets the mode of a node (as `/dev/...`).
    pub fn chmod(&self, inside_dev: &str, mode: u32) {
        std::fs::set_permissions(
            self.host_path(inside_dev),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
    }

    /// Sets the owner and group of a node (as `/dev/...`).
    pub fn chown(&self, inside_dev: &str, uid: u32, gid: u32) {
        std::os::unix::fs::chown(self.host_path(inside_dev), Some(uid), Some(gid)).unwrap();
    }

    /// True while a descriptor owns camera `id` (set its format, requested
    /// buffers or streams), in any process.
    pub fn owned(&self, id: &str) -> bool {
        let Ok(generation) = std::fs::read_to_string(self.ns.ctl.join(format!("plug-{id}"))) else {
            return false;
        };
        let lock = self.ns.ctl.join(format!("lock-{id}.{}", generation.trim()));
        let Ok(f) = std::fs::File::open(lock) else {
            return false;
        };
        match f.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(_) => false,
        }
    }

    /// An FFmpeg command on this `/dev` (`ffmpeg -hide_banner -nostdin`,
    /// stdin null), to add arguments to.
    pub fn ffmpeg(&self) -> Command {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin"]).stdin(Stdio::null());
        self.apply(&mut cmd);
        cmd
    }

    /// Another program streaming `node`: FFmpeg capturing it to nowhere,
    /// returned once its first frames came.
    pub fn streamer(&self, node: &str) -> Streamer {
        let s = Streamer::start(self, node, &[]);
        assert!(
            s.wait_frames(1, Duration::from_secs(10)),
            "the streamer on {node} got no frame:\n{}",
            s.log()
        );
        s
    }

    /// Another program holding `node` without streaming (format set,
    /// buffers mapped: the camera is busy for everyone else), returned once
    /// it holds it.
    pub fn holder(&self, node: &str) -> Holder {
        Holder::start(self, node)
    }

    fn write_config(&self, st: &State) {
        let mut text = String::from("# written by tests/it/support/fakecam\n");
        for p in &st.plugged {
            let c = &p.cam;
            text += &format!("camera {} {}\n", p.minor, c.id);
            text += &format!("card {}\n", c.card);
            text += &format!("bus usb-0000:00:14.0-{}\n", p.port);
            if c.meta_node {
                text += &format!("meta {}\n", p.minor + 1);
            }
            if !c.first_frame_delay.is_zero() {
                text += &format!("delay_ms {}\n", c.first_frame_delay.as_millis());
            }
            if let Some(e) = c.streamon_errno {
                text += &format!("streamon_errno {e}\n");
            }
            for (pixel, sizes) in &c.formats {
                for (w, h, rates) in sizes {
                    let rates: Vec<String> = rates.iter().map(|r| r.to_string()).collect();
                    text += &format!("size {} {w}x{h} {}", pixel.fourcc(), rates.join(","));
                    if *pixel != Pixel::Yuyv {
                        text += &format!(" {}", media(*pixel, *w, *h).display());
                    }
                    text += "\n";
                }
            }
        }
        write_atomic(&self.ns.ctl.join("config"), &text);
    }

    fn remove_nodes(&self, p: &Plugged) {
        let _ = std::fs::remove_file(self.ns.dev.join(format!("video{}", p.minor)));
        if p.cam.meta_node {
            let _ = std::fs::remove_file(self.ns.dev.join(format!("video{}", p.minor + 1)));
        }
    }

    /// Makes /dev/v4l/by-id and by-path hold exactly the links of the
    /// plugged cameras (a later plug wins a shared name, as with udev);
    /// empty link directories are removed, as udev removes them.
    fn sync_links(&self, st: &State) {
        let v4l = self.ns.dev.join("v4l");
        let mut want: HashMap<PathBuf, String> = HashMap::new();
        for p in &st.plugged {
            let nodes: &[u32] = if p.cam.meta_node { &[0, 1] } else { &[0] };
            for &index in nodes {
                let target = format!("../../video{}", p.minor + index);
                want.insert(
                    v4l.join("by-id").join(by_id_name(&p.cam, index)),
                    target.clone(),
                );
                want.insert(
                    v4l.join("by-path").join(by_path_name(&p.port, index)),
                    target,
                );
            }
        }
        for sub in ["by-id", "by-path"] {
            let dir = v4l.join(sub);
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = e.path();
                let stale = match want.get(&path) {
                    Some(t) => std::fs::read_link(&path).ok().as_deref() != Some(Path::new(t)),
                    None => true,
                };
                if stale {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        for (link, target) in &want {
            if std::fs::read_link(link).ok().as_deref() == Some(Path::new(target)) {
                continue;
            }
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            let tmp = link.with_extension("tmp-link");
            let _ = std::fs::remove_file(&tmp);
            symlink(target, &tmp).unwrap();
            std::fs::rename(&tmp, link).unwrap();
        }
        for sub in ["by-id", "by-path"] {
            let _ = std::fs::remove_dir(v4l.join(sub));
        }
        let _ = std::fs::remove_dir(&v4l);
    }
}

impl Drop for FakeDev {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Default for FakeDev {
    fn default() -> Self {
        FakeDev::new()
    }
}

fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn make_node(path: &Path, minor: u32, mode: u32, gid: u32) {
    let _ = std::fs::remove_file(path);
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: plain system calls on a NUL-terminated path.
    unsafe {
        let r = libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(81, minor));
        assert_eq!(
            r,
            0,
            "mknod {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::chown(c.as_ptr(), 0, gid),
            0,
            "chown {}",
            path.display()
        );
        assert_eq!(libc::chmod(c.as_ptr(), mode), 0, "chmod {}", path.display());
    }
}
