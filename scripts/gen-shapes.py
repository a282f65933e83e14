#!/usr/bin/env python3
"""Derive cognate's request-validation table from botocore's cognito-idp service model.

The table holds facts only (operation names, which operations skip SigV4, and for every input
shape its members, required members, types and constraints); documentation is dropped. Run it
after upgrading botocore to pick up new operations:

    python3 scripts/gen-shapes.py > crates/server/src/wire/shapes.json
"""
import gzip
import json
import os
import sys

import botocore

KEEP = ("type", "min", "max", "pattern", "enum", "sensitive")


def load_model():
    d = os.path.join(os.path.dirname(botocore.__file__), "data", "cognito-idp", "2016-04-18")
    name = next(f for f in os.listdir(d) if f.startswith("service-2"))
    raw = open(os.path.join(d, name), "rb").read()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def main():
    model = load_model()
    shapes = model["shapes"]
    out_shapes = {}

    def visit(name):
        if name in out_shapes:
            return
        s = shapes[name]
        entry = {k: s[k] for k in KEEP if k in s}
        out_shapes[name] = entry
        t = s["type"]
        if t == "structure":
            entry["members"] = {m: v["shape"] for m, v in s.get("members", {}).items()}
            if s.get("required"):
                entry["required"] = s["required"]
            for v in entry["members"].values():
                visit(v)
        elif t == "list":
            entry["member"] = s["member"]["shape"]
            visit(entry["member"])
        elif t == "map":
            entry["key"] = s["key"]["shape"]
            entry["value"] = s["value"]["shape"]
            visit(entry["key"])
            visit(entry["value"])

    ops = {}
    for op, o in sorted(model["operations"].items()):
        ops[op] = {"input": o["input"]["shape"] if "input" in o else None,
                   "unsigned": o.get("authtype") == "none"}
        if "input" in o:
            visit(o["input"]["shape"])
    json.dump({"source": "botocore " + botocore.__version__ + " cognito-idp 2016-04-18",
               "operations": ops, "shapes": dict(sorted(out_shapes.items()))},
              sys.stdout, indent=None, separators=(",", ":"), sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
