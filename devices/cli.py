"""``main.py simulate``: run the simulated devices as LSL outlets until stopped."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from configs import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser("simulate", help="publish simulated eye tracker, GSR and webcam streams")
    sim.add_argument("--devices", type=Path, help="devices YAML (default: configs/devices.yaml)")
    sim.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C / SIGTERM)")
    sim.set_defaults(func=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    from devices.lab import DEFAULT_DEVICES, SimulatedLab, load_devices

    try:
        configs = load_devices(args.devices or DEFAULT_DEVICES)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lab = SimulatedLab(configs)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lab.start()
    print("publishing: " + ", ".join(lab.stream_names), flush=True)
    stop.wait(args.duration)
    lab.stop()
    return 0
