#!/usr/bin/env python3
"""The measuring side of scripts/bench_events.sh (see there)."""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def tree(root_pids):
    """Every live process whose ancestry reaches one of root_pids."""
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parents[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out = set()
    for pid in parents:
        p = pid
        while p > 1:
            if p in root_pids:
                out.add(pid)
                break
            p = parents.get(p, 0)
    return out


def holds(state):
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if b"hold" in cmd and f"HOOK_STATE_DIR={state}".encode() in env:
            out.add(int(d))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hook", required=True)
    ap.add_argument("--mediamtx", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    hook = os.path.abspath(a.hook)
    work = tempfile.mkdtemp(prefix="bench-events-")
    try:
        run(a, hook, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(a, hook, work):
    state = os.path.join(work, "state")
    rec = os.path.join(work, "recordings")
    binp = os.path.join(work, "bin")
    os.makedirs(state)
    os.makedirs(binp)
    os.symlink(hook, os.path.join(binp, "hook"))
    policy = os.path.join(work, "hook.json")
    with open(policy, "w") as f:
        json.dump({"recording": {"record_path": rec + "/%path/%Y-%m-%d_%H-%M-%S-%f"}}, f)
    rtsp, api = free_port(), free_port()
    env = dict(os.environ, PATH=binp + ":" + os.environ["PATH"], HOOK_STATE_DIR=state,
               HOOK_CONFIG=policy, HOOK_MTX_API=f"http://127.0.0.1:{api}", RTSP_PORT=str(rtsp),
               RUST_LOG="warn")
    paths = subprocess.run([hook, "mediamtx-config", "--device", "testsrc"], env=env,
                           check=True, capture_output=True, text=True).stdout
    conf = os.path.join(work, "mediamtx.yml")
    with open(conf, "w") as f:
        f.write(f"logLevel: warn\napi: true\napiAddress: 127.0.0.1:{api}\nrtspAddress: 127.0.0.1:{rtsp}\n"
                "rtspTransports: [tcp]\nrtmp: false\nhls: false\nwebrtc: false\nsrt: false\n"
                "metrics: false\npprof: false\nplayback: false\n" + paths)
    mtx = subprocess.Popen([a.mediamtx, conf], env=env, cwd=work, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, process_group=0)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", api), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        subprocess.run([hook, "record", "arm", "testsrc", "--pre", "10s", "--post", "5s"], env=env,
                       check=True, capture_output=True)
        time.sleep(15)  # the ring fills and rolls

        def status():
            out = subprocess.run([hook, "status", "testsrc", "--json"], env=env, check=True,
                                 capture_output=True, text=True).stdout
            return json.loads(out)["paths"]["testsrc"]

        s0 = status()
        roots = holds(state) | {mtx.pid}
        pids = tree(roots) | roots
        ours = {p for p in pids if p != mtx.pid}
        t0 = time.monotonic()
        c0 = {p: cpu_ticks(p) for p in pids}
        time.sleep(a.seconds)
        dt = time.monotonic() - t0
        c1 = {p: cpu_ticks(p) for p in pids}
        s1 = status()
        hook_cpu = sum(c1[p] - c0[p] for p in ours) / TICK / dt * 100
        mtx_cpu = (c1[mtx.pid] - c0[mtx.pid]) / TICK / dt * 100
        written = s1["segments"]["bytes"] - s0["segments"]["bytes"]
        per_hour = written / dt * 3600
        ring = s1["armed"]["ring_bytes"]
        ring_n = s1["armed"]["ring_segments"]

        lat = []
        for i in range(5):
            t = time.monotonic()
            subprocess.run([hook, "record", "start", "testsrc", "--duration", "1s", "--reason", f"bench{i}"],
                           env=env, check=True, capture_output=True)
            lat.append((time.monotonic() - t) * 1000)
            with open(os.path.join(state, "state.json")) as f:
                ev = json.load(f)["paths"]["testsrc"]["events"]
            assert ev[-1]["reason"] == f"bench{i}", ev[-1]
            time.sleep(1.5)  # past its end: the next start is a new event
        print("| row | measured | how |")
        print("|---|---|---|")
        print(f"| armed camera, CPU | hook run + FFmpeg + hold and reader {hook_cpu:.1f} % of a core; MediaMTX {mtx_cpu:.1f} % | {dt:.0f} s of /proc/PID/stat, the test pattern as `hook run --device testsrc` publishes it, 2 s segments |")
        print(f"| armed camera, disk | {per_hour / 1e6:.0f} MB written per hour (all rolled unless an event keeps it); {ring / 1e6:.2f} MB on disk in the ring ({ring_n} segments, pre-roll 10 s) | segment sizes reported to segment-complete |")
        print(f"| `record start` on an armed path to the event in the state | median {statistics.median(lat):.0f} ms (min {min(lat):.0f}, max {max(lat):.0f}) | 5 events, wall time of the command (it returns once the event is written) |")
    finally:
        subprocess.run([hook, "stop", "testsrc"], env=env, capture_output=True)
        os.killpg(mtx.pid, signal.SIGINT)
        try:
            mtx.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(mtx.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
