#!/usr/bin/python3
"""A small stand-in for MediaMTX in tests: a real RTSP server (GStreamer's,
from Debian) serving a live H.264 test pattern, and a Control API that checks
every request against MediaMTX's openapi.yaml and records it.

Run with /usr/bin/python3 (Debian's GStreamer bindings live there):

    mtx_standin.py --log FILE [--rtsp-port P --path NAME ...] [--api-port A]
                   [--entry NAME ...] [--user U --pass P] [--patch-delay S]

--rtsp-port: serve rtsp://127.0.0.1:P/NAME for every --path.
--api-port:  answer the Control API on 127.0.0.1:A. Config entries (--entry,
             default: the --path names) start with record=false, like a
             freshly started MediaMTX; restarting this process forgets every
             PATCH, like a MediaMTX restart.
--patch-delay: a slow API: log each PATCH as received ("patch-received"),
             apply it, and answer S seconds later.
--log:       one JSON object per line: each API request (method, path, body,
             status, valid, problems) and each RTSP client connected/closed.

Prints "READY" on stdout once every listener accepts connections.
"""

import argparse
import base64
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

LOG_LOCK = threading.Lock()


def log_event(path, event):
    event["t"] = time.time()
    with LOG_LOCK:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")


class Spec:
    """The operations and schemas of openapi.yaml, for request checks."""

    def __init__(self, file):
        with open(file, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.ops = []
        for template, item in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            for method, op in item.items():
                self.ops.append((re.compile(pattern), method.upper(), template, op))

    def schema(self, ref):
        name = ref.rsplit("/", 1)[-1]
        return self.doc["components"]["schemas"][name]

    def check(self, method, path, body):
        """Returns (template, problems)."""
        problems = []
        matches = [o for o in self.ops if o[0].match(path)]
        if not matches:
            return None, [f"no operation in openapi.yaml matches path {path}"]
        ops = [o for o in matches if o[1] == method]
        if not ops:
            return matches[0][2], [f"{method} is not defined for {matches[0][2]}"]
        _, _, template, op = ops[0]
        request_body = op.get("requestBody")
        if request_body is None:
            if body:
                problems.append(f"{method} {template} takes no body, got {body!r}")
            return template, problems
        if not body:
            problems.append(f"{method} {template} requires a JSON body")
            return template, problems
        try:
            value = json.loads(body)
        except ValueError as e:
            return template, [f"body is not JSON: {e}"]
        ref = request_body["content"]["application/json"]["schema"]["$ref"]
        problems += self.check_object(value, self.schema(ref), ref)
        return template, problems

    def check_object(self, value, schema, where):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        problems = []
        props = schema.get("properties", {})
        for key, v in value.items():
            if key not in props:
                problems.append(f"{where}: unknown field {key!r}")
                continue
            want = props[key].get("type")
            if v is None and props[key].get("nullable"):
                continue
            kinds = {
                "boolean": bool,
                "string": str,
                "integer": int,
                "number": (int, float),
                "array": list,
                "object": dict,
            }
            if want in kinds and (
                not isinstance(v, kinds[want])
                or (want in ("integer", "number") and isinstance(v, bool))
            ):
                problems.append(f"{where}.{key}: expected {want}, got {v!r}")
        return problems


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.entries = {name: {"name": name, "record": False} for name in args.entry or args.path}
        self.clients = {}  # id -> path
        self.next_client = 0
        self.rtsp_up = args.rtsp_port is not None


def make_handler(spec, state):
    args = state.args

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path = self.path.split("?", 1)[0]
            template, problems = spec.check(self.command, path, body)
            auth_ok = True
            if args.user:
                want = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
                auth_ok = self.headers.get("Authorization") == want
            if self.command == "PATCH" and args.patch_delay:
                log_event(args.log, {"kind": "patch-received", "path": path, "body": body})
            code, answer = self.answer(path, body, problems, auth_ok)
            if self.command == "PATCH" and args.patch_delay:
                time.sleep(args.patch_delay)
            log_event(
                args.log,
                {
                    "kind": "api",
                    "method": self.command,
                    "path": path,
                    "template": template,
                    "body": json.loads(body) if body and not problems else body,
                    "status": code,
                    "valid": not problems,
                    "problems": problems,
                },
            )
            self.reply(code, answer)

        def answer(self, path, body, problems, auth_ok):
            if not auth_ok:
                return 401, {"status": "error", "error": "authentication error"}
            if problems:
                return 400, {"status": "error", "error": "; ".join(problems)}
            parts = path.strip("/").split("/")
            with state.lock:
                if parts[:3] == ["v3", "config", "paths"] and len(parts) == 5:
                    action, name = parts[3], parts[4]
                    entry = state.entries.get(name)
                    if entry is None:
                        return 404, {"status": "error", "error": "path configuration not found"}
                    if action == "get":
                        return 200, entry
                    if action == "patch":
                        entry.update(json.loads(body))
                        return 200, {"status": "ok"}
                if parts[:2] == ["v3", "paths"] and len(parts) == 4 and parts[2] == "get":
                    name = parts[3]
                    if not state.rtsp_up or name not in args.path:
                        return 404, {"status": "error", "error": "path not found"}
                    readers = [
                        {"type": "rtspSession", "id": str(cid)}
                        for cid, p in state.clients.items()
                    ]
                    return 200, {
                        "name": name,
                        "confName": name,
                        "ready": True,
                        "available": True,
                        "online": True,
                        "source": {"type": "rtspSession", "id": "standin"},
                        "readers": readers,
                        "tracks2": [],
                    }
            return 500, {"status": "error", "error": "not implemented by the stand-in"}

        do_GET = handle_any
        do_PATCH = handle_any
        do_POST = handle_any
        do_DELETE = handle_any

    return Handler


def start_rtsp(args, state):
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.rtsp_port))
    mounts = server.get_mount_points()
    launch = (
        "( videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width=320,height=240,framerate={args.fps}/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    for name in args.path:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        mounts.add_factory("/" + name, factory)

    def on_client(_server, client):
        with state.lock:
            cid = state.next_client
            state.next_client += 1
            state.clients[cid] = None
        log_event(args.log, {"kind": "rtsp", "event": "client-connected", "id": cid})

        def on_closed(_client):
            with state.lock:
                state.clients.pop(cid, None)
            log_event(args.log, {"kind": "rtsp", "event": "client-closed", "id": cid})

        client.connect("closed", on_closed)

    server.connect("client-connected", on_client)
    if server.attach(None) == 0:
        print(f"cannot listen on RTSP port {args.rtsp_port}", file=sys.stderr)
        sys.exit(1)
    return GLib.MainLoop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtsp-port", type=int)
    ap.add_argument("--path", action="append", default=[])
    ap.add_argument("--api-port", type=int)
    ap.add_argument("--entry", action="append")
    ap.add_argument("--spec", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user")
    ap.add_argument("--pass", dest="password", default="")
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--patch-delay", type=float, default=0.0)
    args = ap.parse_args()

    state = State(args)
    loop = start_rtsp(args, state) if args.rtsp_port else None
    if args.api_port:
        spec = Spec(args.spec)
        httpd = ThreadingHTTPServer(("127.0.0.1", args.api_port), make_handler(spec, state))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print("READY", flush=True)
    if loop is not None:
        loop.run()
    else:
        threading.Event().wait()


if __name__ == "__main__":
    main()
