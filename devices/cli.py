"""``main.py simulate`` (the simulated devices) and the ``main.py devices ...`` group (real devices).

A module joins the ``devices`` group by being named in DEVICE_SUBCOMMANDS
and having ``register(group)``, where ``group`` is the group's subparsers.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from pathlib import Path

from configs import ConfigError

# modules with register(group) that add a `main.py devices <name>` command
DEVICE_SUBCOMMANDS = ("devices.webcam_cli", "devices.check_cli")


def register_devices_group(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    devices = subparsers.add_parser("devices", help="real devices: list, check, run, webcam")
    group = devices.add_subparsers(dest="device_command", required=True, metavar="DEVICE_COMMAND")
    for name in DEVICE_SUBCOMMANDS:
        importlib.import_module(name).register(group)
    return group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_devices_group(subparsers)
    sim = subparsers.add_parser("simulate", help="publish simulated eye tracker, GSR and webcam streams")
    sim.add_argument("--devices", type=Path, help="devices YAML (default: configs/devices.yaml)")
    sim.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C / SIGTERM)")
    sim.add_argument("--no-body", action="store_true",
                     help="do not react to task markers (by default the simulated GSR, gaze and expression "
                          "respond to each face a marker server reports on LSL)")
    sim.set_defaults(func=run_simulate)


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
