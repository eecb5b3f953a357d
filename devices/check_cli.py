"""``main.py devices list|check|run``: what is plugged in, is it fit to record, run the real devices."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from configs import ConfigError
from devices.webcam_cli import add_capture_arguments, capture_arguments_error


def register(devices_sub: argparse._SubParsersAction) -> None:
    """Add list, check and run under the ``devices`` command group."""
    lister = devices_sub.add_parser("list", help="cameras, serial ports and LSL streams (with the gaze layout recognised)")
    lister.add_argument("--wait", type=float, default=2.0, help="seconds to look for LSL streams (default 2)")
    lister.set_defaults(func=run_list)

    check = devices_sub.add_parser("check", help="measure streams: rate, jitter, gaps, stamps, clock offset, gaze "
                                                 "validity; exits 1 on a fail")
    check.add_argument("stream", nargs="?", help="stream name, type or source_id (default: every stream)")
    check.add_argument("--seconds", type=float, default=60.0, help="how long to measure (default 60)")
    check.add_argument("--min-valid", type=float, default=0.5,
                       help="least fraction of valid gaze that passes (default 0.5)")
    check.add_argument("--wait", type=float, default=3.0, help="seconds to look for the stream (default 3)")
    camera = check.add_mutually_exclusive_group()
    camera.add_argument("--camera", type=int, metavar="N",
                        help="check camera N instead of LSL streams: real fps against requested, dropped frames")
    camera.add_argument("--video", type=Path, metavar="FILE", help="check a video file played at its own rate")
    add_capture_arguments(check)
    check.set_defaults(func=run_check)

    run = devices_sub.add_parser("run", help="start the real devices enabled in the devices config (serial GSR, "
                                             "Shimmer, Gazepoint)")
    run.add_argument("--devices", type=Path, help="devices YAML (default: configs/devices.yaml)")
    run.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C / SIGTERM)")
    run.set_defaults(func=run_devices)


def _cameras() -> list[str]:
    try:
        from devices.opencv import cv2 as load_cv2  # imports OpenCV without leaving its Qt settings behind
        from devices.video import camera_backend
        cv2 = load_cv2()
    except ImportError:
        return ["OpenCV not installed (cameras are not probed)"]
    found = []
    for index in range(5):
        capture = cv2.VideoCapture(index, camera_backend())
        if capture.isOpened():
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            fps = capture.get(cv2.CAP_PROP_FPS)
            found.append(f"camera {index}: {width}x{height} at {fps:g} fps")
        capture.release()
    return found or ["no camera found (indices 0-4)"]


def _serial_ports() -> list[str]:
    from serial.tools import list_ports
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    return [f"{p.device}: {p.description} [{p.hwid}]" for p in ports] or ["no serial port found"]


def _streams(wait: float) -> list[str]:
    import pylsl
    from pylsl.util import TimeoutError as LSLTimeoutError

    from devices.gaze_layouts import recognise
    lines = []
    for info in sorted(pylsl.resolve_streams(wait_time=wait), key=lambda i: (i.type(), i.name())):
        layout = None
        try:
            inlet = pylsl.StreamInlet(info)
            layout = recognise(inlet.info(timeout=3.0))  # only the inlet's info carries channel labels
            inlet.close_stream()
        except LSLTimeoutError:
            pass
        gaze = f", gaze layout: {layout.name}" if layout is not None else ""
        lines.append(f"{info.name()} ({info.type()}, {info.channel_count()} ch, {info.nominal_srate():g} Hz) "
                     f"on {info.hostname()}, source_id {info.source_id()}{gaze}")
    return lines or ["no LSL stream found"]


def run_list(args: argparse.Namespace) -> int:
    for title, lines in (("Cameras", _cameras()), ("Serial ports", _serial_ports()),
                         ("LSL streams", _streams(args.wait))):
        print(f"{title}:")
        for line in lines:
            print(f"  {line}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    import pylsl
    from pylsl.util import TimeoutError as LSLTimeoutError

    from devices.check import evaluate, format_table, measure, passed
    if args.seconds <= 0:
        print("error: --seconds must be positive", file=sys.stderr)
        return 2
    if args.camera is not None or args.video is not None:
        return run_camera_check(args)
    infos = pylsl.resolve_streams(wait_time=args.wait)
    if args.stream:
        wanted = args.stream.casefold()
        infos = [i for i in infos if wanted in (i.name().casefold(), i.type().casefold(), i.source_id().casefold())]
    if not infos:
        what = f"no LSL stream named {args.stream!r} (by name, type or source_id)" if args.stream else "no LSL stream"
        print(f"error: {what}; `main.py devices list` shows what is on the network", file=sys.stderr)
        return 2
    print(f"checking {len(infos)} stream(s) for {args.seconds:g} s ...", flush=True)
    results: dict[int, object] = {}
    progress = _progress_printer()

    def one(k: int, info: pylsl.StreamInfo) -> None:
        try:
            results[k] = measure(info, args.seconds, progress if k == 0 else None)
        except (LSLTimeoutError, RuntimeError) as exc:
            results[k] = exc

    threads = [threading.Thread(target=one, args=(k, info), daemon=True) for k, info in enumerate(infos)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = True
    for k, info in enumerate(infos):
        m = results.get(k)
        if not hasattr(m, "samples"):
            print(f"\n{info.name()} ({info.source_id()}): could not be read: {m}")
            ok = False
            continue
        rows = evaluate(m, args.min_valid)
        verdict = "PASS" if passed(rows) else "FAIL"
        print("\n" + format_table(f"{m.name} ({m.type}, source_id {m.source_id}): {verdict}", rows))
        ok &= passed(rows)
    print("\nall checks passed" if ok else "\nsome checks FAILED: see the rows marked FAIL")
    return 0 if ok else 1


def _progress_printer() -> Callable[[float], None]:
    """Prints 10 %, 20 %, ... once each, from any thread."""
    lock = threading.Lock()
    shown = [0]

    def progress(fraction: float) -> None:
        with lock:
            step = int(fraction * 10)
            if step > shown[0]:
                shown[0] = step
                print(f"  {step * 10} %", flush=True)
    return progress


def run_camera_check(args: argparse.Namespace) -> int:
    """``devices check --camera N | --video FILE``: the camera's pass/fail table; 1 on a fail, 2 if unusable."""
    from devices.camera_check import evaluate_camera, measure_camera
    from devices.check import format_table, passed
    from devices.video import CameraSource, VideoError, VideoFileSource

    if args.stream:
        print("error: give a stream name or --camera/--video, not both", file=sys.stderr)
        return 2
    problem = capture_arguments_error(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        if args.video is not None:
            source = VideoFileSource(args.video)
        else:
            source = CameraSource(args.camera, args.width, args.height, args.fps)
    except VideoError as exc:
        hint = "; `main.py devices list` shows the cameras found" if args.camera is not None else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    print(f"checking {source.name} for {args.seconds:g} s ...", flush=True)
    try:
        m = measure_camera(source, args.seconds, _progress_printer())
    finally:
        source.close()
    rows = evaluate_camera(m)
    ok = passed(rows)
    print("\n" + format_table(f"{m.source}: {'PASS' if ok else 'FAIL'}", rows))
    print("\nall checks passed" if ok else "\nsome checks FAILED: see the rows marked FAIL")
    return 0 if ok else 1


def run_devices(args: argparse.Namespace) -> int:
    from devices.hardware import build, load_hardware
    from devices.lab import DEFAULT_DEVICES
    path = args.devices or DEFAULT_DEVICES
    try:
        configs = load_hardware(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not configs:
        print(f"error: {path}: no real device is enabled (serial_gsr, shimmer_gsr or gazepoint: enabled: true)",
              file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    devices = [build(cfg, lambda message, name=cfg.name: print(f"{name}: {message}", flush=True)) for cfg in configs]
    for device in devices:
        device.start()
    print("publishing: " + ", ".join(d.cfg.name for d in devices), flush=True)
    stop.wait(args.duration)
    for device in devices:
        device.stop()
    return 0
