"""Attune command line: one sub-command per job.

    python main.py demo        a simulated study visit: tasks, devices, recordings
    python main.py simulate    publish simulated devices on LSL
    python main.py streams     list LSL streams
    python main.py record      record streams into one XDF file
    python main.py replay      re-publish an XDF file on LSL
    python main.py repair      a readable copy of a crashed or damaged XDF file
    python main.py analyze     cohort analysis: statistics, figures, report
    python main.py export-bids recordings as a BIDS dataset

LSL discovery stays on this machine unless ``--lsl-config`` names a lab
config: the loopback config is set before pylsl is first imported.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from configs import use_lsl_config


def lsl_config_argument(argv: list[str]) -> str | None:
    """Read --lsl-config early: it must take effect before any module imports pylsl."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lsl-config")
    known, _ = early.parse_known_args(argv)
    return known.lsl_config


def build_parser() -> argparse.ArgumentParser:
    import acquisition.cli
    import acquisition.player_cli
    import acquisition.repair_cli
    import analysis.bids
    import analysis.cli
    import demo
    import devices.cli
    import gui.cli
    import stimulus.cli
    import sync.cli

    parser = argparse.ArgumentParser(prog="attune", description="Attune: lab acquisition and stimulus server")
    parser.add_argument("--lsl-config", metavar="PATH",
                        help="liblsl config file (default: loopback-only configs/lsl_loopback.cfg)")
    parser.add_argument("--verbose", "-v", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    demo.add_parser(sub)
    for module in (devices.cli, acquisition.cli, sync.cli, stimulus.cli, gui.cli,
                   acquisition.player_cli, acquisition.repair_cli, analysis.cli, analysis.bids):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = lsl_config_argument(argv)
    if config is not None and not Path(config).is_file():
        print(f"error: --lsl-config {config}: no such file", file=sys.stderr)
        return 2
    use_lsl_config(config)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C before a command took the signal over: no traceback
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
