"""The lab: reads configs/devices.yaml and runs the enabled devices.

Technicians rehearse a session with it, the demo records it, and the
benchmarks drive the recorder with it; all three use the same code. Every
device is simulated except the webcam when its ``source`` is ``camera`` or
``video`` (devices.webcam_device).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from configs import CONFIG_DIR, ConfigError, Fields, load_yaml
from devices.eyetracker import EyeTrackerSource
from devices.gsr import GSRSource
from devices.markers import MarkerThread
from devices.preview import FramePreview
from devices.simulated import DeviceThread
from devices.video import SIDE_RANGE
from devices.webcam import ExpressionSource, FrameIndexSource
from devices.webcam_device import WebcamDevice, WebcamSettings

DEFAULT_DEVICES = CONFIG_DIR / "devices.yaml"
WEBCAM_SOURCES = ["simulated", "camera", "video"]
RATE_LIMITS = {"eyetracker": (1, 1200), "gsr": (1, 1000), "webcam": (1, 120), "markers": (0.01, 1000)}


@dataclass
class DeviceConfig:
    kind: str
    rate: float
    name: str
    source_id: str
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


def parse_devices(data: dict, source: str | os.PathLike) -> list[DeviceConfig]:
    """Validate a devices mapping; every error names the file and field."""
    top = Fields(data, source)
    defaults = {"eyetracker": (300, "SimEyeTracker"), "gsr": (128, "SimGSR"),
                "webcam": (30, "SimWebcam"), "markers": (2, "SimMarkers")}
    configs = []
    for kind, (rate, name) in defaults.items():
        if kind not in data:
            top.seen.add(kind)
            continue
        sec = top.section(kind)
        enabled = sec.flag("enabled", True)
        lo, hi = RATE_LIMITS[kind]
        cfg = DeviceConfig(
            kind=kind,
            rate=sec.number("rate", rate, lo=lo, hi=hi),
            name=sec.text("name", name),
            source_id=sec.text("source_id", f"attune-sim-{kind}"),
            seed=sec.number("seed", 0, lo=0, hi=2**63 - 1, integer=True),
        )
        if kind == "webcam":
            cfg.options.update(webcam_options(sec, Path(source).parent))
        sec.finish()
        if not cfg.name:
            raise sec.error("name", "must not be empty")
        if enabled:
            configs.append(cfg)
    from devices.hardware import SECTIONS, parse_hardware
    parse_hardware(data, source)  # real devices are validated here too; `main.py devices run` starts them
    top.seen.update(SECTIONS)
    top.finish()
    if not configs:
        raise ConfigError(source, "", "no simulated device is enabled: name at least one of "
                                      f"{', '.join(defaults)} (with enabled: true or no enabled key)")
    return configs


def webcam_options(sec: Fields, base: Path) -> dict[str, Any]:
    """The webcam section's real-device settings; relative paths are taken from the config's folder."""
    options: dict[str, Any] = {"expression": sec.flag("expression", True),
                               "source": sec.text("source", "simulated", choices=WEBCAM_SOURCES)}
    camera = sec.number("camera", 0, lo=0, hi=99, integer=True)
    video = sec.text("video")
    folder = sec.text("save_video_folder")
    options["width"] = sec.number("width", 640, lo=SIDE_RANGE[0], hi=SIDE_RANGE[1], integer=True)
    options["height"] = sec.number("height", 480, lo=SIDE_RANGE[0], hi=SIDE_RANGE[1], integer=True)
    options["method"] = sec.text("method", "auto", choices=["auto", "mediapipe", "haar"])
    if options["source"] == "camera":
        options["camera"] = camera
    if options["source"] == "video":
        if not video:
            raise sec.error("video", "is required when source is video (a video file to play)")
        options["video"] = base / video
    if folder:
        options["save_video_folder"] = base / folder
    return options


def webcam_settings(cfg: DeviceConfig) -> WebcamSettings:
    """A real webcam from its config; the video file gets a new name per start, so none is overwritten."""
    opts = cfg.options
    save = None
    if opts.get("save_video_folder"):
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S_%fZ")
        save = Path(opts["save_video_folder"]) / f"{cfg.name}_{stamp}_video.mkv"
    return WebcamSettings(camera=opts.get("camera"), video=opts.get("video"), save_video=save,
                          width=opts["width"], height=opts["height"], fps=cfg.rate, name=cfg.name,
                          source_id=cfg.source_id, expression=opts["expression"], method=opts["method"])


def load_devices(path: str | os.PathLike = DEFAULT_DEVICES) -> list[DeviceConfig]:
    return parse_devices(load_yaml(path), Path(path))


class SimulatedLab:
    """Starts and stops a set of simulated devices in this process."""

    def __init__(self, configs: list[DeviceConfig]) -> None:
        self.threads: list[DeviceThread | MarkerThread | WebcamDevice] = []
        self.gsr: GSRSource | None = None
        self.expression: ExpressionSource | None = None
        self.eyetracker: EyeTrackerSource | None = None
        for cfg in configs:
            self.threads.extend(self._build(cfg))

    def _build(self, cfg: DeviceConfig) -> list[DeviceThread | MarkerThread | WebcamDevice]:
        if cfg.kind == "eyetracker":
            self.eyetracker = EyeTrackerSource(cfg.rate, cfg.name, cfg.source_id, cfg.seed)
            return [DeviceThread(self.eyetracker, chunk_interval=0.01)]
        if cfg.kind == "gsr":
            self.gsr = GSRSource(cfg.rate, cfg.name, cfg.source_id, cfg.seed)
            return [DeviceThread(self.gsr)]
        if cfg.kind == "webcam" and cfg.options.get("source", "simulated") != "simulated":
            return [WebcamDevice(webcam_settings(cfg), linger=None)]
        if cfg.kind == "webcam":
            threads = [DeviceThread(FrameIndexSource(cfg.rate, cfg.name, cfg.source_id), chunk_interval=0.01)]
            if cfg.options.get("expression"):
                self.expression = ExpressionSource(cfg.rate, cfg.name + "Expression",
                                                   cfg.source_id + "-expression", cfg.seed)
                threads.append(DeviceThread(self.expression, chunk_interval=0.01))
            return threads
        return [MarkerThread(cfg.rate, cfg.name, cfg.source_id, cfg.seed)]

    @property
    def camera_preview(self) -> FramePreview | None:
        """The first real webcam's preview (None with a simulated webcam: it has no pixels)."""
        return next((t.preview for t in self.threads if isinstance(t, WebcamDevice) and t.preview is not None), None)

    @property
    def stream_names(self) -> list[str]:
        names = []
        for t in self.threads:
            if isinstance(t, WebcamDevice):
                names.extend(t.stream_names)
            else:
                names.append(t.source.info.name() if isinstance(t, DeviceThread) else t.info.name())
        return names

    def start(self, timeout: float = 5.0) -> None:
        for thread in self.threads:
            thread.start()
        for thread in self.threads:
            thread.ready.wait(timeout)
        failed = [t for t in self.threads if isinstance(t, WebcamDevice) and t.error is not None]
        if failed:
            self.stop()
            raise RuntimeError(f"webcam {failed[0].settings.name}: {failed[0].error}")

    def stop(self) -> None:
        for thread in self.threads:
            thread.stop_event.set()
        for thread in self.threads:
            thread.join(2.0)
