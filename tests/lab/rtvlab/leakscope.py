"""The scope leak-check compares across a move (tests/lab/leak-scope-move).

The xenstore part is rtvirt's contract, so it is read from the contract
itself, xenstore-schema/rtvirt-paths.md, when the runner fills the share:
one pattern per node, matching leak-check's xenstore lines ("PATH (PERMS)",
values dropped) of that node.  A node added to the contract is compared
with no change here.
"""
import os
import re
import sys

from . import flightdef

REPO = os.path.dirname(os.path.dirname(flightdef.LAB_DIR))
SCHEMA_DIR = os.path.join(REPO, "xenstore-schema")
SCOPE_FILE = os.path.join(flightdef.LAB_DIR, "leak-scope-move")


def node_pattern(template):
    """An ERE for leak-check's line of a node: $DOMID is the guest's domain
    as LEAK_DOMAIN writes it, $BEDOMID dom0 (the lab's only backend domain),
    every other placeholder one path component."""
    out = ""
    for part in re.split(r"(\$[A-Z]+)", template):
        if part == "$DOMID":
            out += "<dom>"
        elif part == "$BEDOMID":
            out += "0"
        elif part.startswith("$"):
            out += "[^/ ]+"
        else:
            out += re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", part)
    return "^" + out + " "


def contract_lines():
    sys.path.insert(0, SCHEMA_DIR)
    try:
        import schema
    finally:
        sys.path.pop(0)
    _, nodes = schema.load(os.path.join(SCHEMA_DIR, "rtvirt-paths.md"))
    return ["xenstore " + node_pattern(n["path"]) for n in nodes]


def write(dst):
    with open(SCOPE_FILE) as f:
        text = f.read()
    lines = contract_lines()
    with open(dst, "w") as f:
        f.write(text)
        f.write("# ---- the contract's nodes (appended by the runner from %s)\n"
                % os.path.relpath(os.path.join(SCHEMA_DIR, "rtvirt-paths.md"), REPO))
        f.write("".join(l + "\n" for l in lines))
    return len(lines)
