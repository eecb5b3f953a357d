"""``main.py analyze FILE.xdf|DIR``: per-trial tables, cohort statistics, figures and a report.

    main.py analyze recordings/ --out analysis_out [--participants participants.tsv] [--runs all]

Every .xdf under a directory is analysed; a file that cannot be (not XDF,
no marker stream) is listed in the report with the reason and the rest go
on (exit 0 as long as one recording was analysed, 2 when none could be).
Groups come from a participants.tsv (given, or found in the folder).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stimulus.protocol import DEFAULT_WINDOW_SIZE


def _pair(text: str, kind=float) -> tuple:
    try:
        a, b = text.lower().split("x")
        return kind(a), kind(b)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 1280x800, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
    an = subparsers.add_parser("analyze", help="per-trial table, summary, plots and report from XDF recordings")
    an.add_argument("inputs", nargs="+", type=Path, metavar="FILE.xdf|DIR")
    an.add_argument("--out", type=Path, default=Path("analysis_out"), help="output folder (default analysis_out)")
    an.add_argument("--participants", type=Path, metavar="TSV",
                    help="participants.tsv with participant_id and group (default: one found in the input folder)")
    an.add_argument("--runs", choices=("latest", "all"), default="latest",
                    help="several runs of one participant/session/task: use the latest (default) or all, "
                         "each with its run number")
    geo = an.add_argument_group("display geometry (for gaze regions and visual angle)")
    geo.add_argument("--screen", type=lambda s: _pair(s, int), default=DEFAULT_WINDOW_SIZE, metavar="WxH",
                     help="stimulus window size in pixels (default {}x{})".format(*DEFAULT_WINDOW_SIZE))
    geo.add_argument("--face-height", type=float, default=0.55,
                     help="face height as a fraction of the window height (protocol display.face_height)")
    geo.add_argument("--screen-cm", type=_pair, default=(47.4, 29.6), metavar="WxH",
                     help="physical screen size in cm (default 47.4x29.6)")
    geo.add_argument("--distance-cm", type=float, default=65.0, help="eye-to-screen distance (default 65)")
    an.set_defaults(func=run_analyze)


def find_files(inputs: list[Path]) -> tuple[list[Path], list[str]]:
    files, problems = [], []
    for item in inputs:
        if item.is_dir():
            found = sorted(item.rglob("*.xdf"))
            if not found:
                problems.append(f"{item}: no .xdf files in this folder")
            files.extend(found)
        elif item.exists():
            files.append(item)
        else:
            problems.append(f"{item}: no such file or folder")
    return files, problems


def run_analyze(args: argparse.Namespace) -> int:
    from analysis.cohort import choose_runs, find_participants, read_participants
    from analysis.feedback import session_row
    from analysis.fixations import Viewing
    from analysis.recording import AnalysisError, load
    from analysis.regions import Display
    from analysis.report import Analysed, write_outputs
    from analysis.trials import Settings, table

    settings = Settings(Display(args.screen[0], args.screen[1], args.face_height),
                        Viewing(args.screen_cm[0], args.screen_cm[1], args.distance_cm))
    files, failures = find_files(args.inputs)
    for problem in failures:
        print(f"error: {problem}", file=sys.stderr)
    groups_source = args.participants or find_participants(args.inputs)
    groups = {}
    if groups_source is not None:
        try:
            groups = read_participants(groups_source)
        except (OSError, ValueError) as exc:
            print(f"error: participants file: {exc}", file=sys.stderr)
            return 2
    chosen = choose_runs(files, args.runs)
    for path, why in chosen.skipped:
        print(f"note: {path.name} skipped: {why}", file=sys.stderr)
    files = chosen.files
    done = []
    feedback_rows = []  # training sessions with live feedback
    for i, path in enumerate(files, 1):
        began = time.monotonic()
        print(f"[{i}/{len(files)}] {path.name}: reading", file=sys.stderr, flush=True)
        try:
            rec = load(path)
            print(f"[{i}/{len(files)}] {path.name}: {len(rec.markers)} markers; fixations, SCRs, dwell",
                  file=sys.stderr, flush=True)
            rows = table(rec, settings)
        except AnalysisError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures.append(str(exc))
            continue
        for note in rec.notes:
            print(f"warning: {path.name}: {note}", file=sys.stderr)
        if not rows:
            note = "no face_onset markers: no trials to analyse"
            print(f"warning: {path.name}: {note}", file=sys.stderr)
            rec.notes.append(note)
        done.append(Analysed(path, rows, rec.notes, task_speed(rec.markers)))
        session = session_row(rec.markers, rec.labels)
        if session is not None:
            feedback_rows.append(session)
        print(f"[{i}/{len(files)}] {path.name}: {len(rows)} faces in {time.monotonic() - began:.1f} s",
              file=sys.stderr, flush=True)
    if not done:
        print("error: nothing could be analysed", file=sys.stderr)
        return 2
    try:
        report = write_outputs(args.out, done, failures, chosen.skipped, groups, groups_source, args.runs,
                               feedback_rows=feedback_rows)
    except OSError as exc:
        print(f"error: cannot write the report into {args.out}: {exc}", file=sys.stderr)
        return 2
    if failures:
        print(f"warning: {len(failures)} file(s) not analysed; listed in the report", file=sys.stderr)
    print(f"report: {report} and {report.with_suffix('.html')}")
    return 0


def task_speed(markers: list[tuple[float, dict]]) -> float:
    """The speed the task ran at, from its protocol_start marker (NaN when not said)."""
    for _, m in markers:
        if m.get("event") == "protocol_start":
            try:
                return float(m.get("speed"))
            except (TypeError, ValueError):
                break
    return float("nan")
