"""The real webcam: frames from a camera or a video file -> video file + VideoFrames + FacialExpression.

One thread per camera does, for each frame: stamp at capture (see
devices.video), write it to the video file, push one ``VideoFrames`` sample
(the frame's index in the written file, and the running count of dropped
frames) stamped with the capture time, then estimate the expression and push
one ``FacialExpression`` sample with the same stamp. So every frame in the
file has exactly one sample, a marker maps to a frame by its stamp, and the
expression lines up with the frame it came from.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pylsl

from devices.expression import EXPRESSION_CHANNELS, make_estimator
from devices.metadata import Channel, stream_info
from devices.preview import FramePreview
from devices.video import CameraSource, Format, Frame, VideoError, VideoFileSource, VideoWriter

log = logging.getLogger(__name__)

FRAME_CHANNELS = [Channel("frame_index", "count", "FrameIndex"), Channel("dropped_frames", "count", "Dropped")]
MANUFACTURER = "Attune (OpenCV webcam)"


@dataclass
class WebcamSettings:
    camera: int | None = None          # a camera index, or
    video: Path | None = None          # a video file played at its own frame rate
    save_video: Path | None = None     # the video file to write (None: do not write one)
    width: int = 640
    height: int = 480
    fps: float = 30.0
    name: str = "Webcam"
    source_id: str = "attune-webcam"
    expression: bool = True
    method: str = "auto"               # auto (mediapipe, else Haar), mediapipe, haar

    def open_source(self, clock: Callable[[], float]) -> CameraSource | VideoFileSource:
        if (self.camera is None) == (self.video is None):
            raise VideoError("webcam: give either a camera index or a video file")
        if self.video is not None:
            return VideoFileSource(self.video, clock)
        return CameraSource(self.camera, self.width, self.height, self.fps, clock)


@dataclass
class WebcamStats:
    frames: int = 0
    dropped: int = 0
    first_stamp: float | None = None
    last_stamp: float | None = None
    latencies: list[float] | None = None  # capture -> last LSL push, seconds, per frame

    @property
    def measured_fps(self) -> float:
        if self.frames < 2 or self.first_stamp is None or self.last_stamp is None:
            return 0.0
        return (self.frames - 1 + self.dropped) / (self.last_stamp - self.first_stamp)


class WebcamDevice(threading.Thread):
    """Runs one camera (or video file) until stopped, the file ends, or ``duration`` passes.

    ``go``: outlets exist once ``ready`` is set; capture starts when ``go`` is set
    (default: at once), so a recorder can subscribe before the first frame.
    ``linger``: seconds the outlets stay after the last frame, so recorders
    pull the tail (None: until stop()).
    """

    def __init__(self, settings: WebcamSettings, duration: float | None = None, go: threading.Event | None = None,
                 linger: float | None = 1.0, clock: Callable[[], float] = pylsl.local_clock) -> None:
        super().__init__(name=f"webcam-{settings.name}", daemon=True)
        self.settings = settings
        self.duration = duration
        self.clock = clock
        self.go = go
        self.linger = linger
        # opened in run(), so a slow camera never blocks the caller (the control panel's GUI thread)
        self.source: CameraSource | VideoFileSource | None = None
        self.format: Format | None = None
        self.estimator = None
        self.frames_info: pylsl.StreamInfo | None = None
        self.expression_info: pylsl.StreamInfo | None = None
        self.stats = WebcamStats(latencies=[])
        self.preview: FramePreview | None = None  # the latest small frame for the panel, once the source is open
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.finished = threading.Event()   # the last frame has been pushed
        self.error: Exception | None = None

    # -- stream descriptions ------------------------------------------------------
    def _frames_info(self) -> pylsl.StreamInfo:
        s = self.settings
        info = stream_info(s.name, "VideoFrames", FRAME_CHANNELS, self.format.fps, "int32", s.source_id,
                           MANUFACTURER, can_drop_samples=True)
        video = info.desc().append_child("video")
        video.append_child_value("file", s.save_video.name if s.save_video else "")
        video.append_child_value("source", self.source.name)
        video.append_child_value("width", str(self.format.width))
        video.append_child_value("height", str(self.format.height))
        video.append_child_value("fps", f"{self.format.fps:g}")
        if self.source.requested is not None:
            video.append_child_value("requested", str(self.source.requested))
        video.append_child_value("stamp", self.source.stamping)
        return info

    def _expression_info(self) -> pylsl.StreamInfo:
        s = self.settings
        info = stream_info(s.name + "Expression", "FacialExpression", EXPRESSION_CHANNELS, self.format.fps,
                           "float32", s.source_id + "-expression", MANUFACTURER)
        info.desc().append_child_value("method", self.estimator.method)
        info.desc().append_child_value("video_stream", s.source_id)
        return info

    @property
    def stream_names(self) -> list[str]:
        names = [self.settings.name]
        return names + [self.settings.name + "Expression"] if self.settings.expression else names

    def _open(self) -> None:
        self.source = self.settings.open_source(self.clock)
        self.format = self.source.delivered
        self.preview = FramePreview(self.format.fps)
        self.estimator = make_estimator(self.settings.method) if self.settings.expression else None
        self.frames_info = self._frames_info()
        self.expression_info = self._expression_info() if self.estimator is not None else None

    # -- the loop -------------------------------------------------------------------
    def run(self) -> None:
        writer = None
        try:
            self._open()
            frames_out = pylsl.StreamOutlet(self.frames_info, chunk_size=1, max_buffered=360)
            expression_out = (pylsl.StreamOutlet(self.expression_info, chunk_size=1, max_buffered=360)
                              if self.expression_info is not None else None)
            if self.settings.save_video is not None:
                writer = VideoWriter(self.settings.save_video, self.format)
            self.ready.set()
            if self.go is not None:
                while not self.go.wait(0.1):
                    if self.stop_event.is_set():
                        return
            self._capture(frames_out, expression_out, writer)
            if writer is not None:
                writer, done = None, writer
                done.close()  # the file is complete before anyone is told the frames are done
            self.finished.set()
            self.stop_event.wait(self.linger)
        except Exception as exc:  # reported to whoever started the device
            self.error = exc
            log.error("webcam %s: %s", self.settings.name, exc)
        finally:
            self.ready.set()
            self.finished.set()
            if self.source is not None:
                self.source.close()
            if self.estimator is not None:
                self.estimator.close()
            if writer is not None:
                try:
                    writer.close()
                except VideoError as exc:
                    self.error = self.error or exc

    def _capture(self, frames_out: pylsl.StreamOutlet, expression_out: pylsl.StreamOutlet | None,
                 writer: VideoWriter | None) -> None:
        stats = self.stats
        end = None if self.duration is None else self.clock() + self.duration
        while not self.stop_event.is_set() and (end is None or self.clock() < end):
            frame: Frame | None = self.source.read(self.stop_event)
            if frame is None:
                if isinstance(self.source, CameraSource) and not self.stop_event.is_set():
                    self.error = VideoError(f"{self.source.name}: stopped delivering frames after "
                                            f"{stats.frames} (unplugged, or taken by another program?)")
                break
            stats.dropped += frame.dropped_before
            self.preview.offer(frame.image)
            if writer is not None:
                writer.write(frame.image)
            frames_out.push_sample([stats.frames, stats.dropped], frame.stamp)
            if expression_out is not None:
                expression_out.push_sample(self.estimator.estimate(frame.image), frame.stamp)
            stats.latencies.append(self.clock() - frame.stamp)
            if stats.first_stamp is None:
                stats.first_stamp = frame.stamp
            stats.last_stamp = frame.stamp
            stats.frames += 1
        stats.dropped += self.source.unreported_drops

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.join(timeout)

    # -- report -----------------------------------------------------------------------
    def format_report(self) -> str:
        """Requested against delivered format, measured rate, drops: what a technician checks."""
        if self.source is None or self.format is None:
            return f"source: not open ({self.error})"
        lines = [f"source: {self.source.name}"]
        requested = self.source.requested
        if requested is not None:
            lines.append(f"requested {requested}; camera delivers {self.format}")
            if (requested.width, requested.height) != (self.format.width, self.format.height):
                lines.append(f"  resolution differs: {self.format.width}x{self.format.height} "
                             f"instead of {requested.width}x{requested.height}")
            if abs(requested.fps - self.format.fps) > 0.5:
                lines.append(f"  frame rate differs: {self.format.fps:g} instead of {requested.fps:g} fps")
        else:
            lines.append(f"video file format: {self.format}")
        return "\n".join(lines)

    def summary(self) -> str:
        s = self.stats
        lat = np.array(s.latencies or [np.nan]) * 1000
        nominal = self.format.fps if self.format else 0.0
        text = (f"{s.frames} frames, {s.dropped} dropped, measured {s.measured_fps:.2f} fps (nominal {nominal:g}); "
                f"capture->LSL latency p50 {np.nanpercentile(lat, 50):.1f} ms, "
                f"p99 {np.nanpercentile(lat, 99):.1f} ms")
        if self.settings.save_video is not None:
            text += f"\nvideo: {self.settings.save_video}"
        return text
