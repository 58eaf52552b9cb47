#!/usr/bin/python3
"""A stand-in for MediaMTX that behaves like it where the hook depends on it,
driven by the same mediamtx.yml: an RTSP server that takes a publisher
(ANNOUNCE/SETUP/RECORD, TCP interleaved) and relays its SDP and packets to
readers (DESCRIBE/SETUP/PLAY, TCP interleaved), MediaMTX's on-demand logic
(internal/core/path.go), its external commands (internal/externalcmd), a
recorder that writes segment files, and a Control API checked against
openapi.yaml.

    mtx_ondemand.py --spec openapi.yaml mediamtx.yml

What it models, from MediaMTX's source:
- runOnDemand starts on the first reader's DESCRIBE (or SETUP) when the
  on-demand state is initial; readers are parked until a publisher arrives,
  or answered with an error after runOnDemandStartTimeout (the command then
  gets SIGINT). A publisher's arrival schedules the close timer; a reader
  cancels it; the last reader leaving schedules it again
  (runOnDemandCloseAfter); it SIGINTs the command.
- The publisher leaving (setNotReady/executeRemovePublisher) drops every
  reader without scheduling the close timer and leaves the on-demand state as
  it was: a command stopped behind the server's back leaves new readers
  parked, as in MediaMTX. The dropped readers' sessions then report their
  end (doRemoveReader), which schedules the close timer when readers were
  watching; when it fires the state is initial again, but the readers parked
  meanwhile are never answered.
- Commands: split shell-style, `$VAR`/`${VAR}` expanded per word (hook
  variables, then the environment, else empty), no shell, their own process
  group, stdin /dev/null, this process's stdout/stderr. Stopping is one
  SIGINT to the group, never more, never waited for.
- runOnInit runs when the path is created (MediaMTX's start, a path
  recreated by a configuration change) and gets SIGINT when it closes.
- runOnReady/runOnAvailable run when the stream becomes available and get
  SIGINT when it goes; runOnRecordSegmentComplete gets MTX_SEGMENT_PATH and
  MTX_SEGMENT_DURATION.
- A PATCH of record* settings restarts only the recorder; a PATCH of any
  other field recreates the path (its command SIGINTed, readers and
  publisher dropped, parked readers answered "terminated").
- /v3/paths/get answers 200 for every configured path (ready false when
  idle), 404 for unknown names; wrong credentials wait 0-4 s before a 401,
  missing ones get a 401 with a challenge at once.
- authInternalUsers for publish, read and api (Basic only).

The recorder writes the relayed RTP packets (not MP4) to files named by
recordPath + ".mp4", cut at the first key frame after recordSegmentDuration.
Log lines go to stdout in MediaMTX's format (level INF/WAR).
"""

import argparse
import base64
import ipaddress
import json
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtx_standin import Spec  # noqa: E402

LOG_LOCK = threading.Lock()


def log(level, text):
    stamp = time.strftime("%Y/%m/%d %H:%M:%S")
    with LOG_LOCK:
        sys.stdout.write(f"{stamp} {level} {text}\n")
        sys.stdout.flush()


def parse_duration(value):
    """MediaMTX durations ("10s", "500ms", "1h30m") in seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    total = 0.0
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    for number, unit in re.findall(r"([0-9.]+)(ms|us|ns|h|m|s)", str(value)):
        total += float(number) * units[unit]
    return total


PATH_DEFAULTS = {
    "source": "publisher",
    "overridePublisher": True,
    "record": False,
    "recordPath": "./recordings/%path/%Y-%m-%d_%H-%M-%S-%f",
    "recordFormat": "fmp4",
    "recordPartDuration": "1s",
    "recordSegmentDuration": "1h",
    "recordDeleteAfter": "1d",
    "runOnInit": "",
    "runOnInitRestart": False,
    "runOnDemand": "",
    "runOnDemandRestart": False,
    "runOnDemandStartTimeout": "10s",
    "runOnDemandCloseAfter": "10s",
    "runOnReady": "",
    "runOnAvailable": "",
    "runOnRecordSegmentComplete": "",
}

RECORD_FIELDS = {
    "record",
    "recordPath",
    "recordFormat",
    "recordPartDuration",
    "recordMaxPartSize",
    "recordSegmentDuration",
    "recordDeleteAfter",
}

DEFAULT_USERS = [
    {
        "user": "any",
        "pass": "",
        "ips": [],
        "permissions": [{"action": "publish"}, {"action": "read"}, {"action": "playback"}],
    },
    {
        "user": "any",
        "pass": "",
        "ips": ["127.0.0.1", "::1"],
        "permissions": [{"action": "api"}, {"action": "metrics"}, {"action": "pprof"}],
    },
]


class AuthError(Exception):
    def __init__(self, ask):
        super().__init__("authentication failed")
        self.ask = ask


def authenticate(users, action, path, ip, user, password):
    """internal/auth: the first user entry that matches allows the action."""
    for u in users:
        name = str(u.get("user") or "")
        if name != "any" and (name != user or str(u.get("pass") or "") != password):
            continue
        ips = u.get("ips") or []
        if ips and not any(
            ipaddress.ip_address(ip) in ipaddress.ip_network(n, strict=False) for n in ips
        ):
            continue
        for perm in u.get("permissions") or []:
            if perm.get("action") != action:
                continue
            want = perm.get("path") or ""
            if want == "" or want == path or (want.startswith("~") and re.search(want[1:], path)):
                return
    raise AuthError(ask=(not user and not password))


def basic_credentials(header):
    if not header or not header.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


def expand(word, env):
    """Go's os.Expand as externalcmd uses it: hook variables, then the
    environment, else empty."""

    def value(m):
        name = m.group(1) if m.group(1) is not None else m.group(2)
        if name in env:
            return env[name]
        return os.environ.get(name, "")

    return re.sub(r"\$\{([^}]*)\}|\$([A-Za-z0-9_]+)", value, word)


ALL_CMDS = []


class Cmd:
    """internal/externalcmd.Cmd without restart."""

    def __init__(self, label, cmdstr, env):
        ALL_CMDS.append(self)
        self.label = label
        self.closed = False
        self.proc = None
        words = [expand(w, env) for w in shlex.split(cmdstr)]
        full = dict(os.environ)
        full.update(env)
        try:
            self.proc = subprocess.Popen(
                words, env=full, stdin=subprocess.DEVNULL, process_group=0
            )
        except OSError as e:
            log("ERR", f"{label} command failed to start: {e}")
            return
        threading.Thread(target=self.proc.wait, daemon=True).start()

    def close(self):
        """One SIGINT to the command's group; never waits, never repeats."""
        if self.closed or self.proc is None:
            return
        self.closed = True
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass


def is_key_frame(packet):
    """True for an RTP H.264 packet starting an IDR or carrying an SPS."""
    if len(packet) < 13:
        return False
    offset = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10 and len(packet) >= offset + 4:
        offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
    if len(packet) <= offset + 1:
        return False
    nal = packet[offset] & 0x1F
    if nal == 24:  # STAP-A: first aggregated unit
        return len(packet) > offset + 3 and (packet[offset + 3] & 0x1F) in (5, 7)
    if nal == 28:  # FU-A: start of a fragmented unit
        fu = packet[offset + 1]
        return bool(fu & 0x80) and (fu & 0x1F) in (5, 7)
    return nal in (5, 7)


def format_record_path(fmt, name, t, record_format):
    micro = int((t - int(t)) * 1e6)
    lt = time.localtime(t)
    out = fmt.replace("%path", name)
    for key, value in (
        ("%Y", f"{lt.tm_year:04d}"),
        ("%m", f"{lt.tm_mon:02d}"),
        ("%d", f"{lt.tm_mday:02d}"),
        ("%H", f"{lt.tm_hour:02d}"),
        ("%M", f"{lt.tm_min:02d}"),
        ("%S", f"{lt.tm_sec:02d}"),
        ("%f", f"{micro:06d}"),
        ("%s", str(int(t))),
    ):
        out = out.replace(key, value)
    return out + (".ts" if record_format == "mpegts" else ".mp4")


def go_float(seconds):
    """strconv.FormatFloat(x, 'f', -1, 64)."""
    text = repr(round(seconds, 6))
    return text[:-2] if text.endswith(".0") else text


class Recorder:
    """Writes the stream's packets to segment files while it runs."""

    def __init__(self, path):
        self.path = path
        self.conf = dict(path.conf)
        self.lock = threading.Lock()
        self.file = None
        self.name = None
        self.start = None
        self.duration = parse_duration(self.conf["recordSegmentDuration"])
        self.closed = False
        # After an error (a file that cannot be created) the recorder starts
        # again after a pause (internal/recorder/recorder.go, restartPause).
        self.paused_until = 0.0
        log("INF", f"[path {path.name}] [recorder] recording with format fmp4")

    def write(self, packet):
        """Cuts at the first key frame at least recordSegmentDuration of
        stream time (RTP timestamps, 90 kHz) after the segment's start; the
        next segment starts where the previous one ended, as MediaMTX's
        recorder times segments from the stream, not the wall clock."""
        with self.lock:
            if self.closed or len(packet) < 12 or time.time() < self.paused_until:
                return
            ts = int.from_bytes(packet[4:8], "big")
            key = is_key_frame(packet)
            try:
                if self.file is not None:
                    elapsed = ((ts - self.start_ts) % (1 << 32)) / 90000.0
                    if elapsed < 1e6 and elapsed >= self.duration and key:
                        self._complete(elapsed)
                        self._open(self.start + elapsed, ts)
                elif key:
                    self._open(time.time(), ts)
                if self.file is not None:
                    self.last_elapsed = ((ts - self.start_ts) % (1 << 32)) / 90000.0
                    self.file.write(packet)
            except OSError as e:
                self._failed(e)

    def _failed(self, e):
        """A file that cannot be created or written: the recorder logs the
        error, drops the segment and starts again after its pause."""
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass
        self.file = None
        log("ERR", f"[path {self.path.name}] [recorder] {e}")
        self.paused_until = time.time() + 2.0

    def _open(self, start, ts):
        self.start = start
        self.start_ts = ts
        self.last_elapsed = 0.0
        self.name = format_record_path(
            self.conf["recordPath"], self.path.name, start, self.conf["recordFormat"]
        )
        os.makedirs(os.path.dirname(os.path.abspath(self.name)), exist_ok=True)
        self.file = open(self.name, "wb")
        log("INF", f"[path {self.path.name}] [recorder] creating segment {self.name}")

    def _complete(self, duration):
        self.file.close()
        self.file = None
        log("INF", f"[path {self.path.name}] [recorder] closing segment {self.name}")
        cmdstr = self.conf.get("runOnRecordSegmentComplete") or ""
        if cmdstr:
            env = self.path.env()
            env["MTX_SEGMENT_PATH"] = self.name
            env["MTX_SEGMENT_DURATION"] = go_float(duration)
            log("INF", f"[path {self.path.name}] runOnRecordSegmentComplete command launched")
            Cmd("runOnRecordSegmentComplete", cmdstr, env)

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if self.file is not None:
                try:
                    self._complete(self.last_elapsed)
                except OSError as e:
                    self._failed(e)


class Parked:
    """A reader's DESCRIBE or SETUP waiting for the stream."""

    def __init__(self):
        self.event = threading.Event()
        self.error = None


class Path:
    """One configured path: internal/core/path.go's state machine, under
    the server's lock."""

    def __init__(self, server, name, conf):
        self.server = server
        self.name = name
        self.conf = conf
        self.publisher = None
        self.stream_sdp = None
        self.ready_time = None
        self.readers = set()
        self.parked = []
        self.state = "initial"
        self.timer_token = 0
        self.on_demand_cmd = None
        self.on_demand_started = False
        self.available_cmd = None
        self.recorder = None
        self.closed = False
        self.bytes_received = 0
        log("INF", f"[path {name}] created")
        # path.go initialize: runOnInit starts with the path (at load, and
        # again whenever a configuration change recreates it), with the
        # base variables; it is SIGINTed when the path closes.
        self.init_cmd = None
        if conf.get("runOnInit"):
            log("INF", f"[path {name}] runOnInit command started")
            self.init_cmd = Cmd(f"[path {name}] runOnInit", conf["runOnInit"], self.env())

    def env(self):
        return {
            "MTX_PATH": self.name,
            "RTSP_PATH": self.name,
            "RTSP_PORT": str(self.server.rtsp_port),
        }

    def has_on_demand(self):
        return bool(self.conf.get("runOnDemand"))

    # Timers: a token per arming, so a stale timer does nothing.
    def _arm(self, seconds, fn):
        self.timer_token += 1
        token = self.timer_token

        def fire():
            with self.server.lock:
                if token == self.timer_token and not self.closed:
                    fn()

        t = threading.Timer(seconds, fire)
        t.daemon = True
        t.start()

    def _disarm(self):
        self.timer_token += 1

    def describe(self, query=""):
        """doDescribe / doAddReader: the stream, or a parked request."""
        if self.stream_sdp is not None:
            return None
        if self.has_on_demand():
            if self.state == "initial":
                self.on_demand_start(query)
            p = Parked()
            self.parked.append(p)
            return p
        raise LookupError(f"no stream is available on path '{self.name}'")

    def on_demand_start(self, query):
        env = self.env()
        env["MTX_QUERY"] = query
        log("INF", f"[path {self.name}] runOnDemand command started")
        self.on_demand_cmd = Cmd("runOnDemand", self.conf["runOnDemand"], env)
        self.on_demand_started = True
        self._arm(parse_duration(self.conf["runOnDemandStartTimeout"]), self.on_ready_timer)
        self.state = "waitingReady"

    def on_ready_timer(self):
        for p in self.parked:
            p.error = f"source of path '{self.name}' has timed out"
            p.event.set()
        self.parked = []
        self.on_demand_stop("timed out")

    def schedule_close(self):
        self._arm(parse_duration(self.conf["runOnDemandCloseAfter"]), self.on_close_timer)
        self.state = "closing"

    def on_close_timer(self):
        self.on_demand_stop("not needed by anyone")

    def on_demand_stop(self, reason):
        self._disarm()
        if self.on_demand_cmd is not None:
            self.on_demand_cmd.close()
            log("INF", f"[path {self.name}] runOnDemand command stopped: {reason}")
        self.on_demand_cmd = None
        self.on_demand_started = False
        self.state = "initial"

    def add_publisher(self, session, sdp):
        if self.publisher is not None:
            if not self.conf.get("overridePublisher", True):
                raise PermissionError(f"someone is already publishing to path '{self.name}'")
            log("INF", f"[path {self.name}] closing existing publisher")
            old = self.publisher
            self.remove_publisher_now()
            old.close()
        self.set_available(session, sdp)
        self.publisher = session
        log("INF", f"[RTSP] [session {session.id}] is publishing to path '{self.name}'")
        if self.has_on_demand() and self.state != "initial":
            self.schedule_close()
        for p in self.parked:
            p.event.set()
        self.parked = []

    def set_available(self, session, sdp):
        self.stream_sdp = sdp
        self.ready_time = time.time()
        cmdstr = self.conf.get("runOnAvailable") or self.conf.get("runOnReady") or ""
        if cmdstr:
            env = self.env()
            env["MTX_QUERY"] = ""
            env["MTX_SOURCE_TYPE"] = "rtspSession"
            env["MTX_SOURCE_ID"] = session.id
            log("INF", f"[path {self.name}] runOnAvailable command started")
            self.available_cmd = Cmd("runOnAvailable", cmdstr, env)
        if self.conf.get("record"):
            self.recorder = Recorder(self)
        log("INF", f"[path {self.name}] stream is available and online, 1 track (H264)")

    def add_reader(self, reader):
        """addReaderPost: a reader joins a live stream."""
        self.readers.add(reader)
        if self.has_on_demand() and self.state == "closing":
            self.state = "ready"
            self._disarm()

    def remove_reader(self, reader):
        """doRemoveReader: the close timer is scheduled whenever no reader
        is left, also for a reader setNotAvailable already dropped (its
        session still reports its end), as path.go does."""
        self.readers.discard(reader)
        if not self.readers and self.has_on_demand() and self.state == "ready":
            self.schedule_close()

    def remove_publisher(self, session):
        if self.publisher is session:
            self.remove_publisher_now()

    def remove_publisher_now(self):
        """executeRemovePublisher → setNotAvailable: readers dropped, the
        on-demand state left as it was, no close timer scheduled."""
        for r in list(self.readers):
            self.readers.discard(r)
            r.close()
        if self.available_cmd is not None:
            self.available_cmd.close()
            log("INF", f"[path {self.name}] runOnAvailable command stopped")
            self.available_cmd = None
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        self.stream_sdp = None
        self.ready_time = None
        self.publisher = None

    def reload(self, new_conf):
        """doReloadConf for record* changes."""
        old = self.conf
        self.conf = new_conf
        changed = any(old.get(k) != new_conf.get(k) for k in RECORD_FIELDS)
        if self.recorder is not None and changed:
            self.recorder.close()
            self.recorder = None
        if new_conf.get("record") and self.stream_sdp is not None and self.recorder is None:
            self.recorder = Recorder(self)

    def destroy(self):
        """path.run's exit: parked answered, publisher and readers dropped,
        the on-demand command SIGINTed."""
        self.closed = True
        self._disarm()
        if self.init_cmd is not None:
            self.init_cmd.close()
            log("INF", f"[path {self.name}] runOnInit command stopped")
        for p in self.parked:
            p.error = "terminated"
            p.event.set()
        self.parked = []
        publisher = self.publisher
        if self.on_demand_started:
            self.on_demand_stop("path destroyed")
        if self.stream_sdp is not None:
            self.remove_publisher_now()
        if publisher is not None:
            publisher.close()
        log("INF", f"[path {self.name}] destroyed")

    def packet(self, channel, data):
        self.bytes_received += len(data)
        recorder = self.recorder
        if recorder is not None and channel % 2 == 0:
            recorder.write(data)
        for r in list(self.readers):
            r.send_packet(channel, data)

    def api_item(self):
        ready = self.stream_sdp is not None
        return {
            "name": self.name,
            "confName": self.name,
            "source": (
                {"type": "rtspSession", "id": self.publisher.id} if self.publisher else None
            ),
            "ready": ready,
            "readyTime": (
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.ready_time))
                if ready
                else None
            ),
            "available": ready,
            "availableTime": None,
            "online": ready,
            "onlineTime": None,
            "tracks": ["H264"] if ready else [],
            "tracks2": [],
            "bytesReceived": self.bytes_received,
            "bytesSent": 0,
            "readers": [{"type": "rtspSession", "id": r.id} for r in self.readers],
        }


class Server:
    def __init__(self, conf):
        self.conf = conf
        self.lock = threading.RLock()
        self.users = conf.get("authInternalUsers") or DEFAULT_USERS
        host, _, port = str(conf.get("rtspAddress", ":8554")).rpartition(":")
        self.rtsp_host = host or "0.0.0.0"
        self.rtsp_port = int(port)
        defaults = dict(PATH_DEFAULTS)
        defaults.update(conf.get("pathDefaults") or {})
        self.defaults = defaults
        self.confs = {}
        self.paths = {}
        for name, body in (conf.get("paths") or {}).items():
            c = dict(defaults)
            c.update(body or {})
            c["name"] = name
            self.confs[name] = c
            self.paths[name] = Path(self, name, c)

    def patch(self, name, changes):
        with self.lock:
            old = self.confs[name]
            new = dict(old)
            new.update(changes)
            self.confs[name] = new
            others = {k for k in set(old) | set(new) if old.get(k) != new.get(k)} - RECORD_FIELDS
            path = self.paths[name]
            if others:
                path.destroy()
                self.paths[name] = Path(self, name, new)
            else:
                path.reload(new)


class RtspConn:
    """One RTSP connection: a publisher or a reader, TCP interleaved."""

    counter = 0

    def __init__(self, server, sock, addr):
        self.server = server
        self.sock = sock
        self.ip = addr[0]
        RtspConn.counter += 1
        self.id = f"{RtspConn.counter:08x}"
        self.send_lock = threading.Lock()
        self.path = None
        self.role = None
        self.announced_sdp = None
        self.channels = {}  # reader: track index -> interleaved channel
        self.playing = False
        self.dead = False
        self.session = None

    def close(self):
        self.dead = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send(self, data):
        with self.send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.dead = True

    def send_packet(self, channel, data):
        if not self.playing or self.dead:
            return
        # The publisher's channel pair n maps to track n; readers chose theirs.
        track = channel // 2
        base = self.channels.get(track)
        if base is None:
            return
        ch = base + (channel % 2)
        self.send(b"$" + bytes([ch]) + len(data).to_bytes(2, "big") + data)

    def respond(self, cseq, code, reason, headers=None, body=b""):
        lines = [f"RTSP/1.0 {code} {reason}", f"CSeq: {cseq}", "Server: mtx-standin"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def run(self):
        log("INF", f"[RTSP] [conn {self.ip}] opened")
        buf = b""
        try:
            while not self.dead:
                while True:
                    if buf.startswith(b"$"):
                        if len(buf) < 4:
                            break
                        n = int.from_bytes(buf[2:4], "big")
                        if len(buf) < 4 + n:
                            break
                        channel, data, buf = buf[1], buf[4 : 4 + n], buf[4 + n :]
                        if self.role == "publisher" and self.path is not None:
                            self.path.packet(channel, data)
                        continue
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = buf[:end].decode(errors="replace")
                    headers = {}
                    for line in head.split("\r\n")[1:]:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                    length = int(headers.get("content-length") or 0)
                    if len(buf) < end + 4 + length:
                        break
                    body = buf[end + 4 : end + 4 + length]
                    buf = buf[end + 4 + length :]
                    self.request(head.split("\r\n")[0], headers, body)
                data = self.sock.recv(65536)
                if not data:
                    break
                buf += data
        except OSError:
            pass
        finally:
            self.finish()

    def finish(self):
        self.dead = True
        with self.server.lock:
            if self.path is not None:
                if self.role == "publisher":
                    self.path.remove_publisher(self)
                elif self.role == "reader":
                    self.path.remove_reader(self)
        try:
            self.sock.close()
        except OSError:
            pass
        log("INF", f"[RTSP] [conn {self.ip}] closed")

    def path_name(self, url):
        rest = re.sub(r"^rtsp://[^/]+/?", "", url).split("?", 1)[0]
        return rest.strip("/")

    def check_auth(self, cseq, action, name, headers):
        user, password = basic_credentials(headers.get("authorization"))
        try:
            authenticate(self.server.users, action, name, self.ip, user, password)
            return True
        except AuthError as e:
            if not e.ask:
                log("WAR", f"[RTSP] [conn {self.ip}] authentication failed")
                time.sleep(random.uniform(0, 4))
            self.respond(cseq, 401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="mediamtx"'})
            return False

    def find_path(self, name):
        with self.server.lock:
            return self.server.paths.get(name)

    def request(self, line, headers, body):
        parts = line.split(" ")
        method, url = parts[0], parts[1] if len(parts) > 1 else ""
        cseq = headers.get("cseq", "0")
        if method == "OPTIONS":
            self.respond(cseq, 200, "OK", {"Public": "DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, GET_PARAMETER, TEARDOWN"})
        elif method == "DESCRIBE":
            self.describe(cseq, url, headers)
        elif method == "ANNOUNCE":
            name = self.path_name(url)
            if not self.check_auth(cseq, "publish", name, headers):
                return
            if self.find_path(name) is None:
                self.respond(cseq, 404, "Not Found")
                return
            self.role = "publisher"
            self.pub_name = name
            self.announced_sdp = body
            self.announced_conf = self.server.confs.get(name)
            self.session = self.id
            self.respond(cseq, 200, "OK")
        elif method == "SETUP":
            self.setup(cseq, url, headers)
        elif method == "RECORD":
            with self.server.lock:
                path = self.server.paths.get(self.pub_name)
                if path is None or self.server.confs.get(self.pub_name) is not self.announced_conf:
                    self.respond(cseq, 400, "Bad Request")
                    log("INF", f"[RTSP] [session {self.id}] destroyed: configuration has changed")
                    self.close()
                    return
                try:
                    path.add_publisher(self, self.announced_sdp)
                except PermissionError as e:
                    self.respond(cseq, 400, "Bad Request")
                    log("INF", f"[RTSP] [session {self.id}] destroyed: {e}")
                    self.close()
                    return
                self.path = path
            self.respond(cseq, 200, "OK", {"Session": f"{self.session};timeout=55"})
        elif method == "PLAY":
            self.playing = True
            self.respond(cseq, 200, "OK", {"Session": f"{self.session};timeout=55"})
            log("INF", f"[RTSP] [session {self.id}] is reading from path '{self.path.name}', with TCP, 1 track (H264)")
        elif method == "GET_PARAMETER":
            self.respond(cseq, 200, "OK", {"Session": f"{self.session};timeout=55"} if self.session else {})
        elif method == "TEARDOWN":
            self.respond(cseq, 200, "OK")
            self.dead = True
        else:
            self.respond(cseq, 501, "Not Implemented")

    def wait_stream(self, cseq, name, headers):
        """The path with a live stream, after parking as MediaMTX does; None
        when the request was answered with an error."""
        if not self.check_auth(cseq, "read", name, headers):
            return None
        with self.server.lock:
            path = self.server.paths.get(name)
            if path is None:
                self.respond(cseq, 404, "Not Found")
                return None
            try:
                parked = path.describe()
            except LookupError as e:
                log("INF", f"[RTSP] [conn {self.ip}] {e}")
                self.respond(cseq, 404, "Not Found")
                return None
        if parked is not None:
            # Parked until a publisher arrives or the path answers an error;
            # the client's own timeout may give up first.
            while not parked.event.wait(0.5):
                if self.dead:
                    return None
            if parked.error:
                log("INF", f"[RTSP] [conn {self.ip}] {parked.error}")
                self.respond(cseq, 404, "Not Found")
                return None
        with self.server.lock:
            path = self.server.paths.get(name)
            if path is None or path.stream_sdp is None:
                self.respond(cseq, 404, "Not Found")
                return None
            return path

    def describe(self, cseq, url, headers):
        name = self.path_name(url)
        path = self.wait_stream(cseq, name, headers)
        if path is None:
            return
        sdp = path.stream_sdp
        base = f"rtsp://{self.server.rtsp_host}:{self.server.rtsp_port}/{name}/"
        self.respond(
            cseq,
            200,
            "OK",
            {"Content-Base": base, "Content-Type": "application/sdp"},
            sdp,
        )

    def setup(self, cseq, url, headers):
        transport = headers.get("transport", "")
        m = re.search(r"interleaved=(\d+)", transport)
        if "TCP" not in transport.upper() or not m:
            self.respond(cseq, 461, "Unsupported Transport")
            return
        channel = int(m.group(1))
        if self.role == "publisher":
            self.respond(
                cseq,
                200,
                "OK",
                {
                    "Session": f"{self.session};timeout=55",
                    "Transport": f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}",
                },
            )
            return
        # A reader: the track is the n-th control of the SDP; its URL names it.
        if self.role is None:
            full = self.path_name(url)
            name = full.rsplit("/", 1)[0] if "=" in full.rsplit("/", 1)[-1] else full
            path = self.wait_stream(cseq, name, headers)
            if path is None:
                return
            with self.server.lock:
                if path.stream_sdp is None:
                    self.respond(cseq, 404, "Not Found")
                    return
                self.role = "reader"
                self.path = path
                self.session = self.id
                path.add_reader(self)
        controls = re.findall(rb"a=control:(\S+)", self.path.stream_sdp or b"")
        last = url.rstrip("/").rsplit("/", 1)[-1].encode()
        track = controls.index(last) if last in controls else len(self.channels)
        self.channels[track] = channel
        self.respond(
            cseq,
            200,
            "OK",
            {
                "Session": f"{self.session};timeout=55",
                "Transport": f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}",
            },
        )


def serve_rtsp(server):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((server.rtsp_host, server.rtsp_port))
    sock.listen(64)

    def accept():
        while True:
            try:
                conn, addr = sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = RtspConn(server, conn, addr)
            threading.Thread(target=c.run, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    log("INF", f"[RTSP] listener opened on {server.rtsp_host}:{server.rtsp_port} (TCP/RTSP)")
    return sock


def make_api_handler(spec, server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, obj, headers=None):
            data = json.dumps(obj).encode()
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            user, password = basic_credentials(self.headers.get("Authorization"))
            try:
                authenticate(server.users, "api", "", self.client_address[0], user, password)
            except AuthError as e:
                if e.ask:
                    self.reply(401, {"status": "error", "error": "authentication error"},
                               {"WWW-Authenticate": 'Basic realm="mediamtx"'})
                    return
                log("WAR", f"[API] [conn {self.client_address[0]}] authentication failed")
                time.sleep(random.uniform(0, 4))
                self.reply(401, {"status": "error", "error": "authentication error"})
                return
            path = self.path.split("?", 1)[0]
            _, problems = spec.check(self.command, path, body)
            if problems:
                self.reply(400, {"status": "error", "error": "; ".join(problems)})
                return
            code, answer = self.answer(path, body)
            self.reply(code, answer)

        def answer(self, path, body):
            for prefix in ("/v3/config/paths/get/", "/v3/config/paths/patch/"):
                if path.startswith(prefix):
                    name = path[len(prefix):]
                    with server.lock:
                        if name not in server.confs:
                            return 404, {"status": "error", "error": "path configuration not found"}
                        if prefix.endswith("get/"):
                            return 200, server.confs[name]
                        server.patch(name, json.loads(body))
                        return 200, {"status": "ok"}
            if path.startswith("/v3/paths/get/"):
                name = path[len("/v3/paths/get/"):]
                with server.lock:
                    p = server.paths.get(name)
                    if p is None:
                        return 404, {"status": "error", "error": "path not found"}
                    return 200, p.api_item()
            if path == "/v3/paths/list":
                with server.lock:
                    items = [p.api_item() for p in server.paths.values()]
                return 200, {"pageCount": 1, "itemCount": len(items), "items": items}
            return 500, {"status": "error", "error": "not implemented by the stand-in"}

        do_GET = handle_any
        do_PATCH = handle_any
        do_POST = handle_any
        do_DELETE = handle_any

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("config")
    args = ap.parse_args()
    with open(args.config, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    server = Server(conf)
    log("INF", f"configuration loaded from {os.path.abspath(args.config)}")

    def stop(_sig, _frame):
        # Shutdown as MediaMTX: paths closed (commands SIGINTed), then exit.
        # The RTSP listener goes first (no new readers), then the paths are
        # closed (commands SIGINTed), then every command is waited for,
        # however long it takes: the pool's wait at shutdown.
        rtsp_listener.close()
        with server.lock:
            for p in server.paths.values():
                p.destroy()
        for c in list(ALL_CMDS):
            if c.proc is not None:
                c.proc.wait()
        os._exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    rtsp_listener = serve_rtsp(server)
    if conf.get("api"):
        host, _, port = str(conf.get("apiAddress", ":9997")).rpartition(":")
        httpd = ThreadingHTTPServer((host or "0.0.0.0", int(port)), make_api_handler(Spec(args.spec), server))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        log("INF", f"[API] listener opened on {host}:{port}")
    threading.Event().wait()


if __name__ == "__main__":
    main()
