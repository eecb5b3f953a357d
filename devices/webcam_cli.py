"""``main.py devices webcam``: a camera or a video file -> video file, VideoFrames and FacialExpression on LSL."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from devices.video import FPS_RANGE, SIDE_RANGE


def add_capture_arguments(parser: argparse.ArgumentParser) -> None:
    """--width/--height/--fps: what to ask a camera for (``devices webcam`` and ``devices check --camera``)."""
    parser.add_argument("--width", type=int, default=640, help="requested frame width (camera; default 640)")
    parser.add_argument("--height", type=int, default=480, help="requested frame height (camera; default 480)")
    parser.add_argument("--fps", type=float, default=30.0, help="requested frame rate (camera; default 30)")


def capture_arguments_error(args: argparse.Namespace) -> str | None:
    """Why the requested frame size or rate cannot be asked of a camera, or None."""
    lo, hi = SIDE_RANGE
    if lo <= args.width <= hi and lo <= args.height <= hi and FPS_RANGE[0] <= args.fps <= FPS_RANGE[1]:
        return None
    return f"--width/--height must be {lo}..{hi} and --fps {FPS_RANGE[0]}..{FPS_RANGE[1]}"


def register(group: argparse._SubParsersAction) -> None:
    cam = group.add_parser("webcam", help="capture a camera (or play a video file): write the video, "
                                          "publish frame stamps and live facial expression on LSL")
    source = cam.add_mutually_exclusive_group(required=True)
    source.add_argument("--camera", type=int, metavar="N", help="camera index (0 = the first camera)")
    source.add_argument("--video", type=Path, metavar="FILE", help="play a video file at its own frame rate")
    cam.add_argument("--save-video", type=Path, metavar="PATH",
                     help="write the frames to this new .mkv (or .avi, .mp4) file, beside the recording")
    cam.add_argument("--duration", type=float, metavar="S", help="seconds to run (default: until Ctrl-C or the file ends)")
    add_capture_arguments(cam)
    cam.add_argument("--name", default="Webcam", help="LSL stream name (the expression stream adds 'Expression')")
    cam.add_argument("--source-id", default="attune-webcam", help="LSL source_id (keep it stable per camera)")
    cam.add_argument("--no-expression", action="store_true", help="do not publish FacialExpression")
    cam.add_argument("--method", choices=["auto", "mediapipe", "haar"], default="auto",
                     help="expression from mediapipe's face mesh (auto: when installed) or OpenCV Haar cascades")
    cam.set_defaults(func=run_webcam)


def run_webcam(args: argparse.Namespace) -> int:
    from devices.video import VideoError, check_video_path
    from devices.webcam_device import WebcamDevice, WebcamSettings

    if args.duration is not None and args.duration <= 0:
        print("error: --duration must be positive", file=sys.stderr)
        return 2
    problem = capture_arguments_error(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        if args.save_video is not None:
            check_video_path(args.save_video)
    except VideoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = WebcamSettings(camera=args.camera, video=args.video, save_video=args.save_video,
                              width=args.width, height=args.height, fps=args.fps, name=args.name,
                              source_id=args.source_id, expression=not args.no_expression, method=args.method)
    device = WebcamDevice(settings, duration=args.duration)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    device.start()
    device.ready.wait()
    if device.error is not None:
        device.join(5.0)
        print(f"error: {device.error}", file=sys.stderr)
        return 1
    print(device.format_report(), flush=True)
    print("publishing: " + ", ".join(device.stream_names), flush=True)
    while not stop.wait(1.0) and not device.finished.is_set():
        s = device.stats
        print(f"\r{s.frames} frames, {s.dropped} dropped, {s.measured_fps:5.1f} fps", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if stop.is_set():
        device.stop_event.set()
    device.join()  # after the last frame the outlets stay a moment, so recorders pull the tail
    print(device.summary(), flush=True)
    if device.error is not None:
        print(f"error: {device.error}", file=sys.stderr)
        return 1
    if device.stats.frames == 0:
        print("error: no frame was captured", file=sys.stderr)
        return 1
    return 0
