#!/usr/bin/env python3
"""Derive cognate's request-validation table and typed API from botocore's cognito-idp model.

One run writes two files from the same model:

* `crates/server/src/wire/shapes.json`: the validation table. Facts only (operation names, which
  operations skip SigV4, and for every input shape its members, required members, types and
  constraints); documentation is dropped.
* `crates/api/src/generated.rs`: Rust request/response types for the `cognate-api` crate, one
  item per shape reachable from an operation's input or output, and one marker type per
  operation. No documentation text of the model is copied, only facts (names, required,
  sensitive).

Run it after upgrading botocore to pick up new operations (`bash scripts/gen-model` picks the
pinned botocore of tests/compat/.venv when it exists):

    python3 scripts/gen-shapes.py [--json PATH] [--rust PATH]

Paths default to the two files above, relative to the repository root. The Rust output is run
through `rustfmt --edition 2021`, which must be on PATH.
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import sys

import botocore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_JSON = os.path.join(ROOT, "crates", "server", "src", "wire", "shapes.json")
DEFAULT_RUST = os.path.join(ROOT, "crates", "api", "src", "generated.rs")

KEEP = ("type", "min", "max", "pattern", "enum", "sensitive")


class ModelError(Exception):
    """The model has something the generator does not know how to map; fix the generator."""


def load_model():
    d = os.path.join(os.path.dirname(botocore.__file__), "data", "cognito-idp", "2016-04-18")
    name = next(f for f in os.listdir(d) if f.startswith("service-2"))
    raw = open(os.path.join(d, name), "rb").read()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def source_line():
    return "botocore " + botocore.__version__ + " cognito-idp 2016-04-18"


def shape_deps(shape):
    """Names of the shapes a shape refers to directly."""
    t = shape["type"]
    if t == "structure":
        return [m["shape"] for m in shape.get("members", {}).values()]
    if t == "list":
        return [shape["member"]["shape"]]
    if t == "map":
        return [shape["key"]["shape"], shape["value"]["shape"]]
    return []


# ---------------------------------------------------------------------------------------------
# shapes.json: the validation table
# ---------------------------------------------------------------------------------------------

def validation_table(model):
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
    return {"source": source_line(), "operations": ops, "shapes": dict(sorted(out_shapes.items()))}


def write_json(table, path):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(table, f, indent=None, separators=(",", ":"), sort_keys=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------------
# generated.rs: the typed API
# ---------------------------------------------------------------------------------------------

RUST_KEYWORDS = {
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
}
# Keywords that cannot be raw identifiers.
NOT_RAW = {"self", "Self", "super", "crate", "_"}
# Names the generated module or lib.rs already use; a shape type must not shadow them.
TAKEN_TYPE_NAMES = {"String", "Option", "Vec", "Box", "Result", "Map", "Empty", "Operation",
                    "Serialize", "Deserialize", "Value", "UnknownValue"}

# Rust types for the scalar shape types.
SCALARS = {"string": "String", "integer": "i32", "long": "i64", "boolean": "bool",
           "timestamp": "f64", "blob": "String", "double": "f64", "float": "f64"}


def snake_case(name):
    """Member name to field name: `SMSMfaSettings` -> `sms_mfa_settings`."""
    s = name.replace("OAuth", "Oauth")  # one word, not `o_auth`
    s = re.sub(r"([A-Z]{2,})s(?=[A-Z0-9]|$)", r"\1S", s)  # plural acronyms: `CallbackURLs`
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)  # end of an acronym: `MFAOptions`
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)  # lower-to-upper: `UserPoolId`
    s = s.lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", s):
        raise ModelError(f"member name {name!r} does not make a Rust identifier ({s!r})")
    if s in NOT_RAW:
        raise ModelError(f"member name {name!r} makes the reserved identifier {s!r}")
    return "r#" + s if s in RUST_KEYWORDS else s


def variant_name(value):
    """Enum wire value to variant name: `USER_SRP_AUTH` -> `UserSrpAuth`, `V1_0` -> `V1_0`."""
    out = ""
    for part in re.split(r"[^A-Za-z0-9]+", value):
        if not part:
            continue
        # A part in one case (`SRP`, `email`) is a word; a mixed one (`InProgress`) keeps its
        # inner capitals.
        if part.upper() == part or part.lower() == part:
            word = part[0].upper() + part[1:].lower()
        else:
            word = part[0].upper() + part[1:]
        if out and out[-1].isdigit() and word[0].isdigit():
            out += "_"  # `V1_0`, not `V10`
        out += word
    if not out:
        raise ModelError(f"enum value {value!r} has no letters or digits")
    if out[0].isdigit():
        out = "Value" + out
    if out in NOT_RAW:
        raise ModelError(f"enum value {value!r} makes the reserved identifier {out!r}")
    return out


def check_type_name(name):
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name) or name in TAKEN_TYPE_NAMES:
        raise ModelError(f"shape or operation name {name!r} cannot be a Rust type name here")


class RustGen:
    def __init__(self, model):
        self.model = model
        self.shapes = model["shapes"]
        self.ops = dict(sorted(model["operations"].items()))
        self.reachable = self.reachable_shapes()
        # Which operation a shape is the input/output of, for doc comments.
        self.role = {}
        for op, o in self.ops.items():
            for key, word in (("input", "input"), ("output", "output")):
                if key in o:
                    self.role.setdefault(o[key]["shape"], []).append(f"the {word} of `{op}`")
        self._default = {}
        self.check_no_recursion()

    # -- model queries -------------------------------------------------------------------------

    def reachable_shapes(self):
        seen = set()
        stack = [o[k]["shape"] for o in self.ops.values() for k in ("input", "output") if k in o]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(shape_deps(self.shapes[name]))
        return sorted(seen)

    def check_no_recursion(self):
        """Fail on a shape that contains itself: the generated structs would need a Box."""
        done, active = set(), []

        def visit(name):
            if name in active:
                cycle = active[active.index(name):] + [name]
                raise ModelError("recursive shapes " + " -> ".join(cycle)
                                 + ": teach the generator to Box the member that closes the cycle")
            if name in done:
                return
            active.append(name)
            for dep in shape_deps(self.shapes[name]):
                visit(dep)
            active.pop()
            done.add(name)

        for name in self.reachable:
            visit(name)

    def is_document(self, name):
        s = self.shapes[name]
        return s["type"] == "structure" and s.get("document", False)

    def is_enum(self, name):
        s = self.shapes[name]
        return s["type"] == "string" and "enum" in s

    def is_struct(self, name):
        return self.shapes[name]["type"] == "structure" and not self.is_document(name)

    def rust_type(self, name):
        s = self.shapes[name]
        t = s["type"]
        if self.is_document(name):
            return "serde_json::Value"
        if t == "structure" or self.is_enum(name):
            return name
        if t == "list":
            return f"Vec<{self.rust_type(s['member']['shape'])}>"
        if t == "map":
            key = s["key"]["shape"]
            if self.shapes[key]["type"] != "string" or self.is_enum(key):
                raise ModelError(f"map {name} has key shape {key}, not a plain string")
            return f"crate::Map<{self.rust_type(s['value']['shape'])}>"
        if t in SCALARS:
            return SCALARS[t]
        raise ModelError(f"shape {name} has type {t!r}, which the generator does not map")

    def is_default(self, name):
        """Whether the Rust type of a shape implements Default (enums do not)."""
        if name not in self._default:
            if self.is_enum(name):
                result = False
            elif self.is_struct(name):
                s = self.shapes[name]
                members = s.get("members", {})
                result = all(self.is_default(members[m]["shape"]) for m in s.get("required", []))
            else:
                result = True  # scalars, String, Vec, Map, serde_json::Value
            self._default[name] = result
        return self._default[name]

    def is_sensitive(self, name):
        """Whether values of a shape must not be printed: the shape is marked sensitive, or a
        list/map holds sensitive keys or values. (A structure with sensitive members redacts
        them in its own Debug, so it is not sensitive as a whole unless marked so.)"""
        s = self.shapes[name]
        if s.get("sensitive"):
            return True
        if s["type"] == "list":
            return self.is_sensitive(s["member"]["shape"])
        if s["type"] == "map":
            return self.is_sensitive(s["key"]["shape"]) or self.is_sensitive(s["value"]["shape"])
        return False

    # -- items -----------------------------------------------------------------------------------

    def shape_doc(self, name):
        roles = self.role.get(name)
        if roles:
            return f"/// Shape `{name}` of the model: " + ", ".join(roles) + "."
        return f"/// Shape `{name}` of the model."

    def gen_struct(self, name):
        s = self.shapes[name]
        required = set(s.get("required", []))
        whole_sensitive = bool(s.get("sensitive"))
        fields = []  # (ident, member, rust type, required, sensitive)
        seen = {}
        for member, ref in s.get("members", {}).items():
            ident = snake_case(member)
            if ident in seen:
                raise ModelError(f"{name}: members {seen[ident]} and {member} both map to {ident}")
            seen[ident] = member
            is_req = member in required
            ty = self.rust_type(ref["shape"])
            sensitive = whole_sensitive or self.is_sensitive(ref["shape"])
            fields.append((ident, member, ref, ty, is_req, sensitive))
        if required - set(seen.values()):
            raise ModelError(f"{name}: required members {sorted(required - set(seen.values()))} "
                             "are not members")

        redacts = any(f[5] for f in fields)
        derives = [] if redacts else ["Debug"]
        derives.append("Clone")
        if self.is_default(name):
            derives.append("Default")
        derives += ["PartialEq", "Serialize", "Deserialize"]

        out = [self.shape_doc(name), f"#[derive({', '.join(derives)})]", f"pub struct {name} {{"]
        for ident, member, ref, ty, is_req, sensitive in fields:
            facts = [f"`{ref['shape']}`"]
            if is_req:
                facts.append("required")
            if sensitive:
                facts.append("sensitive")
            if ref.get("deprecated"):
                facts.append("deprecated")
            out.append(f"    /// Member `{member}`: " + ", ".join(facts) + ".")
            if is_req and self.shapes[ref["shape"]]["type"] in ("integer", "long"):
                # The service reads a missing number as 0 (the wire's validation does too).
                out.append(f'    #[serde(rename = "{member}", default)]')
                out.append(f"    pub {ident}: {ty},")
            elif is_req:
                out.append(f'    #[serde(rename = "{member}")]')
                out.append(f"    pub {ident}: {ty},")
            else:
                out.append(f'    #[serde(rename = "{member}")]')
                out.append('    #[serde(default, skip_serializing_if = "Option::is_none")]')
                out.append(f"    pub {ident}: Option<{ty}>,")
        out.append("}")
        if redacts:
            out += ["", self.gen_redacting_debug(name, fields)]
        return "\n".join(out)

    def gen_redacting_debug(self, name, fields):
        """A Debug impl that prints sensitive fields as "***" (or None when absent)."""
        out = [f"impl std::fmt::Debug for {name} {{",
               "    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {",
               f'        f.debug_struct("{name}")']
        for ident, _member, _ref, _ty, is_req, sensitive in fields:
            label = ident.removeprefix("r#")
            if not sensitive:
                value = f"&self.{ident}"
            elif is_req:
                value = '&"***"'
            else:
                value = f'&self.{ident}.as_ref().map(|_| "***")'
            out.append(f'            .field("{label}", {value})')
        out += ["            .finish()", "    }", "}"]
        return "\n".join(out)

    def gen_enum(self, name):
        values = self.shapes[name]["enum"]
        variants = []
        seen = {}
        for value in values:
            v = variant_name(value)
            if v in seen:
                raise ModelError(f"{name}: values {seen[v]!r} and {value!r} both map to {v}")
            seen[v] = value
            variants.append((v, value))

        out = [self.shape_doc(name),
               "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]",
               f"pub enum {name} {{"]
        for v, value in variants:
            out += [f"    /// Wire value `{value}`.", f'    #[serde(rename = "{value}")]', f"    {v},"]
        out += ["}", "", f"impl {name} {{",
                "    /// Every value, in model order.",
                "    pub const ALL: &'static [Self] = &["]
        out += [f"        Self::{v}," for v, _ in variants]
        out += ["    ];", "",
                "    /// The value as sent on the wire.",
                "    pub fn as_str(self) -> &'static str {",
                "        match self {"]
        out += [f'            Self::{v} => "{value}",' for v, value in variants]
        out += ["        }", "    }", "}", "",
                f"impl std::fmt::Display for {name} {{",
                "    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {",
                "        f.write_str(self.as_str())",
                "    }", "}", "",
                f"impl std::str::FromStr for {name} {{",
                "    type Err = crate::UnknownValue;",
                "",
                "    fn from_str(s: &str) -> Result<Self, Self::Err> {",
                "        match s {"]
        out += [f'            "{value}" => Ok(Self::{v}),' for v, value in variants]
        out += [f'            _ => Err(crate::UnknownValue {{ shape: "{name}", value: s.to_owned() }}),',
                "        }", "    }", "}"]
        return "\n".join(out)

    def gen_ops(self):
        out = ["/// One marker type per operation of the model, naming its input and output types.",
               "pub mod ops {"]
        for op, o in self.ops.items():
            inp = "super::" + o["input"]["shape"] if "input" in o else "crate::Empty"
            outp = "super::" + o["output"]["shape"] if "output" in o else "crate::Empty"
            out += [f"    /// Operation `{op}`.",
                    "    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]",
                    f"    pub struct {op};",
                    "",
                    f"    impl crate::Operation for {op} {{",
                    f'        const NAME: &\'static str = "{op}";',
                    f"        type Input = {inp};",
                    f"        type Output = {outp};",
                    "    }",
                    ""]
        out.append("    /// The name of every operation, sorted.")
        out.append("    pub const OPERATION_NAMES: &[&str] = &[")
        out += [f'        "{op}",' for op in self.ops]
        out += ["    ];", "}"]
        return "\n".join(out)

    def generate(self):
        items = []
        for name in self.reachable:
            if self.is_struct(name):
                check_type_name(name)
                items.append(self.gen_struct(name))
            elif self.is_enum(name):
                check_type_name(name)
                items.append(self.gen_enum(name))
            else:
                self.rust_type(name)  # fails loudly on a shape type the generator cannot map
        for op in self.ops:
            check_type_name(op)
        header = [
            f"// @generated by scripts/gen-shapes.py from {source_line()}. "
            "Do not edit: run `bash scripts/gen-model`.",
            "",
            "use serde::{Deserialize, Serialize};",
        ]
        return "\n\n".join(["\n".join(header), self.gen_ops()] + items) + "\n"

    def counts(self):
        structs = sum(1 for n in self.reachable if self.is_struct(n))
        enums = sum(1 for n in self.reachable if self.is_enum(n))
        return len(self.ops), structs, enums


def rustfmt(source):
    done = subprocess.run(["rustfmt", "--edition", "2021"], input=source, capture_output=True,
                          text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit("rustfmt rejected the generated code")
    return done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=DEFAULT_JSON, help="validation table to write")
    parser.add_argument("--rust", default=DEFAULT_RUST, help="Rust types to write")
    args = parser.parse_args()

    model = load_model()
    gen = RustGen(model)
    rust = rustfmt(gen.generate())
    write_json(validation_table(model), args.json)
    with open(args.rust, "w", encoding="utf-8", newline="\n") as f:
        f.write(rust)
    ops, structs, enums = gen.counts()
    print(f"{source_line()}: {ops} operations, {structs} structs, {enums} enums", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except ModelError as e:
        raise SystemExit(f"gen-shapes: {e}")
