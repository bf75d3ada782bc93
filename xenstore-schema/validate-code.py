#!/usr/bin/env python3
"""Fails when code or scripts name a xenstore node that rtvirt-paths.md lacks.

usage: validate-code.py [--schema FILE] [--verbose] ROOT...

Scans C sources and headers, shell and Python scripts under each ROOT for
xenstore paths written out as text:

  * absolute paths: anything starting with /local/domain/ inside a string;
  * schema ids used through rtv_xs_node_by_id("...") or RTV_XS_NODE("...");
  * node ids in C: RTV_XS_<ID> identifiers (the generated enum).

Variable parts (printf conversions like %u or %s, shell $x and ${x}, and the
schema's own $PARAMS) match any one placeholder.  A literal path that names a
directory of the schema (a prefix of a node's path) is accepted; anything
else is reported with file:line and the offending text.  A line holding
"xs-schema: not-a-node" is skipped (for paths that are not xenstore paths).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schema  # noqa: E402

EXTS = (".c", ".h", ".sh", ".py", ".in")
SKIP_DIRS = {".git", "build", "xenstore-schema", "__pycache__"}
PATH_RE = re.compile(r"/local/domain/[A-Za-z0-9_%$@{}()\-./\"]*")
VAR_RE = re.compile(r'%[-+ #0-9.]*(?:ll|l|h|hh|z|j)?[diouxXs]|"\s*PRI[a-zA-Z0-9]+\s*"|'
                    r"\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\{[a-z_]+\}")
ID_CALL_RE = re.compile(r'(?:rtv_xs_node_by_id|RTV_XS_NODE)\(\s*"([^"]+)"')
ENUM_RE = re.compile(r"\bRTV_XS_([A-Z][A-Z0-9_]*)\b")
# Names in the RTV_XS_ namespace that are API, not nodes.
API_NAMES = {"NODE_COUNT", "PARAM_COUNT", "NO_TXN", "PATH_MAX", "VALUE_MAX",
             "PERMS_MAX", "TXN_TRIES", "PERM_NONE", "PERM_READ", "PERM_WRITE",
             "PERM_BOTH", "NODE"}


def is_script(path):
    if path.endswith(EXTS):
        return True
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
        return first.startswith(b"#!") and (b"sh" in first or b"python" in first)
    except OSError:
        return False


def files_under(root):
    if os.path.isfile(root):
        yield root
        return
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
        for f in sorted(files):
            p = os.path.join(d, f)
            if is_script(p):
                yield p


def literal_components(lit):
    """Splits a literal from code into path components, each variable part
    (printf conversion, shell variable) replaced by a NUL marker."""
    return VAR_RE.sub("\x00", lit).strip("/").split("/")


def component_matches(lit, tmpl, params):
    """Does a component written in code fit a schema template component?
    A component that is wholly variable fits anything, as does a wholly
    placeholder template component, except that a literal standing for an
    enum placeholder ($BTYPE) must be one of its values; otherwise variables
    stand for a sample value and must fit the template with its $PARAMS as
    wildcards."""
    if lit == "\x00":
        return True
    if re.fullmatch(r"\$[A-Z]+", tmpl):
        t = params.get(tmpl, {}).get("type", {})
        if t.get("kind") == "enum" and "\x00" not in lit:
            return lit in t["values"]
        return True
    rx = "".join("[^/]+" if part.startswith("$") else re.escape(part)
                 for part in re.split(r"(\$[A-Z]+)", tmpl))
    return re.fullmatch(rx, lit.replace("\x00", "0")) is not None


def path_in_schema(lit, templates, params):
    """True if the literal names a node, or a directory above nodes."""
    comps = literal_components(lit)
    for t in templates:
        tc = t.strip("/").split("/")
        if len(comps) <= len(tc) and all(component_matches(a, b, params)
                                         for a, b in zip(comps, tc)):
            return True
    return False


def main(argv):
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    here = os.path.dirname(os.path.abspath(__file__))
    doc = os.path.join(here, "rtvirt-paths.md")
    if argv[:1] == ["--schema"]:
        doc, argv = argv[1], argv[2:]
    if not argv:
        sys.exit(__doc__)
    try:
        params, nodes = schema.load(doc)
    except schema.SchemaError as e:
        sys.exit(f"validate-code: {e}")

    ids = {n["id"] for n in nodes}
    idents = {schema.c_ident(n["id"])[len("RTV_XS_"):] for n in nodes}
    templates = [n["path"] for n in nodes]

    bad, seen = [], 0
    for root in argv:
        for path in files_under(root):
            try:
                lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
            except OSError as e:
                bad.append(f"{path}: cannot read: {e}")
                continue
            for no, line in enumerate(lines, 1):
                if "xs-schema: not-a-node" in line:
                    continue
                for m in PATH_RE.finditer(line):
                    lit = m.group(0).split('"')[0].rstrip("/.")
                    if lit.count("/") < 3:
                        continue   # "/local/domain/" alone, or a bare domain dir
                    seen += 1
                    if not path_in_schema(lit, templates, params):
                        bad.append(f"{path}:{no}: path \"{lit}\" is not in the schema")
                    elif verbose:
                        print(f"ok {path}:{no}: {lit}")
                for m in ID_CALL_RE.finditer(line):
                    seen += 1
                    if m.group(1) not in ids:
                        bad.append(f"{path}:{no}: node id \"{m.group(1)}\" is not in the schema")
                if path.endswith((".c", ".h")):
                    for m in ENUM_RE.finditer(line):
                        name = m.group(1)
                        if name in API_NAMES or name.startswith(("T_", "P_")):
                            continue
                        seen += 1
                        if name not in idents:
                            bad.append(f"{path}:{no}: RTV_XS_{name} names no node of the schema")

    for b in bad:
        print(b)
    print(f"xenstore-schema: {seen} node references checked, {len(bad)} not in the schema")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
