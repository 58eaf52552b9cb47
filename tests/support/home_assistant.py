#!/usr/bin/python3
"""Runs the Home Assistant example of docs/fleet.md as Home Assistant would.

    home_assistant.py DOC STATE_DIR

Takes the YAML block of DOC whose first line is `# Home Assistant
configuration.yaml`, and for each `command_line` entry runs its `command`
through a shell (Home Assistant does: a shell subprocess, 15 s limit), with
/var/lib/mediamtx-hook replaced by STATE_DIR; renders `value_template` with
Jinja2 on `value` (the output, stripped) and `value_json` (it parsed as
JSON), and takes `json_attributes` at `json_attributes_path`. For each
`local_file` camera it looks at `file_path` (the same replacement). Prints
one JSON object: {"entities": [{"kind", "name", "command", "exit", "state",
"attributes"}], "cameras": [{"name", "file", "jpeg"}]}.
"""

import json
import subprocess
import sys

import jinja2
import yaml

MARK = "# Home Assistant configuration.yaml"
DEFAULT_STATE_DIR = "/var/lib/mediamtx-hook"


def example(doc):
    blocks = doc.split("```yaml\n")[1:]
    found = [b.split("```")[0] for b in blocks if b.startswith(MARK + "\n")]
    if len(found) != 1:
        sys.exit(f"expected one yaml block starting with {MARK!r}, found {len(found)}")
    return yaml.safe_load(found[0])


def at_path(value, path):
    # The JSONPath forms the example uses: $.a.b
    if not path.startswith("$"):
        sys.exit(f"json_attributes_path {path!r}: expected $.key.key")
    for key in [k for k in path[1:].split(".") if k]:
        value = value[key]
    return value


def main():
    doc, state_dir = sys.argv[1], sys.argv[2]
    config = example(open(doc).read())
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    out = {"entities": [], "cameras": []}
    for entry in config.get("command_line", []):
        ((kind, e),) = entry.items()
        command = e["command"].replace(DEFAULT_STATE_DIR, state_dir)
        run = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=15
        )
        value = run.stdout.strip()
        state, attributes = None, {}
        if run.returncode == 0:
            value_json = json.loads(value)
            state = env.from_string(e["value_template"]).render(
                value=value, value_json=value_json
            ).strip()
            if "json_attributes" in e:
                base = at_path(value_json, e.get("json_attributes_path", "$"))
                attributes = {k: base.get(k) for k in e["json_attributes"]}
        out["entities"].append(
            {
                "kind": kind,
                "name": e["name"],
                "command": command,
                "exit": run.returncode,
                "stderr": run.stderr,
                "state": state,
                "attributes": attributes,
            }
        )
    for cam in config.get("camera", []):
        if cam.get("platform") != "local_file":
            continue
        file = cam["file_path"].replace(DEFAULT_STATE_DIR, state_dir)
        try:
            with open(file, "rb") as f:
                jpeg = f.read(2) == b"\xff\xd8"
        except OSError:
            jpeg = False
        out["cameras"].append({"name": cam["name"], "file": file, "jpeg": jpeg})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
