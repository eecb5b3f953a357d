"""``main.py repair FILE.xdf [--out FIXED.xdf]``: a readable copy of a crashed or damaged recording."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
    rep = subparsers.add_parser(
        "repair", help="write a repaired copy of a crashed or damaged XDF file (the input is never changed)",
        description="Copy every whole chunk of FILE, skip damaged ones (each is reported), and add the "
                    "StreamFooters a crash left out, recomputed from the data.")
    rep.add_argument("file", type=Path, help="the damaged .xdf recording (only read)")
    rep.add_argument("--out", type=Path,
                     help="where to write the copy (default: FILE_repaired.xdf beside it; never overwritten)")
    rep.set_defaults(func=run_repair)


class ProgressLine:
    """Percent done on stderr: redrawn on a terminal, a line every 10 % otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.interactive = out, out.isatty()
        self.shown, self.last_draw = -1, 0.0

    def __call__(self, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        now = time.monotonic()
        if self.interactive and (percent != self.shown and now - self.last_draw > 0.1 or percent == 100):
            self.out.write(f"\rcopying: {percent:3d}% ({done / 2**20:.1f} of {total / 2**20:.1f} MB)")
            if percent == 100:
                self.out.write("\n")
            self.out.flush()
            self.last_draw = now
        elif not self.interactive and percent // 10 != self.shown // 10:
            self.out.write(f"copying: {percent}% ({done / 2**20:.1f} of {total / 2**20:.1f} MB)\n")
        self.shown = percent


def run_repair(args: argparse.Namespace) -> int:
    from acquisition.xdf_index import XDFError
    from acquisition.xdf_repair import repair

    if not args.file.is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    try:
        report = repair(args.file, args.out, progress=ProgressLine(sys.stderr))
    except XDFError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line, file=sys.stderr)
    return 0
