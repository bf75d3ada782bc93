"""Reads the machine-readable blocks of rtvirt-paths.md.

Shared by gen-table.py (C table) and validate-code.py (code check) so the
document is parsed in exactly one place.
"""
import re
import sys

FIELDS = ("id", "path", "writer", "perms", "type", "default")
TYPE_KINDS = ("enum", "uint", "bool", "string", "name")


class SchemaError(Exception):
    pass


def parse_type(text, where):
    words = text.split()
    if not words or words[0] not in TYPE_KINDS:
        raise SchemaError(f"{where}: type '{text}' must start with one of {', '.join(TYPE_KINDS)}")
    kind = words[0]
    t = {"kind": kind, "min": 0, "max": 0, "values": []}
    if kind == "enum":
        if len(words) < 2:
            raise SchemaError(f"{where}: enum needs at least one value")
        t["values"] = words[1:]
    elif kind == "uint":
        m = re.fullmatch(r"(\d+)\.\.(\d+)", words[1] if len(words) == 2 else "")
        if not m or int(m.group(1)) > int(m.group(2)) or int(m.group(2)) >= 2**64:
            raise SchemaError(f"{where}: uint needs a range MIN..MAX, got '{text}'")
        t["min"], t["max"] = int(m.group(1)), int(m.group(2))
    elif kind == "bool":
        if len(words) != 1:
            raise SchemaError(f"{where}: bool takes no arguments")
        t["values"] = ["0", "1"]
    else:  # string N / name N: maximum length
        if len(words) != 2 or not words[1].isdigit() or int(words[1]) == 0:
            raise SchemaError(f"{where}: {kind} needs a maximum length, got '{text}'")
        t["max"] = int(words[1])
    return t


def _blocks(text, tag):
    for m in re.finditer(r"^```" + tag + r"\n(.*?)^```", text, re.S | re.M):
        yield text.count("\n", 0, m.start()) + 2, m.group(1)


def load(path):
    text = open(path, encoding="utf-8").read()
    params = {}
    for line_no, body in _blocks(text, "param"):
        for i, line in enumerate(body.splitlines()):
            if not line.strip():
                continue
            m = re.fullmatch(r"(\$[A-Z]+)\s+(\S+(?:\s+\S+)*?)\s{2,}(.*)", line.strip())
            if not m:
                raise SchemaError(f"{path}:{line_no + i}: param line '{line}' is not '$NAME  type  doc'")
            name, ty, doc = m.groups()
            params[name] = {"name": name, "type": parse_type(ty, f"{path}:{line_no + i}"), "doc": doc}

    nodes = []
    seen_ids, seen_paths = set(), set()
    for line_no, body in _blocks(text, "node"):
        node, key = {}, None
        for line in body.splitlines():
            m = re.match(r"^(\w+):\s*(.*)$", line)
            if m:
                key = m.group(1)
                node[key] = m.group(2).strip()
            elif key and line.startswith(" "):
                node[key] += " " + line.strip()
        where = f"{path}:{line_no} ({node.get('id', '?')})"
        for f in FIELDS:
            if not node.get(f):
                raise SchemaError(f"{where}: missing '{f}:'")
        if not re.fullmatch(r"[a-z][a-z0-9-]*[a-zA-Z0-9]", node["id"]):
            raise SchemaError(f"{where}: id must be lower-case words joined by '-'")
        if node["id"] in seen_ids or node["path"] in seen_paths:
            raise SchemaError(f"{where}: duplicate id or path")
        seen_ids.add(node["id"])
        seen_paths.add(node["path"])
        for p in re.findall(r"\$[A-Z]+", node["path"]):
            if p not in params:
                raise SchemaError(f"{where}: path uses {p}, which the param block does not define")
        if not re.fullmatch(r"(/[A-Za-z0-9_$-]+)+", node["path"]):
            raise SchemaError(f"{where}: path '{node['path']}' is not an absolute xenstore path")
        node["type"] = parse_type(node["type"], where)
        nodes.append(node)
    if not nodes:
        raise SchemaError(f"{path}: no node blocks found")
    return params, nodes


def path_regex(template, params=None):
    """Regex matching concrete paths of a template; placeholders match one
    path component fragment (no '/')."""
    out = ""
    for part in re.split(r"(\$[A-Z]+)", template):
        out += "[^/]+" if part.startswith("$") else re.escape(part)
    return out


def c_ident(node_id):
    return "RTV_XS_" + re.sub(r"[^A-Za-z0-9]", "_", node_id).upper()


if __name__ == "__main__":
    try:
        p, n = load(sys.argv[1])
    except SchemaError as e:
        sys.exit(f"schema: {e}")
    print(f"{len(p)} params, {len(n)} nodes")
