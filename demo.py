"""The demo session: a whole study visit on simulated devices, no hardware.

Three recordings, as a lab runs them: the face-rating assessment (ses-pre),
the emotion-recognition training (ses-training) and the assessment again
(ses-post). In each, the simulated eye tracker, webcam and GSR are recorded
together with the task's markers (sent over the ZeroMQ marker bus), and the
events TSV is written beside the XDF file. A simulated participant answers;
her interpretation bias moves during training, and her simulated body
reacts to each face (SCR, expression, gaze on the face), so the recordings
carry the effects the analysis looks for.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from acquisition.cli import install_stop_signals
from acquisition.discovery import resolve
from acquisition.naming import SessionFields, bids_path, events_tsv_path, next_free_run
from acquisition.service import RecordingError, RecordingService, summary_text
from acquisition.session import EXIT_RECORDING_FAILED, EXIT_START_FAILED
from devices.body import SimulatedBody
from devices.lab import SimulatedLab, load_devices
from gui.display_check import window_problem
from stimulus.protocol import DEFAULT_WINDOW_SIZE, STUDY_VISIT
from sync.protocol import DEFAULT_ENDPOINT


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="a simulated study visit: rating, training, rating again; all recorded")
    demo.add_argument("--root", type=Path, default=None,
                      help="where recordings go (default recordings, or cohort_recordings with --cohort)")
    demo.add_argument("--participant", default="demo")
    demo.add_argument("--speed", type=float, default=4.0,
                      help="run the tasks this many times faster than a real session (default 4)")
    demo.add_argument("--markers", default=DEFAULT_ENDPOINT, help="marker bus endpoint")
    demo.add_argument("--headless", action="store_true",
                      help="run the visit without the control panel even when a display is present")
    demo.add_argument("--cohort", type=int, metavar="N",
                      help="instead: N simulated participants in two groups (high / low risk), each visit "
                           "recorded at real task speed without waiting in real time, plus participants.tsv")
    demo.set_defaults(func=run)


def display_present() -> bool:
    """A screen the control panel can open on; if Qt lacks system libraries for it, say which, and no."""
    problem = window_problem()
    if problem is None:
        return True
    if problem.packages:  # a screen is there but Qt cannot use it: the user must hear why
        print(f"note: the control panel cannot open: {problem.reason}. Running the visit headless.")
    return False


def open_panel(args: argparse.Namespace) -> int:
    """With a screen: the control panel, simulated devices already running, ready to record."""
    import gui.cli

    print("Control panel with simulated devices: press 'Start recording', then 'Start task' "
          "(tick 'simulated participant' to watch a simulated session).")
    parser = argparse.ArgumentParser(prog="attune")
    gui.cli.register(parser.add_subparsers())
    gui_args = parser.parse_args(["gui", "--root", str(args.root), "--markers", args.markers, "--simulate"])
    return gui_args.func(gui_args)


def run(args: argparse.Namespace) -> int:
    if args.cohort is not None:
        return run_cohort(args)
    args.root = args.root or Path("recordings")
    if not args.headless and display_present():
        return open_panel(args)
    # nobody sits at a simulated visit's stimulus window: draw it off screen (and never need a display)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return run_visit(args)


def run_cohort(args: argparse.Namespace) -> int:
    """A simulated cohort for the group analysis and the BIDS export (analysis.simulated_cohort)."""
    from analysis.simulated_cohort import simulate_cohort

    root = args.root or Path("cohort_recordings")
    try:
        paths = simulate_cohort(root, args.cohort, progress=lambda text: print(text, flush=True))
    except (ValueError, FileExistsError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    print(f"{len(paths)} recordings of {args.cohort} participants in {root} (groups in {root / 'participants.tsv'})")
    print(f"next: python main.py analyze {root} --out cohort_analysis")
    print(f"      python main.py export-bids {root} --out cohort_bids")
    return 0


def own_feedback_streams(protocol, lab: SimulatedLab):
    """The training's live feedback reads this visit's simulated devices, not any look-alike on the network."""
    import dataclasses

    from stimulus.protocol import FeedbackStreams

    fb = protocol.feedback
    if not fb.enabled:
        return protocol
    ids = {t.source.info.type(): t.source.info.source_id() for t in lab.threads}

    def pinned(predicate: str, kind: str) -> str:
        return f"{predicate} and source_id='{ids[kind]}'" if kind in ids else predicate

    streams = FeedbackStreams(gaze=pinned(fb.streams.gaze, "Gaze"),
                              expression=pinned(fb.streams.expression, "FacialExpression"),
                              gsr=pinned(fb.streams.gsr, "GSR"))
    return dataclasses.replace(protocol, feedback=dataclasses.replace(fb, streams=streams))


def run_visit(args: argparse.Namespace) -> int:
    """The headless visit: three recorded parts, then the rating table."""
    from PyQt6.QtCore import QTimer

    from stimulus.events_tsv import write_events_tsv
    from stimulus.markers import TeeSink
    from stimulus.participant import SimulatedParticipant
    from stimulus.protocol import load_protocol
    from stimulus.runner import run_protocol
    from stimulus.window import StimulusWindow, ensure_app
    from sync.client import MarkerClient

    if not args.speed > 0:
        print(f"error: --speed must be above 0, got {args.speed}")
        return 2
    lab = SimulatedLab([cfg for cfg in load_devices() if cfg.kind != "markers"])
    lab.start()
    ensure_app()
    protocols = {p.protocol: own_feedback_streams(load_protocol(p.protocol), lab) for p in STUDY_VISIT}
    window = StimulusWindow()
    window.open(windowed=True, size=DEFAULT_WINDOW_SIZE)
    body = SimulatedBody(lab, attention=0.5)  # face_onset markers say where; feedback cues, where to look
    participant = SimulatedParticipant()
    query = [f"source_id='{t.source.info.source_id()}'" for t in lab.threads]
    found = resolve(query, wait=1.0)
    means: dict[str, dict[float, float]] = {}
    service = RecordingService(args.markers)  # the same recording service as record, serve and the panel
    stop = threading.Event()
    install_stop_signals(stop)
    try:
        for phase in STUDY_VISIT:
            fields = next_free_run(args.root, SessionFields(args.participant, phase.session, phase.task))
            try:
                path = service.start(bids_path(args.root, fields), query, found)
            except RecordingError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_START_FAILED
            print(f"recording to {path}", file=sys.stderr)
            client = MarkerClient(service.status().markers, sender_id="stimulus")
            watchdog = QTimer()  # Ctrl-C, or a recording that broke, ends the task too
            watchdog.timeout.connect(
                lambda: (stop.is_set() or service.finished.is_set()) and window.abort_requested.emit())
            watchdog.start(100)
            try:
                result = run_protocol(protocols[phase.protocol], TeeSink(client, body),
                                      participant=participant, window=window, speed=args.speed,
                                      on_feedback=lambda feed, state, why: print(f"  feedback {feed}: {state} {why}"))
            finally:
                watchdog.stop()
                undelivered = client.close(timeout=5.0, warn=False)  # reported below
                recording = service.stop()
            print(summary_text(recording))
            tsv = write_events_tsv(events_tsv_path(recording.path), result.markers)
            print(f"{phase.session}: {len(result.trials)} trials; events in {tsv}")
            if undelivered:
                print(f"warning: {len(undelivered)} markers not confirmed by the recorder (they are in the TSV)")
            if recording.error:
                print(f"error: {recording.error}", file=sys.stderr)
                return EXIT_RECORDING_FAILED
            if phase.task == "rating":
                means[phase.session] = result.mean_rating_by_morph()
            else:
                for s in result.summaries:
                    print(f"  {s.block}: {100 * s.accuracy:.0f} % correct, final intensity {s.final_intensity:.2f}")
                for m in result.markers:
                    if m.event == "feedback_block":
                        print(f"  {m.get('block')} feedback: eyes looked at on {m.get('looked_eyes')} of "
                              f"{m.get('faces')} faces, {m.get('cued')} cued; mirrored {m.get('mirrored')} of "
                              f"{m.get('mirror_faces')} happy faces; {m.get('calm')} calm cues")
            if result.aborted:
                print("stopped early")
                return 3
    finally:
        if service.recording:
            service.stop()
        window.close()
        lab.stop()
    print(rating_table(means))
    return 0


def rating_table(means: dict[str, dict[float, float]]) -> str:
    """Mean rating (0 very sad .. 100 very happy) per morph level, one column per assessment."""
    sessions = list(means)
    levels = sorted({m for by in means.values() for m in by})
    lines = ["mean rating by morph level (0 = very sad, 100 = very happy)",
             f"{'morph':>7} " + " ".join(f"{s:>8}" for s in sessions)]
    for m in levels:
        lines.append(f"{m:+7.2f} " + " ".join(f"{means[s].get(m, float('nan')):8.1f}" for s in sessions))
    return "\n".join(lines)
