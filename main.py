"""Attune command line: one sub-command per job.

    python main.py demo        simulated lab + recording (+ task), no hardware
    python main.py simulate    publish simulated devices on LSL
    python main.py streams     list LSL streams
    python main.py record      record streams into one XDF file

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


def add_demo_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run a short session on simulated devices and record it")
    demo.add_argument("--duration", type=float, default=10.0, help="seconds to record (default 10)")
    demo.add_argument("--root", type=Path, default=Path("recordings"), help="where recordings go")
    demo.add_argument("--participant", default="demo")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Simulated eye tracker, webcam, GSR and markers, recorded to a BIDS path with a summary."""
    import threading

    from acquisition.cli import install_stop_signals
    from acquisition.discovery import resolve
    from acquisition.naming import SessionFields, bids_path, next_free_run, prepare_output
    from acquisition.session import record_session
    from devices.lab import SimulatedLab, load_devices

    configs = load_devices()
    for cfg in configs:
        if cfg.kind == "markers":
            break
    else:
        from devices.lab import DeviceConfig
        configs.append(DeviceConfig("markers", 2.0, "SimMarkers", "attune-sim-markers", 4))
    lab = SimulatedLab(configs)
    lab.start()
    try:
        query = [f"source_id='{cfg.source_id}' or source_id='{cfg.source_id}-expression'" for cfg in configs]
        found = resolve(query, wait=1.0)
        fields = next_free_run(args.root, SessionFields(participant=args.participant, task="demo"))
        path = prepare_output(bids_path(args.root, fields))
        stop = threading.Event()
        install_stop_signals(stop)
        return record_session(path, query, found, stop, args.duration, marker_endpoint=None)
    finally:
        lab.stop()


def build_parser() -> argparse.ArgumentParser:
    import acquisition.cli
    import acquisition.player_cli
    import analysis.cli
    import devices.cli
    import gui.cli
    import stimulus.cli
    import sync.cli

    parser = argparse.ArgumentParser(prog="attune", description="Attune: lab acquisition and stimulus server")
    parser.add_argument("--lsl-config", metavar="PATH",
                        help="liblsl config file (default: loopback-only configs/lsl_loopback.cfg)")
    parser.add_argument("--verbose", "-v", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    add_demo_parser(sub)
    for module in (devices.cli, acquisition.cli, sync.cli, stimulus.cli, gui.cli,
                   acquisition.player_cli, analysis.cli):
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
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
