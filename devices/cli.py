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
    sim.add_argument("--no-body", action="store_true",
                     help="do not react to task markers (by default the simulated GSR, gaze and expression "
                          "respond to each face a marker server reports on LSL)")
    sim.set_defaults(func=run_simulate)
    group = subparsers.add_parser("devices", help="real devices: list, check, run")
    devices_sub = group.add_subparsers(dest="devices_command", required=True)
    from devices import check_cli
    check_cli.register(devices_sub)


def run_simulate(args: argparse.Namespace) -> int:
    from devices.body import MarkerFollower, SimulatedBody
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
    follower = None if args.no_body else MarkerFollower(SimulatedBody(lab))
    if follower is not None:
        follower.start()
    print("publishing: " + ", ".join(lab.stream_names), flush=True)
    stop.wait(args.duration)
    if follower is not None:
        follower.stop()
    lab.stop()
    return 0
