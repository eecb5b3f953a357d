"""Frames in and out: a camera or a video file as a frame source, and the video file writer.

Stamping: on Linux (V4L2) a frame carries the kernel's buffer time, taken
when the driver received the frame, on CLOCK_MONOTONIC, the clock
``pylsl.local_clock()`` reads there; OpenCV returns it as
``CAP_PROP_POS_MSEC``, and it is used when it is plausible (within a second
before now). Elsewhere, or if not plausible, the frame gets
``pylsl.local_clock()`` read right after ``VideoCapture.grab()`` returns,
i.e. as soon as the driver hands the frame over and before it is decoded
(``retrieve``). Exposure and USB transfer still come before either moment: a
constant lag per camera. A video file's frame k is stamped at the time the
playback was due to show it (start + k / fps), as a camera would have.

Dropped frames: a camera does not report them through OpenCV, so a gap
between consecutive capture stamps longer than 1.5 frame periods counts as
``round(gap * fps) - 1`` lost frames. A video file is paced at its own frame
rate like a camera: frames wait in a queue of 4 as in OpenCV's V4L2 capture
(DEFAULT_V4L_BUFFERS); if the pipeline falls further behind, the oldest
frames are skipped and counted the same way.

Written file: Matroska (``.mkv``) with MPEG-4 Part 2 video (fourcc
``mp4v``): OpenCV's own FFmpeg writes it on Linux, Windows and macOS with no
extra codec download (H.264 would need openh264 or a GPL build), ffmpeg and
VLC play it, it costs about 1 ms a frame at 640x480, and a Matroska file cut
short by a crash stays readable up to the last frame written (an MP4 without
its closing index does not).
"""
from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pylsl

from devices.opencv import cv2

MAX_PIXELS = 4096 * 4096
SIDE_RANGE = (16, 4096)  # pixels a requested frame side may have
FPS_RANGE = (1, 240)  # frames per second a camera may be asked for, or a video file may play at
VIDEO_SUFFIXES = {".mkv": "mp4v", ".avi": "MJPG", ".mp4": "mp4v"}
MAX_SKIP = 10_000  # frames skipped at once when a file playback falls behind (bounded work)
QUEUED_FRAMES = 4  # frames a camera driver holds before it drops (OpenCV's V4L2 default buffer count)


class VideoError(RuntimeError):
    """A camera, video file or output path that cannot be used; the message names it."""


@dataclass
class Frame:
    image: np.ndarray       # BGR, height x width x 3
    stamp: float            # LSL clock when the frame was handed over
    dropped_before: int     # frames lost since the previous delivered frame


@dataclass
class Format:
    width: int
    height: int
    fps: float

    def __str__(self) -> str:
        return f"{self.width}x{self.height} @ {self.fps:g} fps"


def camera_backend() -> int:
    """The native capture API per platform (CAP_ANY may pick a slow or GStreamer backend)."""
    cv = cv2()
    if sys.platform == "win32":
        return cv.CAP_DSHOW   # opens quickly and honours width/height/fps requests
    if sys.platform == "darwin":
        return cv.CAP_AVFOUNDATION
    return cv.CAP_V4L2


def _format_of(capture) -> Format:
    cv = cv2()
    return Format(int(capture.get(cv.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv.CAP_PROP_FRAME_HEIGHT)),
                  float(capture.get(cv.CAP_PROP_FPS) or 0.0))


class GapCounter:
    """Counts frames missing between capture stamps, from the nominal frame period."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.last: float | None = None

    def dropped(self, stamp: float) -> int:
        last, self.last = self.last, stamp
        if last is None or self.fps <= 0:
            return 0
        gap = (stamp - last) * self.fps
        return max(0, round(gap) - 1) if gap > 1.5 else 0


class CameraSource:
    """A live camera by index; asks for a format and records what the camera delivers."""

    def __init__(self, index: int, width: int = 640, height: int = 480, fps: float = 30.0,
                 clock: Callable[[], float] = pylsl.local_clock) -> None:
        cv = cv2()
        self.name = f"camera {index}"
        self.requested = Format(width, height, fps)
        self.capture = cv.VideoCapture(index, camera_backend())
        if not self.capture.isOpened():
            self.capture = cv.VideoCapture(index, cv.CAP_ANY)
        if not self.capture.isOpened():
            raise VideoError(f"camera {index}: cannot be opened (not connected, or in use by another program)")
        self.capture.set(cv.CAP_PROP_FRAME_WIDTH, width)
        self.capture.set(cv.CAP_PROP_FRAME_HEIGHT, height)
        self.capture.set(cv.CAP_PROP_FPS, fps)
        self.delivered = _format_of(self.capture)
        if self.delivered.fps <= 0:
            self.delivered.fps = fps  # some drivers do not say; the measured rate is reported at the end
        self.clock = clock
        self.gaps = GapCounter(self.delivered.fps)
        self.unreported_drops = 0
        self.cv = cv
        # V4L2 buffer times are CLOCK_MONOTONIC, local_clock's clock, only on Linux
        self.kernel_stamps = sys.platform.startswith("linux") and self.capture.getBackendName() == "V4L2"
        self.stamping = ("V4L2 kernel buffer time (CLOCK_MONOTONIC) when plausible, else LSL local_clock after grab()"
                         if self.kernel_stamps else "LSL local_clock right after VideoCapture.grab(), before decoding")

    def _stamp(self) -> float:
        now = self.clock()
        if self.kernel_stamps:
            driver = self.capture.get(self.cv.CAP_PROP_POS_MSEC) / 1000.0
            if 0.0 <= now - driver <= 1.0:
                return driver
        return now

    def read(self, stop: threading.Event) -> Frame | None:
        if stop.is_set() or not self.capture.grab():
            return None
        stamp = self._stamp()
        ok, image = self.capture.retrieve()
        if not ok or image is None:
            return None
        return Frame(image, stamp, self.gaps.dropped(stamp))

    def close(self) -> None:
        self.capture.release()


class VideoFileSource:
    """Plays a video file at its own frame rate, as if a camera delivered it (rehearsal, tests)."""

    def __init__(self, path: str | os.PathLike, clock: Callable[[], float] = pylsl.local_clock,
                 realtime: bool = True) -> None:
        cv = cv2()
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such video file")
        self.capture = cv.VideoCapture(str(self.path), cv.CAP_FFMPEG)
        if not self.capture.isOpened():
            raise VideoError(f"{self.path}: not a video file OpenCV can read")
        self.delivered = _format_of(self.capture)
        if not (0 < self.delivered.width * self.delivered.height <= MAX_PIXELS):
            raise VideoError(f"{self.path}: frame size {self.delivered.width}x{self.delivered.height} is not usable")
        lo, hi = FPS_RANGE
        if not (math.isfinite(self.delivered.fps) and lo <= self.delivered.fps <= hi):
            raise VideoError(f"{self.path}: frame rate {self.delivered.fps!r} is not usable ({lo}..{hi} fps)")
        self.requested = None
        self.clock = clock
        self.realtime = realtime
        self.stamping = "LSL clock at which playback was due to show the frame (start + index / fps)"
        self.start: float | None = None
        self.position = 0  # index of the next frame in the file
        self.unreported_drops = 0  # skipped just before the file ended: no later frame to carry them

    def read(self, stop: threading.Event) -> Frame | None:
        period = 1.0 / self.delivered.fps
        if self.start is None:
            self.start = self.clock()
        skipped = 0
        if self.realtime:
            late = self.clock() - (self.start + self.position * period)
            while late > QUEUED_FRAMES * period and skipped < MAX_SKIP:  # queue full: drop as a camera would
                if not self.capture.grab():
                    self.unreported_drops += skipped
                    return None
                self.position += 1
                skipped += 1
                late -= period
            wait = self.start + self.position * period - self.clock()
            if wait > 0 and stop.wait(wait):
                return None
        if stop.is_set() or not self.capture.grab():
            self.unreported_drops += skipped
            return None
        stamp = self.start + self.position * period if self.realtime else self.clock()
        ok, image = self.capture.retrieve()
        if not ok or image is None:
            self.unreported_drops += skipped
            return None
        self.position += 1
        return Frame(image, stamp, skipped)

    def close(self) -> None:
        self.capture.release()


def check_video_path(path: str | os.PathLike) -> Path:
    """A new video file path: known suffix, folder creatable, nothing overwritten."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise VideoError(f"{path}: the video file must end in " + ", ".join(VIDEO_SUFFIXES))
    if path.exists():
        raise VideoError(f"{path} already exists; a recorded video is never overwritten")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VideoError(f"{path.parent}: cannot create the video folder ({exc.strerror})") from exc
    return path


class VideoWriter:
    """Writes frames of one size to a new file; refuses to overwrite and reports failures."""

    def __init__(self, path: str | os.PathLike, fmt: Format) -> None:
        cv = cv2()
        self.cv = cv
        self.path = check_video_path(path)
        self.size = (fmt.width, fmt.height)
        fourcc = cv.VideoWriter_fourcc(*VIDEO_SUFFIXES[self.path.suffix.lower()])
        self.writer = cv.VideoWriter(str(self.path), cv.CAP_FFMPEG, fourcc, fmt.fps, self.size)
        if not self.writer.isOpened():
            raise VideoError(f"{self.path}: OpenCV cannot write this video file")
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:  # a frame of another size would be dropped silently
            image = self.cv.resize(image, self.size)
        self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        self.writer.release()
        if self.frames and (not self.path.is_file() or self.path.stat().st_size == 0):
            raise VideoError(f"{self.path}: the video file was not written")
