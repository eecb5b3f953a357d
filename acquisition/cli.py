"""``main.py record`` and ``main.py streams``: headless recording from the command line."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from acquisition.naming import BIDS_TEMPLATE, NamingError, SessionFields, bids_path
from sync.protocol import DEFAULT_ENDPOINT


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    out = parser.add_argument_group("output file")
    out.add_argument("--out", type=Path, help="exact .xdf path (instead of the BIDS fields)")
    out.add_argument("--root", type=Path, default=Path("recordings"), help="folder for BIDS paths")
    out.add_argument("--participant", "-p", default="P001",
                     help="participant label, letters and digits (BIDS sub-; template %%p; default P001)")
    out.add_argument("--session", "-s", default="01",
                     help="session label, e.g. pre or post (BIDS ses-; template %%s; default 01)")
    out.add_argument("--task", "-b", default="rest",
                     help="task label, e.g. rating (BIDS task-; -b and %%b as in LabRecorder, where it is "
                          "the 'block'; default rest)")
    out.add_argument("--run", "-r", default="1", help="run number (BIDS run-; template %%r; default 1)")
    out.add_argument("--acq", default="", help="optional acquisition label")
    out.add_argument("--template", default=BIDS_TEMPLATE,
                     help="LabRecorder-style template with %%p %%s %%b %%a %%r %%m")
    out.add_argument("--on-exists", choices=["refuse", "rename"], default="refuse",
                     help="an existing file is refused, or renamed aside to *_oldN (never overwritten)")


def output_path(args: argparse.Namespace) -> Path:
    """The file the arguments name (the recording service makes its folder and guards old files)."""
    if args.out is not None:
        return Path(args.out)
    fields = SessionFields(args.participant, args.session, args.task, str(args.run), args.acq)
    return bids_path(args.root, fields, args.template)


def add_marker_server_arguments(parser: argparse.ArgumentParser) -> None:
    from sync.keys import DEFAULT_KEYS_DIR
    from sync.server import DEFAULT_MAX_SENDERS

    parser.add_argument("--markers-keys", type=Path, metavar="DIR",
                        help="CurveZMQ key folder: markers are taken only from senders whose public key "
                             f"is there (make them with 'main.py keys make'; e.g. {DEFAULT_KEYS_DIR})")
    parser.add_argument("--markers-no-auth", action="store_true",
                        help="with --markers-allow-network, accept markers from anyone on the network")
    parser.add_argument("--max-marker-senders", type=int, default=DEFAULT_MAX_SENDERS, metavar="N",
                        help=f"sender ids recorded at most; more are refused (default {DEFAULT_MAX_SENDERS})")


def marker_server_options(args: argparse.Namespace) -> dict:
    """MarkerServer keyword arguments from the command line; raises ValueError naming the problem."""
    from sync.keys import KeyFileError, server_keys

    if args.max_marker_senders < 1:
        raise ValueError(f"--max-marker-senders must be at least 1, got {args.max_marker_senders}")
    keys = None
    if args.markers_keys is not None:
        try:
            keys = server_keys(args.markers_keys)
        except KeyFileError as exc:
            raise ValueError(f"--markers-keys: {exc}") from None
    return {"keys": keys, "insecure": args.markers_no_auth, "max_senders": args.max_marker_senders}


def register(subparsers: argparse._SubParsersAction) -> None:
    rec = subparsers.add_parser("record", help="record LSL streams into one XDF file (headless)")
    add_output_arguments(rec)
    rec.add_argument("--query", "-q", action="append", default=[],
                     help="LSL predicate selecting streams, e.g. \"type='GSR'\" (repeatable; default: all)")
    rec.add_argument("--require", action="append", default=[],
                     help="predicate that must match a stream before recording starts (repeatable)")
    rec.add_argument("--allow-missing", action="store_true",
                     help="start even if a required stream is missing (it joins when it appears)")
    rec.add_argument("--duration", type=float, help="seconds to record (default: until Ctrl-C / SIGTERM)")
    rec.add_argument("--wait", type=float, default=1.0, help="seconds to look for streams before starting")
    rec.add_argument("--markers", default=DEFAULT_ENDPOINT,
                     help="ZeroMQ endpoint to receive stimulus markers on ('off' to disable)")
    rec.add_argument("--markers-allow-network", action="store_true",
                     help="let the marker endpoint bind beyond loopback (stimulus on another computer); "
                          "senders then need CurveZMQ keys (--markers-keys) unless --markers-no-auth")
    add_marker_server_arguments(rec)
    rec.set_defaults(func=run_record)

    serve = subparsers.add_parser(
        "serve", help="record on commands from experiment scripts (LabRecorder's remote control)",
        description="Wait for LabRecorder remote-control commands (select all, filename {...}, start, stop) "
                    "on a TCP port, so lab scripts written for LabRecorder drive Attune unchanged.")
    serve.add_argument("--root", type=Path, default=Path("recordings"),
                       help="folder for recordings; a remote command can name no file outside it")
    serve.add_argument("--allow-root", type=Path, action="append", default=[],
                       help="another folder that 'filename {root:...}' may name (repeatable)")
    serve.add_argument("--port", type=int, default=22345, help="TCP port (LabRecorder's is 22345)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default loopback; 0.0.0.0 lets other computers in, "
                            "and then needs --token-file)")
    serve.add_argument("--token-file", type=Path,
                       help="file holding a shared secret; clients must send 'auth <secret>' first")
    serve.add_argument("--markers", default=DEFAULT_ENDPOINT,
                       help="ZeroMQ endpoint for stimulus markers during recordings ('off' to disable)")
    serve.set_defaults(func=run_serve)

    streams = subparsers.add_parser("streams", help="list the LSL streams visible from here")
    streams.add_argument("--query", "-q", action="append", default=[],
                         help="LSL predicate, e.g. \"type='GSR'\" (repeatable; default: every stream)")
    streams.add_argument("--wait", type=float, default=1.0,
                         help="seconds to look for streams (default 1; raise it on a busy network)")
    streams.set_defaults(func=run_streams)


def run_serve(args: argparse.Namespace) -> int:
    import logging

    from acquisition.remote_control import RemoteControl

    logging.getLogger("acquisition.remote_control").setLevel(logging.INFO)  # say when files start and end
    markers = None if args.markers == "off" else args.markers
    token = None
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"error: --token-file {args.token_file}: {exc}", file=sys.stderr)
            return 2
        if len(token) < 16:
            print(f"error: --token-file {args.token_file}: the token must be at least 16 characters",
                  file=sys.stderr)
            return 2
    try:
        control = RemoteControl(args.root, markers, args.host, args.port, allow_roots=args.allow_root,
                                token=token).start()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    host, port = control.address[:2]
    print(f"waiting for commands on {host}:{port} (select all, filename {{...}}, start, stop, status); "
          "Ctrl-C ends", file=sys.stderr, flush=True)
    stop = threading.Event()
    install_stop_signals(stop)
    while not stop.wait(0.5):
        pass
    control.close()
    return 0


def run_streams(args: argparse.Namespace) -> int:
    from acquisition.discovery import QueryError, describe, resolve, shared_source_ids, shared_warning
    from acquisition.player import is_replayed

    try:
        found = resolve(args.query, args.wait)
    except QueryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not found:
        print("no streams found")
    for info in sorted(found, key=lambda i: (i.hostname(), i.name(), i.source_id())):
        replay = "  (a replay)" if is_replayed(info.source_id()) else ""
        print(f"{describe(info)}  source_id={info.source_id()!r}{replay}")
    for key, infos in shared_source_ids(found).items():
        print(f"warning: {shared_warning(key, infos)}", file=sys.stderr)
    return 0


EXIT_INTERRUPTED = 130  # the shell's code for "ended by Ctrl-C"


def install_stop_signals(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM end the recording cleanly (footers and all)."""
    def handler(signum, frame):
        stop.set()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def run_record(args: argparse.Namespace) -> int:
    from acquisition.discovery import (
        QueryError,
        check_predicate,
        missing_required,
        resolve,
        shared_source_ids,
        shared_warning,
    )
    from acquisition.session import record_session

    stop = threading.Event()
    install_stop_signals(stop)  # before the first LSL call: Ctrl-C while looking for streams ends cleanly
    try:
        options = marker_server_options(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        for predicate in args.require:
            check_predicate(predicate)
        path = output_path(args)
        print(f"looking for streams ({args.wait:g} s)...", file=sys.stderr, flush=True)
        found = resolve(args.query, args.wait, stop)
    except (QueryError, NamingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if stop.is_set():
        print("stopped before the recording began; no file was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    for key, infos in shared_source_ids(found).items():
        print(f"warning: {shared_warning(key, infos)}", file=sys.stderr)
    missing = missing_required(found, args.require)
    if missing:
        names = ", ".join(missing)
        if not args.allow_missing:
            print(f"error: required stream(s) not found: {names} (use --allow-missing to start anyway)",
                  file=sys.stderr)
            return 3
        print(f"warning: required stream(s) not found yet: {names}; they join when they appear",
              file=sys.stderr)
    markers = None if args.markers == "off" else args.markers
    return record_session(path, args.query, found, stop, args.duration, markers, args.require,
                          allow_network=args.markers_allow_network, on_exists=args.on_exists,
                          marker_options=options)
