"""``main.py replay FILE.xdf``: re-publish a recording on LSL as if it were live.

    main.py replay sub-01_task-rating.xdf --speed 2 --start 60 --stream Gaze --stream Markers

A progress bar shows the session time; Ctrl-C (or SIGTERM) stops cleanly and
withdraws the outlets.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TextIO


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
    rep = subparsers.add_parser("replay", help="re-publish an XDF recording as live LSL streams")
    rep.add_argument("file", type=Path, help="the .xdf recording")
    rep.add_argument("--speed", type=float, default=1.0,
                     help="playback speed, e.g. 0.5 or 4 (default 1; the player refuses speeds outside its range)")
    rep.add_argument("--start", type=float, default=0.0, metavar="SECONDS",
                     help="session time to start from (default 0)")
    rep.add_argument("--loop", action="store_true", help="start again at the end, until stopped")
    rep.add_argument("--stream", action="append", default=[], metavar="NAME_OR_TYPE",
                     help="replay only streams with this name or type (repeatable; default: all)")
    rep.add_argument("--lead-in", type=float, default=1.0, metavar="SECONDS",
                     help="publish the outlets this long before the first sample, so viewers and "
                          "recorders can connect (default 1)")
    rep.add_argument("--linger", type=float, default=2.0, metavar="SECONDS",
                     help="keep the outlets this long after the last sample (ending early when no "
                          "consumer is connected), so recorders receive the tail (default 2)")
    rep.set_defaults(func=run_replay)


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:d}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes:02d}:{secs:04.1f}"


def progress_bar(position: float, duration: float, speed: float, laps: int, width: int = 30) -> str:
    frac = position / duration if duration > 0 else 1.0
    filled = int(round(frac * width))
    lap = f"  lap {laps + 1}" if laps else ""
    return f"[{'#' * filled}{'.' * (width - filled)}] {clock_text(position)} / {clock_text(duration)}" \
           f"  x{speed:g}{lap}"


def run_replay(args: argparse.Namespace) -> int:
    from acquisition.player import Player
    from acquisition.xdf_index import XDFError

    try:
        player = Player(args.file, args.stream or None, speed=args.speed, start=args.start, loop=args.loop)
    except (XDFError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    warn_about_damage(player.index)
    for s in player.streams:
        rate = f"{s.nominal_srate:g} Hz" if s.nominal_srate > 0 else "irregular"
        print(f"publishing {s.name} ({s.type}, {s.channel_count} ch {s.channel_format}, {rate})",
              file=sys.stderr)
    try:
        player.open()
        if stop.wait(max(0.0, args.lead_in)):
            return 0
        player.play()
        show_progress(player, stop, sys.stderr)
        linger(player, stop, args.linger)
    finally:
        player.close()
    if player.error:
        print(f"error: replay failed: {player.error}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{name}: {n}" for name, n in player.pushed().items())
    print(f"replayed {clock_text(player.position)} of {args.file.name} ({counts})", file=sys.stderr)
    return 0


def warn_about_damage(index) -> None:
    """Say on stderr what the reader skipped, naming the file and each damaged part."""
    if index.problems:
        print(f"warning: {index.summary()}", file=sys.stderr)
    if index.truncated:
        print(f"warning: {index.path} ends inside a chunk (cut off); read up to its last whole chunk",
              file=sys.stderr)


def linger(player, stop: threading.Event, seconds: float) -> None:
    """After the last sample, keep the outlets while consumers are connected, up to ``seconds``.

    LSL delivers a chunk to an inlet after the push returns; withdrawing the
    outlet at once can cut the tail off a recording of the replay.
    """
    if player.state != "finished":
        return
    deadline = time.monotonic() + max(0.0, seconds)
    while time.monotonic() < deadline and player.has_consumers() and not stop.wait(0.05):
        pass


def show_progress(player, stop: threading.Event, out: TextIO) -> None:
    """Redraw the bar on a terminal, a line every 5 s otherwise, until the end or ``stop``."""
    interactive = out.isatty()
    last_line = 0.0
    while not stop.is_set() and not player.wait(0.2):
        now = time.monotonic()
        line = progress_bar(player.position, player.duration, player.speed, player.laps)
        if interactive:
            out.write("\r" + line)
            out.flush()
        elif now - last_line >= 5.0:
            out.write(line + "\n")
            last_line = now
    line = progress_bar(player.position, player.duration, player.speed, player.laps)
    out.write(("\r" + line + "\n") if interactive else line + "\n")
    out.flush()
