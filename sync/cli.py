"""Command-line sub-commands of the marker bus (``main.py markers ...``).

    markers send EVENT [--field k=v ...] [--endpoint tcp://127.0.0.1:5556] [--keys DIR --key-name NAME]
    markers listen [--endpoint ...] [--allow-network] [--keys DIR | --no-auth] [--seconds N]
    keys make NAME [--dir keys]      a CurveZMQ key pair for a network marker bus
    keys list [--dir keys]

``send`` waits until the server has recorded the marker (or says it was
not delivered and exits 1), so a shell script can rely on it. ``listen``
runs a marker server that prints what arrives, for checking an experiment
script without a recording. Each parser sets ``func(args) -> int``.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from .keys import DEFAULT_KEYS_DIR, KeyFileError
from .protocol import DEFAULT_ENDPOINT


def parse_field(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it is JSON (3, 2.5, true, null, [1,2])
    and as text otherwise, so ``stimulus=id3.png`` needs no quotes and ``code='"007"'`` stays text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(raw, parse_constant=no_constants)
    except ValueError:
        value = raw
    return key, value


def add_client_key_arguments(parser: argparse.ArgumentParser) -> None:
    """--keys/--key-name for a sender talking to a marker server that needs CurveZMQ keys."""
    parser.add_argument("--keys", type=Path, metavar="DIR",
                        help="CurveZMQ key folder holding server.key and this sender's pair (see 'keys make')")
    parser.add_argument("--key-name", default="stimulus", metavar="NAME",
                        help="this sender's key pair in --keys (default stimulus)")


def client_keys_from(args: argparse.Namespace) -> Any:
    """The ClientKeys named on the command line, or None; raises ValueError naming the file."""
    if getattr(args, "keys", None) is None:
        return None
    from .keys import client_keys

    try:
        return client_keys(args.keys, args.key_name)
    except KeyFileError as exc:
        raise ValueError(f"--keys: {exc}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
    markers = subparsers.add_parser("markers", help="send or watch stimulus markers (ZeroMQ marker bus)",
                                    description="Stimulus markers over ZeroMQ, see docs/markers.md.")
    sub = markers.add_subparsers(dest="markers_command", metavar="{send,listen}", required=True)

    send = sub.add_parser("send", help="send one marker and wait until it is recorded")
    send.add_argument("event", help="event name, e.g. trial_start")
    send.add_argument("--field", "-f", action="append", default=[], type=parse_field, metavar="KEY=VALUE",
                      help="a field of the marker (repeatable); JSON values are typed: morph=5")
    send.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"server address (default {DEFAULT_ENDPOINT})")
    send.add_argument("--sender-id", default="cli", help="sender id, names the recorded stream (default cli)")
    send.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the server (default 3)")
    add_client_key_arguments(send)
    send.set_defaults(func=run_send)

    listen = sub.add_parser("listen", help="run a marker server that prints what arrives (nothing is recorded)",
                            description="Check an experiment script without recording: markers are acknowledged "
                                        "and printed, in each sender's order, with the sender's clock time; "
                                        "clock estimates are printed once as they are made.")
    listen.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"address to bind (default {DEFAULT_ENDPOINT})")
    listen.add_argument("--allow-network", action="store_true",
                        help="allow binding beyond loopback (e.g. tcp://0.0.0.0:5556) for a stimulus computer")
    listen.add_argument("--keys", type=Path, metavar="DIR",
                        help="CurveZMQ key folder: accept only senders whose public key is there")
    listen.add_argument("--no-auth", action="store_true",
                        help="with --allow-network, accept markers from anyone on the network")
    listen.add_argument("--max-senders", type=int, default=None, metavar="N",
                        help="sender ids accepted at most; more are refused")
    listen.add_argument("--no-relay", action="store_true", help="do not republish markers on LSL")
    listen.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    listen.set_defaults(func=run_listen)

    keys = subparsers.add_parser("keys", help="make and list CurveZMQ keys for a marker bus open to the network",
                                 description="Keys for --markers-allow-network, see docs/markers.md.")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="{make,list}", required=True)
    make = keys_sub.add_parser("make", help="make a key pair NAME.key (public) and NAME.key_secret")
    make.add_argument("name", help="'server' for the recorder; any other name for a sender, e.g. stimulus")
    make.add_argument("--dir", type=Path, default=DEFAULT_KEYS_DIR, help=f"key folder (default {DEFAULT_KEYS_DIR})")
    make.set_defaults(func=run_keys_make)
    show = keys_sub.add_parser("list", help="list the keys in a folder")
    show.add_argument("--dir", type=Path, default=DEFAULT_KEYS_DIR, help=f"key folder (default {DEFAULT_KEYS_DIR})")
    show.set_defaults(func=run_keys_list)


def run_send(args: argparse.Namespace) -> int:
    from .client import MarkerClient

    try:
        client = MarkerClient(args.endpoint, sender_id=args.sender_id, keys=client_keys_from(args))
    except ValueError as exc:
        print(f"markers send: {exc}", file=sys.stderr)
        return 2
    try:
        seq = client.send(args.event, **dict(args.field))
    except ValueError as exc:
        client.close(0)
        print(f"markers send: {exc}", file=sys.stderr)
        return 2
    undelivered = client.close(args.timeout, warn=False)  # reported here, once
    if undelivered:
        if client.refused:
            why = f"the server refused it ({client.refused.reason}: {client.refused.detail})"
        elif client.handshake_error:
            why = client.handshake_error
        else:
            why = f"no answer within {args.timeout:g} s; is the server running?"
        print(f"markers send: {args.event!r} (seq {seq}) was not delivered to {args.endpoint}: {why}",
              file=sys.stderr)
        return 1
    print(f"{args.event} recorded by {args.endpoint} (sender {args.sender_id}, seq {seq})")
    return 0


class _PrintStream:
    """One recorded stream, printed: markers with their stamp, clock estimates as a note."""

    def __init__(self, name: str, is_clock: bool) -> None:
        self.name = name
        self.is_clock = is_clock

    def push(self, stamps: list[float], values: list[list[str]]) -> None:
        for stamp, value in zip(stamps, values):
            if self.is_clock:  # the estimate the recorder would store, once (stamped on the sender's clock)
                print(f"{'':>17} {self.name}: clock estimate {_clock_text(value[0])}", flush=True)
            else:
                print(f"{stamp:17.6f} {self.name} {value[0]}", flush=True)

    def clock_offset(self, collection_time: float, offset: float) -> None:
        """The same estimate again as an XDF ClockOffset; already printed from the clock stream."""


def _clock_text(record: str) -> str:
    try:
        est = json.loads(record)
        return (f"offset {est['offset'] * 1e3:+.3f} ms, uncertainty {est['uncertainty'] * 1e3:.3f} ms "
                "(add to the sender's stamps for this computer's clock)")
    except (ValueError, KeyError, TypeError):
        return record


class PrintSink:
    """A sink that prints markers (on the sender's clock) and clock estimates instead of recording them."""

    def add_stream(self, info_xml: str, fmt: str, nominal_srate: float) -> _PrintStream:
        import xml.etree.ElementTree as ET

        from .streams import CLOCK_TYPE

        info = ET.fromstring(info_xml.split("?>", 1)[-1])
        return _PrintStream(info.findtext("name") or "?", info.findtext("type") == CLOCK_TYPE)


def run_listen(args: argparse.Namespace) -> int:
    from .keys import server_keys
    from .server import DEFAULT_MAX_SENDERS, MarkerServer

    try:
        keys = server_keys(args.keys) if args.keys is not None else None
        server = MarkerServer(PrintSink(), args.endpoint, allow_network=args.allow_network,
                              relay=not args.no_relay, keys=keys, insecure=args.no_auth,
                              max_senders=args.max_senders or DEFAULT_MAX_SENDERS)
    except ValueError as exc:
        print(f"markers listen: {exc}", file=sys.stderr)
        return 2
    server.start()
    print(f"listening on {server.endpoint} (Ctrl-C to stop); markers are printed, not recorded. "
          "Each line: the sender's clock time, stream, marker (in the order each sender sent them)",
          file=sys.stderr, flush=True)
    try:
        threading.Event().wait(args.seconds)
    except KeyboardInterrupt:
        pass
    server.close()
    stats = server.stats()
    rejected = {k: v for k, v in stats["rejected"].items() if v}
    print(f"printed {stats['stored']} markers (nothing recorded); resent copies dropped {stats['duplicates']}; "
          f"rejected {rejected or 0}; lost {stats['lost'] or 0}", file=sys.stderr)
    return 0


def run_keys_make(args: argparse.Namespace) -> int:
    from .keys import make_key

    try:
        public, secret = make_key(args.dir, args.name)
    except KeyFileError as exc:
        print(f"keys make: {exc}", file=sys.stderr)
        return 2
    print(f"made {public} (public: copy it where it is needed) and {secret} (secret: keep it on this computer"
          f"{'' if args.name == 'server' else ' or the sender it belongs to'})")
    return 0


def run_keys_list(args: argparse.Namespace) -> int:
    from .keys import list_keys

    try:
        found = list_keys(args.dir)
    except KeyFileError as exc:
        print(f"keys list: {exc}", file=sys.stderr)
        return 2
    if not found:
        print(f"no keys in {args.dir} (make one with: main.py keys make server --dir {args.dir})")
    for name, has_secret in found:
        role = "marker server" if name == "server" else "sender"
        print(f"{name:20s} {role:13s} {'public + secret' if has_secret else 'public only'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sync.cli markers ...`` (the same commands as ``main.py markers ...``)."""
    import logging

    from configs import use_lsl_config

    use_lsl_config()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m sync.cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
