#!/usr/bin/python3
"""Checks a MediaMTX configuration against MediaMTX's reference mediamtx.yml.

    mtx_keys.py REFERENCE CANDIDATE|-

Every top-level key of CANDIDATE must be a top-level key of REFERENCE, and
every key under `pathDefaults` or under an entry of `paths` must be a key of
the reference's `pathDefaults`, with a value of the same YAML type (booleans
stay booleans, lists stay lists; keys the reference leaves empty take any
scalar). Prints the problems found, one a line; exit status 1 when any.
"""

import sys

import yaml


def kind(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    return "empty"


def compare(where, candidate, reference, problems):
    for key, value in (candidate or {}).items():
        if key not in reference:
            problems.append(f"{where}{key}: not a key of the reference mediamtx.yml")
            continue
        want, got = kind(reference[key]), kind(value)
        if want == "empty":
            if got in ("list", "map"):
                problems.append(f"{where}{key}: expected a scalar, got {got}")
        elif want != got and not (want == "string" and got == "number"):
            problems.append(f"{where}{key}: expected {want} like the reference, got {got} {value!r}")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        reference = yaml.safe_load(f)
    if sys.argv[2] == "-":
        candidate = yaml.safe_load(sys.stdin)
    else:
        with open(sys.argv[2], encoding="utf-8") as f:
            candidate = yaml.safe_load(f)
    problems = []
    if not isinstance(candidate, dict):
        print("candidate is not a YAML map")
        return 1
    path_keys = reference["pathDefaults"]
    top = {k: v for k, v in candidate.items() if k not in ("pathDefaults", "paths")}
    compare("", top, reference, problems)
    compare("pathDefaults.", candidate.get("pathDefaults"), path_keys, problems)
    for name, entry in (candidate.get("paths") or {}).items():
        if entry is None:
            continue
        if not isinstance(entry, dict):
            problems.append(f"paths.{name}: expected a map of path settings")
            continue
        compare(f"paths.{name}.", entry, path_keys, problems)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
