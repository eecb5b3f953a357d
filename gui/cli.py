"""Command-line sub-command for the control panel (``main.py gui``).

Qt is imported only when the panel opens: every command-line module is
loaded at start, and the headless commands must not need a display.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sync.protocol import DEFAULT_ENDPOINT


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
    from devices.lab import DEFAULT_DEVICES

    gui = subparsers.add_parser("gui", help="open the control panel (live signals, markers, recording)")
    gui.add_argument("--root", type=Path, default=Path("recordings"), help="folder for recordings")
    gui.add_argument("--markers", default=DEFAULT_ENDPOINT,
                     help="ZeroMQ endpoint the marker server listens on while recording")
    gui.add_argument("--devices", type=Path, default=DEFAULT_DEVICES,
                     help="simulated devices started by the panel (default configs/devices.yaml)")
    gui.add_argument("--query", "-q", action="append", default=[],
                     help="LSL predicate: show and record only matching streams (repeatable; default all)")
    gui.add_argument("--simulate", action="store_true", help="start the simulated devices at once")
    gui.add_argument("--replay", type=Path, metavar="FILE.xdf",
                     help="open this recording in the panel's replay mode (press Play to start)")
    gui.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gui.display_check import window_problem

    problem = window_problem()
    if problem is not None and not problem.off_screen:  # Qt would abort the process with a vaguer message
        print(f"error: the control panel cannot open: {problem.reason}", file=sys.stderr)
        return 2
    try:
        from PyQt6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"error: the control panel needs PyQt6 ({exc})", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Attune")
    from gui.panel import ControlPanel

    panel = ControlPanel(root=args.root, marker_endpoint=args.markers, devices=args.devices,
                         queries=args.query)
    if args.simulate:
        panel.session.devices_button.setChecked(True)
    if args.replay is not None:
        panel.replay.open_file(args.replay)
    panel.show()
    return app.exec()
