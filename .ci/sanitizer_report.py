"""Read the ASan / UBSan log files of a sanitizer run and judge them.

Every process of the run writes its reports to files of its own in one
directory (``<prefix>.<pid>.asan`` and ``<prefix>.<pid>.ubsan``, see
.ci/sanitize.sh).  A report is the project's if a frame of its stack (the
stack of the faulty access, not the allocation stacks), or the source
location UBSan prints, lies in the project's tree (``--root``): the C and
Cython sources, the generated C, the built extensions.  Only the project's
code is instrumented, so UBSan reports are always the project's; ASan also
reports what its interceptors (malloc, memcpy, ...) see in uninstrumented
libraries (CPython, NumPy, torch): those are listed and counted, and do not
fail the run.

    python .ci/sanitizer_report.py --root TREE LOGDIR       # exit 1 on a project report
    python .ci/sanitizer_report.py --root TREE LOGDIR --canary PID

``--canary PID`` checks the set-up instead: process PID (a grandchild of the
script, see sanitizer_canary.c) must have written a UBSan misaligned-load
report and an ASan heap-buffer-overflow report, and nothing but reports from
the canary's source.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ASAN_START = re.compile(r"^==(\d+)==(ERROR|WARNING): (.*)$")
UBSAN_START = re.compile(r"^(.*?): runtime error: (.*)$")
SEPARATOR = re.compile(r"^=+$")
# "    #3 0x7f.. in func path/to/file.c:12:5" or "    #3 0x7f.. (/path/lib.so+0x1234)"
FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+(?: in (\S+))?\s*(.*)$")
HEX = re.compile(r"\s*0x[0-9a-fA-F]+")
NUMBER = re.compile(r"(?<![\w.'])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.'])")
SANITIZER_RUNTIME = re.compile(r"(libasan|libubsan|/libsanitizer/|ubsan_log_path)")
LOG_NAME = re.compile(r"^.*\.(\d+)\.(asan|ubsan)$")


@dataclass
class Frame:
    func: str
    path: str        # source file or module, as printed
    where: str       # what follows the function name, as printed


@dataclass
class Report:
    tool: str                  # "asan" or "ubsan"
    pid: int
    kind: str                  # normalised: no addresses (nor values)
    location: str              # UBSan's file:line:col, or "" (see Report.place)
    text: list = field(default_factory=list)

    def stack(self):
        """Frames of the first stack (the faulty access)."""
        frames, started = [], False
        for line in self.text[1:]:
            m = FRAME.match(line)
            if m:
                started = True
                func, rest = m.group(2) or "", m.group(3)
                path = rest.strip("()").split("+0x")[0] if rest.startswith("(") else \
                    re.sub(r":\d+(:\d+)?$", "", rest)
                frames.append(Frame(func, path, rest))
            elif started:
                break
        return frames

    def is_warning(self):
        return self.tool == "asan" and self.text[0].split("==", 2)[-1].startswith("WARNING")


def _normalise(message: str) -> str:
    message = HEX.sub("", message).strip()
    if "misaligned" in message:
        return message            # keep "8 byte alignment"
    return NUMBER.sub("N", message)


def parse_file(path: Path) -> list:
    m = LOG_NAME.match(path.name)
    pid = int(m.group(1)) if m else -1
    default_tool = m.group(2) if m else "asan"
    reports, current = [], None
    for line in path.read_text(errors="replace").splitlines():
        a, u = ASAN_START.match(line), UBSAN_START.match(line)
        if a:
            kind = a.group(3)
            kind = kind.split(" on address")[0].split(" on unknown address")[0]
            kind = _normalise(kind.replace("AddressSanitizer: ", ""))
            current = Report("asan", int(a.group(1)), kind, "", [line])
            reports.append(current)
        elif u:
            current = Report("ubsan", pid, _normalise(u.group(2)), u.group(1), [line])
            reports.append(current)
        elif SEPARATOR.match(line):
            current = None
        elif current is not None:
            current.text.append(line)
        elif line.strip():
            # text outside any report: keep it visible as a report of its own
            current = Report(default_tool, pid, "unparsed output", "", [line])
            reports.append(current)
    for r in reports:
        if r.tool == "asan" and r.kind != "unparsed output":
            for line in r.text:       # "READ of size 8 at 0x.. thread T0"
                access = re.match(r"^(READ|WRITE) of size (\d+)", line)
                if access:
                    r.kind += f" ({access.group(1)} of size {access.group(2)})"
                    break
    return reports


class Classifier:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self._cache: dict = {}

    def is_project(self, path: str) -> bool:
        if not path or path.startswith("<"):
            return False
        if path not in self._cache:
            p = Path(path)
            p = p if p.is_absolute() else self.root / p
            try:
                p = p.resolve()
                self._cache[path] = p.is_relative_to(self.root) and p.exists()
            except (OSError, ValueError):
                self._cache[path] = False
        return self._cache[path]

    def project_frame(self, report: Report):
        """(the place in the project's code, as 'file:line[:col]') or None."""
        if report.location and self.is_project(re.sub(r":\d+(:\d+)?$", "", report.location)):
            return report.location
        for f in report.stack():
            if SANITIZER_RUNTIME.search(f.path):
                continue
            if self.is_project(f.path):
                return f.where.strip("()") if f.where else f.path
        return None


def top_frame(report: Report) -> str:
    for f in report.stack():
        if not SANITIZER_RUNTIME.search(f.path) and not f.func.startswith("__interceptor_"):
            return f"{f.func or '?'} {os.path.basename(f.path)}"
    return report.location or "?"


def _excerpt(report: Report, frames: int = 12) -> str:
    out, n = [], 0
    for line in report.text:
        if FRAME.match(line):
            n += 1
            if n > frames:
                out.append("    ...")
                break
        elif n:
            break
        out.append(line)
    return "\n".join(out)


def judge(logdir: Path, root: Path) -> int:
    files = sorted(p for p in logdir.iterdir() if p.is_file())
    reports = [r for p in files for r in parse_file(p)]
    cls = Classifier(root)
    project = defaultdict(list)     # (place, tool, kind) -> [Report]
    third = defaultdict(list)       # (tool, kind, top frame) -> [Report]
    warnings = defaultdict(list)
    for r in reports:
        if r.is_warning():
            warnings[r.kind].append(r)
            continue
        place = cls.project_frame(r)
        if place is not None:
            project[(place, r.tool, r.kind)].append(r)
        else:
            third[(r.tool, r.kind, top_frame(r))].append(r)

    def pids(rs):
        return len({r.pid for r in rs})

    if project:
        print(f"=== {len(project)} distinct reports from the project's code "
              "(file:line:col, sanitizer, kind: occurrences in processes)")
        for (place, tool, kind), rs in sorted(project.items()):
            print(f"  {place}  [{tool}] {kind}: {len(rs)} in {pids(rs)}")
        print("=== the first occurrence of each:")
        for (place, tool, kind), rs in sorted(project.items()):
            print(f"--- {place} [{tool}] {kind}")
            print(_excerpt(rs[0]))
    if third:
        print(f"=== {len(third)} distinct reports from third-party code (not failing):")
        for (tool, kind, top), rs in sorted(third.items()):
            print(f"  [{tool}] {kind} in {top}: {len(rs)} in {pids(rs)}")
        for (tool, kind, top), rs in sorted(third.items()):
            print(f"--- [{tool}] {kind} in {top}")
            print(_excerpt(rs[0], frames=8))
    if warnings:
        print(f"=== {len(warnings)} distinct sanitizer warnings (not failing):")
        for kind, rs in sorted(warnings.items()):
            print(f"  {kind}: {len(rs)} in {pids(rs)}")
    n_project = sum(map(len, project.values()))
    n_third = sum(map(len, third.values()))
    n_warn = sum(map(len, warnings.values()))
    status = "FAILED" if project else "OK"
    print(f"sanitizer summary: {status}: {n_project} project reports "
          f"({len(project)} distinct), {n_third} third-party reports ({len(third)} distinct), "
          f"{n_warn} warnings, in {len(files)} log files of "
          f"{len({r.pid for r in reports})} processes")
    return 1 if project else 0


def check_canary(logdir: Path, root: Path, pid: int) -> int:
    cls = Classifier(root)
    files = sorted(logdir.glob(f"*.{pid}.*"))
    reports = [r for p in files for r in parse_file(p)]
    found = {(r.tool, r.kind.split(" (")[0].split(" for type")[0])
             for r in reports if cls.project_frame(r)}
    # (UBSan's object-size check may report the overflow too)
    expected = {("asan", "heap-buffer-overflow"), ("ubsan", "load of misaligned address")}
    names = [p.name for p in files]
    if not expected <= found or not all(cls.project_frame(r) for r in reports):
        print(f"sanitizer set-up check FAILED: canary process {pid} wrote {names} with "
              f"{sorted(found)} (all: {[(r.tool, r.kind) for r in reports]}); expected "
              f"{sorted(expected)}")
        for p in logdir.iterdir():
            print(f"--- {p.name}\n{p.read_text(errors='replace')[:3000]}")
        return 1
    print(f"sanitizer set-up OK: a child process ({pid}) reported its misaligned load "
          f"(UBSan) and heap overflow (ASan) in its own log files {names}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logdir", type=Path)
    ap.add_argument("--root", type=Path, required=True,
                    help="the project's tree: frames in it are the project's")
    ap.add_argument("--canary", type=int, metavar="PID",
                    help="check the set-up with the canary's reports (see module doc)")
    args = ap.parse_args(argv)
    if args.canary is not None:
        return check_canary(args.logdir, args.root, args.canary)
    return judge(args.logdir, args.root)


if __name__ == "__main__":
    sys.exit(main())
