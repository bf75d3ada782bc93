#!/usr/bin/env python3
"""Mutation check of a core module against its unit test.

    mutate.py [--cc CC] [--cflags "..."] [--libs "..."] --lib LIB
              [--equivalent FILE] SOURCE:TEST_SOURCE[,TEST_SOURCE...] ...

For each SOURCE, every line of code is mutated in turn, one small change at
a time (a comparison or logical operator turned around, a constant 0/1 or
true/false flipped, + and - swapped, a `!` dropped, a statement removed).
Each mutant is compiled together with each TEST_SOURCE and linked before
LIB (so the mutated object replaces the module's own), and the tests are
run; a mutant that any of them catches is killed, one they all still pass
"survived": either the tests do not look at
what that line does, or the change makes no difference (an equivalent
mutant). Equivalent mutants are listed, with the reason, in the
--equivalent file as `SOURCE:LINE-TEXT<TAB>MUTATED-TEXT<TAB>why`; they are
reported but do not fail the run.  A line whose text occurs more than once
in SOURCE is named `SOURCE#N:LINE-TEXT`, its Nth occurrence (1-based): the
same text elsewhere may do something a test must see, so an unnumbered
entry for such a line is refused. Mutants that do not compile are not
counted.

Exit status: 0 if no mutant survived except the listed equivalent ones.
Nothing in the tree is modified: mutants are written to a temporary
directory, with a snapshot of LIB and the test sources taken at the start
(headers under tests/unit are still read from the tree).
"""
import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

# (pattern, replacement): applied one occurrence at a time.
OPERATORS = [
    (r"(?<![=!<>])==(?!=)", "!="),
    (r"!=", "=="),
    (r"(?<![<-])<=", "<"),
    (r"(?<![<-])<(?![<=])", "<="),
    (r"(?<![>-])>=", ">"),
    (r"(?<![>-])>(?![>=])", ">="),
    (r"&&", "||"),
    (r"\|\|", "&&"),
    (r"\btrue\b", "false"),
    (r"\bfalse\b", "true"),
    (r"(?<![\w.])0(?![\w.x])", "1"),
    (r"(?<![\w.])1(?![\w.])", "0"),
    (r"(?<![+\-=])\+(?![+=])", "-"),
    (r"(?<![+\-=>])-(?![\->=])", "+"),
    (r"\+\+", "--"),
    (r"!(?=[\w(])", ""),
    (r"(?<![|])\|(?![|=])", "&"),
]

SKIP = re.compile(r"^\s*(#|//|/\*|\*|assert\(|static const char|__attribute__)")


def code_part(line):
    """The part of a line that is code (drops a trailing comment and string
    literals are kept out of mutation by masking)."""
    cut = line.find("/*")
    if cut >= 0:
        line = line[:cut]
    cut = line.find("//")
    if cut >= 0:
        line = line[:cut]
    return line


def string_spans(line):
    """Spans left alone: string literals, and sizeof(...) (sizeof(a[0]) and
    sizeof(a[1]) are the same)."""
    return [(m.start(), m.end())
            for m in re.finditer(r'"(?:[^"\\]|\\.)*"|\bsizeof\s*\([^()]*\)', line)]


def mutants_of_line(line):
    code = code_part(line)
    spans = string_spans(code)
    seen = set()
    for pat, rep in OPERATORS:
        for m in re.finditer(pat, code):
            if any(a <= m.start() < b for a, b in spans):
                continue
            new = line[:m.start()] + rep + line[m.end():]
            if new != line and new not in seen:
                seen.add(new)
                yield new
    stripped = code.strip()
    # Statement removal: a call or assignment on one line, not a
    # declaration, return, or control line.
    if (stripped.endswith(";") and not re.match(r"(return|break|continue|goto)\b", stripped)
            and re.search(r"(\w\s*\(|[^=!<>]=[^=]|\+\+|--)", stripped)
            and not re.match(r"(const\s+)?(static\s+)?(struct\s+\w+|enum\s+\w+|unsigned|int|bool|uint\d+_t|char|size_t|va_list)\b[^(]*[=;]", stripped)):
        indent = line[:len(line) - len(line.lstrip())]
        yield indent + ";\n"


def mutable_lines(lines):
    depth = 0
    in_comment = False
    for i, line in enumerate(lines):
        s = line.strip()
        if in_comment:
            if "*/" in s:
                in_comment = False
            continue
        if s.startswith("/*") and "*/" not in s:
            in_comment = True
            continue
        opened = line.count("{") - line.count("}")
        inside = depth > 0
        depth += opened
        if not inside or not s or SKIP.match(line):
            continue
        yield i


def kill_strays(exe):
    """Kills what is left running of the test program exe.  Check runs each
    forked test in a process group of its own (setpgid in the child, so
    that it can kill it at the test's timeout); when the program itself is
    killed at our timeout (a mutant that loops, with more tests to run than
    fit in it), the test running then is in no group we know and goes on
    looping, orphaned (seen: one at 100% CPU for 9 minutes).  It is found
    by its executable: exe is this run's own path (rebuilt in place for
    each mutant, hence " (deleted)")."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/exe") in (exe, exe + " (deleted)"):
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def build_and_run(cc, cflags, libs, lib, test_srcs, mutant_path, exe, timeout):
    """"killed" if any of the tests fails, "survived" if all pass."""
    env = dict(os.environ, CK_DEFAULT_TIMEOUT="5")
    for test_src in test_srcs:
        cmd = [cc] + cflags + ["-o", exe, test_src, mutant_path, lib] + libs
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return "not-viable"
        # Its own process group: a mutant that loops leaves Check's forked
        # test children behind, and they must go with it.
        p = subprocess.Popen([exe], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = -1
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        kill_strays(exe)
        if rc != 0:
            return "killed"
    return "survived"


def load_equivalent(path):
    eq = {}
    if not path or not os.path.exists(path):
        return eq
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            sys.exit(f"{path}:{n}: want SOURCE[#N]:LINE-TEXT<TAB>MUTATED-TEXT<TAB>why")
        eq[(parts[0], parts[1])] = (parts[2], f"{path}:{n}")
    return eq


def line_key(src, lines, i):
    """The equivalent file's name for line i of src: SOURCE:TEXT, or
    SOURCE#N:TEXT when TEXT is on more than one line (the Nth of them)."""
    text = lines[i].strip()
    if sum(1 for l in lines if l.strip() == text) == 1:
        return f"{src}:{text}"
    nth = sum(1 for l in lines[:i + 1] if l.strip() == text)
    return f"{src}#{nth}:{text}"


def check_equivalent_names(src, lines, equivalent):
    """Refuses an entry for src whose text names no line, or several."""
    for (name, _), (_, where) in equivalent.items():
        file, _, text = name.partition(":")
        base, _, nth = file.partition("#")
        if base != src:
            continue
        at = [i + 1 for i, l in enumerate(lines) if l.strip() == text]
        if not at:
            continue       # reported as stale: not seen surviving
        if not nth and len(at) > 1:
            sys.exit(f"{where}: '{text}' is on lines {', '.join(map(str, at))} of {src}: "
                     f"name one as {src}#N:... (N from 1 to {len(at)})")
        if nth and not (nth.isdigit() and 1 <= int(nth) <= len(at)):
            sys.exit(f"{where}: {file}: '{text}' is on {len(at)} line(s) of {src}: "
                     f"N must be 1 to {len(at)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--cflags", default="")
    ap.add_argument("--libs", default="")
    ap.add_argument("--lib", required=True)
    ap.add_argument("--equivalent")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("pairs", nargs="+")
    a = ap.parse_args()
    cflags, libs = shlex.split(a.cflags), shlex.split(a.libs)
    equivalent = load_equivalent(a.equivalent)
    used_equivalent = set()
    survivors = 0
    with tempfile.TemporaryDirectory(prefix="rtv-mutate-") as tmp:
        exe = os.path.join(tmp, "test")
        # A snapshot of the library and the tests: the tree may be edited
        # (and rebuilt) while this runs.
        snap = os.path.join(tmp, "snap")
        os.mkdir(snap)
        lib = os.path.join(snap, os.path.basename(a.lib))
        shutil.copyfile(a.lib, lib)
        copies = {}
        for pair in a.pairs:
            for t in pair.split(":")[1].split(","):
                if t not in copies:
                    copies[t] = os.path.join(snap, f"{len(copies)}-{os.path.basename(t)}")
                    shutil.copyfile(t, copies[t])
        for pair in a.pairs:
            src, tests = pair.split(":")
            test_src = [copies[t] for t in tests.split(",")]
            lines = open(src, encoding="utf-8").readlines()
            check_equivalent_names(src, lines, equivalent)
            base = os.path.basename(src)
            mutant_path = os.path.join(tmp, base)
            # The unmutated module must pass, or nothing below means anything.
            with open(mutant_path, "w", encoding="utf-8") as f:
                f.writelines(lines)
            if build_and_run(a.cc, cflags, libs, lib, test_src, mutant_path, exe, a.timeout) != "survived":
                sys.exit(f"{src}: {tests} do not pass (or build) on the unmutated module")
            counts = {"killed": 0, "survived": 0, "not-viable": 0, "equivalent": 0}
            for i in mutable_lines(lines):
                for new in mutants_of_line(lines[i]):
                    mutated = lines[:i] + [new] + lines[i + 1:]
                    with open(mutant_path, "w", encoding="utf-8") as f:
                        f.writelines(mutated)
                    verdict = build_and_run(a.cc, cflags, libs, lib, test_src,
                                            mutant_path, exe, a.timeout)
                    key = (line_key(src, lines, i), new.strip())
                    if verdict == "survived" and key in equivalent:
                        verdict = "equivalent"
                        used_equivalent.add(key)
                    counts[verdict] += 1
                    if verdict == "survived":
                        survivors += 1
                        print(f"SURVIVED {src}:{i + 1}: {lines[i].strip()}  =>  {new.strip()}"
                              f"  (equivalent.txt name: {key[0]})")
            print(f"{src} ({tests}): {counts['killed']} killed, {counts['survived']} survived, "
                  f"{counts['equivalent']} equivalent (listed), {counts['not-viable']} not compiled")
    run = {pair.split(":")[0] for pair in a.pairs}
    stale = {k for k in set(equivalent) - used_equivalent
             if k[0].split(":", 1)[0].split("#", 1)[0] in run}
    for key in sorted(stale):
        print(f"note: listed as equivalent but not seen surviving: {key[0]} => {key[1]}")
    print(f"mutation: {survivors} survived")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
