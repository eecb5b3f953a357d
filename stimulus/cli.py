"""Command-line sub-commands of the stimulus side (``main.py stimulus ...``).

    main.py stimulus --protocol infant_face_rating --screen 1
    main.py stimulus --protocol emotion_training --windowed --simulate-participant --speed 10
    main.py stimulus --list
    main.py stimulus --protocol emotion_training --check-feedback   # are the feedback streams there?
    main.py stimulus --export-faces faces/      # the built-in faces as PNGs + manifest.csv

Also runnable alone: ``python -m stimulus.cli --protocol ...``.
Exit status: 0 done, 1 bad input (the message names file and field), 3 ended with Escape,
4 markers not confirmed by the recorder (they are in the events TSV, not in the recording).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from pathlib import Path

from configs import ConfigError, use_lsl_config
from stimulus.protocol import DEFAULT_WINDOW_SIZE
from sync.cli import add_client_key_arguments, client_keys_from
from sync.protocol import DEFAULT_ENDPOINT

EXIT_ABORTED = 3
EXIT_MARKERS_LOST = 4
CONNECT_WAIT = 2.0  # seconds to look for the recorder's marker server before the task starts


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
    parser = subparsers.add_parser(
        "stimulus", help="run a stimulus protocol (face rating or emotion training)",
        description="Show a protocol in the stimulus window and send a marker for every event.")
    add_arguments(parser)
    parser.set_defaults(func=run)

    control = subparsers.add_parser(
        "stimulus-control", help="on the stimulus computer: start protocols when the control panel asks",
        description="Wait for the control panel's start/stop requests (ZeroMQ) and run the protocol asked for.")
    from stimulus import remote
    remote.add_arguments(control)
    control.set_defaults(func=remote.run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protocol", metavar="NAME_OR_PATH",
                        help="a protocol in configs/protocols (e.g. infant_face_rating) or a YAML path")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--screen", type=int, metavar="N", help="full screen on screen N (0 = primary; default)")
    where.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
    parser.add_argument("--size", default="{}x{}".format(*DEFAULT_WINDOW_SIZE), metavar="WxH",
                        help="window size with --windowed (default %(default)s)")
    parser.add_argument("--simulate-participant", action="store_true",
                        help="answer automatically (demos, checks); no one needs to sit at the screen")
    parser.add_argument("--bias", type=float, default=-3.0, metavar="POINTS",
                        help="simulated participant: interpretation bias in rating points (default -3)")
    parser.add_argument("--post-bias", type=float, default=2.0, metavar="POINTS",
                        help="simulated participant: bias that training feedback moves toward (default 2)")
    parser.add_argument("--noise", type=float, default=5.0, metavar="POINTS",
                        help="simulated participant: judgement noise SD in rating points (default 5)")
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT,
                        help=f"marker server to send to (default {DEFAULT_ENDPOINT})")
    add_client_key_arguments(parser)
    parser.add_argument("--no-markers", action="store_true", help="send no markers (rehearsal)")
    parser.add_argument("--events-tsv", metavar="PATH",
                        help="where to write the events TSV (default: <protocol>_<date-time>_events.tsv here)")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X",
                        help="divide every duration by X (demos and checks; 1 for real sessions)")
    parser.add_argument("--seed", type=int, help="override the protocol's randomisation seed")
    parser.add_argument("--list", action="store_true", help="list the shipped protocols and exit")
    parser.add_argument("--check-feedback", action="store_true",
                        help="only check the streams the protocol's live feedback reads, then exit "
                             "(0: all found and valid; 1: some feedback would be off)")
    parser.add_argument("--export-faces", metavar="DIR",
                        help="write the built-in faces as PNGs plus manifest.csv into DIR and exit")


def run(args: argparse.Namespace) -> int:
    use_lsl_config()
    from stimulus.protocol import available_protocols, load_protocol

    if args.list:
        for name in available_protocols():
            print(name)
        return 0
    if args.export_faces:
        from stimulus.stimuli import export_builtin
        from stimulus.window import ensure_app
        ensure_app()
        manifest = export_builtin(args.export_faces)
        print(f"wrote the built-in faces and {manifest}")
        return 0
    if not args.protocol:
        print("stimulus: --protocol is required (see --list)", file=sys.stderr)
        return 1
    if not args.speed > 0:
        print(f"stimulus: --speed must be above 0, got {args.speed}", file=sys.stderr)
        return 1
    try:
        protocol = load_protocol(args.protocol)
        size = _size(args.size)
    except (ConfigError, ValueError) as exc:
        print(f"stimulus: {exc}", file=sys.stderr)
        return 1

    if args.check_feedback:
        return _check_feedback(protocol)

    from stimulus.events_tsv import unique_path, write_events_tsv
    from stimulus.participant import SimulatedParticipant
    from stimulus.runner import run_protocol
    from stimulus.window import ensure_app

    stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    tsv = unique_path(Path(args.events_tsv or f"{protocol.slug}_{stamp}_events.tsv"))
    participant = (SimulatedParticipant(bias=args.bias, post_bias=args.post_bias, noise=args.noise)
                   if args.simulate_participant else None)
    client = None
    if not args.no_markers:
        from sync.client import MarkerClient
        try:
            client = MarkerClient(args.endpoint, sender_id="stimulus", keys=client_keys_from(args))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not wait_connected(client, CONNECT_WAIT):
            print(f"warning: no recorder is listening for markers on {args.endpoint} (start `main.py record`, "
                  "`serve` or the control panel first). The task runs; its markers are kept and sent "
                  "if a recorder starts, and are in the events TSV either way.", file=sys.stderr, flush=True)
    ensure_app()
    print(f"{protocol.name}: {len(protocol.blocks)} block(s); markers "
          f"{'off' if client is None else 'to ' + args.endpoint}; Escape ends the run")
    try:
        result = run_protocol(protocol, client, participant=participant, speed=args.speed, seed=args.seed,
                              screen=args.screen, windowed=args.windowed, size=size, on_feedback=_notice)
    except (ConfigError, ValueError, RuntimeError) as exc:
        print(f"stimulus: {exc}", file=sys.stderr)
        return 1
    finally:
        undelivered = client.close(warn=False) if client is not None else []
    written = write_events_tsv(tsv, result.markers)
    _report(result, written, undelivered)
    if result.aborted:
        return EXIT_ABORTED
    return EXIT_MARKERS_LOST if undelivered else 0


def wait_connected(client, timeout: float) -> bool:
    """True once the client reached a marker server, False if none answered within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not client.connected:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _check_feedback(protocol) -> int:
    """The start-of-session check alone, for the experimenter before the participant sits down."""
    from stimulus.feedback import check_streams

    if not protocol.feedback.enabled:
        print(f"{protocol.source}: feedback is not enabled in this protocol")
        return 1
    result, feeds = check_streams(protocol.feedback)
    for feed in feeds.values():
        feed.close()
    print(result.text())
    if not result.all_ok:
        print("the training runs without the feedback of the streams above that are not ok", file=sys.stderr)
    return 0 if result.all_ok else 1


def _notice(feed: str, state: str, reason: str) -> None:
    """Live feedback news for the experimenter (the participant sees none of it)."""
    print(f"feedback: {feed} {state}" + (f" ({reason})" if reason else ""), file=sys.stderr, flush=True)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1280x800, got {text!r}") from None
    if w < 320 or h < 240:
        raise ValueError(f"--size must be at least 320x240, got {text!r}")
    return w, h


def _report(result, tsv: Path, undelivered: list) -> None:
    trials = result.trials
    answered = sum(1 for t in trials if not t.timed_out)
    print(f"{'ended early: ' if result.aborted else ''}{len(trials)} trials, {answered} answered; "
          f"events in {tsv}")
    if result.protocol.task == "rating":
        for morph, value in result.mean_rating_by_morph().items():
            print(f"  morph {morph:+.2f}: mean rating {value:5.1f}")
    else:
        for s in result.summaries:
            print(f"  {s.block}: {100 * s.accuracy:.0f} % correct, final intensity {s.final_intensity:.2f}")
    for problem in result.sink_errors:
        print(f"  marker problem: {problem}", file=sys.stderr)
    if undelivered:
        print(f"error: {len(undelivered)} markers were not confirmed by a recorder, so they are not in any "
              f"recording (they are in {tsv})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stimulus.cli", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
