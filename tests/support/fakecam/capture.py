#!/usr/bin/env python3
"""A minimal V4L2 capture client (MMAP streaming, x86_64 struct layouts),
the way programs other than FFmpeg use a camera: S_FMT, REQBUFS, QUERYBUF,
mmap, QBUF, STREAMON, then poll() + DQBUF (or a blocking DQBUF) per frame.

  capture.py NODE FOURCC WIDTH HEIGHT FRAMES poll|block|hold

Prints one JSON object per frame (sequence, bytesused, timestamp and the
CLOCK_MONOTONIC time it was dequeued, in microseconds), then a summary line
with the format, the buffers, when STREAMON was called, what a second descriptor got from S_FMT while the first owned the
camera. `hold` holds the camera (format set, buffers mapped, no stream):
it prints {"held": true}, waits for the end of its stdin, then prints what
QUERYBUF gives ({"after": "ok"} or the errno name). Exit status 3 with the
errno name when an ioctl fails.
"""

import errno
import fcntl
import json
import mmap
import os
import select
import struct
import sys
import time

VIDIOC_G_FMT = 0xC0D05604
VIDIOC_S_FMT = 0xC0D05605
VIDIOC_REQBUFS = 0xC0145608
VIDIOC_QUERYBUF = 0xC0585609
VIDIOC_QBUF = 0xC058560F
VIDIOC_DQBUF = 0xC0585611
VIDIOC_STREAMON = 0x40045612
VIDIOC_STREAMOFF = 0x40045613
CAPTURE = 1
MMAP = 1


def fourcc(s):
    return struct.unpack("<I", s.encode()[:4].ljust(4))[0]


def fmt_buf(pixfmt, width, height):
    b = bytearray(208)
    struct.pack_into("<I", b, 0, CAPTURE)
    struct.pack_into("<IIII", b, 8, width, height, pixfmt, 0)
    return b


def v4l2_buffer(index):
    b = bytearray(88)
    struct.pack_into("<II", b, 0, index, CAPTURE)
    struct.pack_into("<I", b, 60, MMAP)
    return b


def main():
    node, fcc, width, height, frames, mode = sys.argv[1:7]
    width, height, frames = int(width), int(height), int(frames)
    fd = os.open(node, os.O_RDWR | os.O_NONBLOCK)
    try:
        f = fmt_buf(fourcc(fcc), width, height)
        fcntl.ioctl(fd, VIDIOC_S_FMT, f)
        w, h, pix, _, _, sizeimage = struct.unpack_from("<IIIIII", f, 8)
        req = bytearray(20)
        struct.pack_into("<III", req, 0, 4, CAPTURE, MMAP)
        fcntl.ioctl(fd, VIDIOC_REQBUFS, req)
        count = struct.unpack_from("<I", req, 0)[0]
        maps = []
        for i in range(count):
            b = v4l2_buffer(i)
            fcntl.ioctl(fd, VIDIOC_QUERYBUF, b)
            offset = struct.unpack_from("<I", b, 64)[0]
            length = struct.unpack_from("<I", b, 72)[0]
            maps.append(mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ, offset=offset))
            fcntl.ioctl(fd, VIDIOC_QBUF, b)
        # A second descriptor may look but not take the camera.
        fd2 = os.open(node, os.O_RDWR)
        g = fmt_buf(0, 0, 0)
        fcntl.ioctl(fd2, VIDIOC_G_FMT, g)
        try:
            fcntl.ioctl(fd2, VIDIOC_S_FMT, g)
            second = "ok"
        except OSError as e:
            second = errno.errorcode[e.errno]
        os.close(fd2)
        if mode == "hold":
            print(json.dumps({"held": True, "second_s_fmt": second}), flush=True)
            sys.stdin.read()
            try:
                fcntl.ioctl(fd, VIDIOC_QUERYBUF, v4l2_buffer(0))
                after = "ok"
            except OSError as e:
                after = errno.errorcode[e.errno]
            print(json.dumps({"after": after}), flush=True)
            return 0
        streamon_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        fcntl.ioctl(fd, VIDIOC_STREAMON, struct.pack("<i", CAPTURE))
        if mode == "block":
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        p = select.poll()
        p.register(fd, select.POLLIN)
        for _ in range(frames):
            if mode == "poll":
                if not p.poll(2000):
                    print(json.dumps({"error": "poll timed out"}))
                    return 3
            b = v4l2_buffer(0)
            fcntl.ioctl(fd, VIDIOC_DQBUF, b)
            index, _, used, flags = struct.unpack_from("<IIII", b, 0)
            sec, usec = struct.unpack_from("<qq", b, 24)
            seq = struct.unpack_from("<I", b, 56)[0]
            data = maps[index][:4]
            print(json.dumps({
                "sequence": seq,
                "bytesused": used,
                "flags": flags,
                "ts_us": sec * 1000000 + usec,
                "mono_us": time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000,
                "head": data.hex(),
            }), flush=True)
            fcntl.ioctl(fd, VIDIOC_QBUF, b)
        fcntl.ioctl(fd, VIDIOC_STREAMOFF, struct.pack("<i", CAPTURE))
        print(json.dumps({"format": [w, h, pix], "sizeimage": sizeimage,
                          "buffers": count, "second_s_fmt": second,
                          "streamon_us": streamon_us}))
        for m in maps:
            m.close()
    except OSError as e:
        print(json.dumps({"error": errno.errorcode.get(e.errno, str(e.errno))}))
        return 3
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
