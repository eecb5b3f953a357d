"""The simulated lab: reads configs/devices.yaml and runs the enabled devices.

Technicians rehearse a session with it, the demo records it, and the
benchmarks drive the recorder with it; all three use the same code.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configs import CONFIG_DIR, Fields, load_yaml
from devices.eyetracker import EyeTrackerSource
from devices.gsr import GSRSource
from devices.markers import MarkerThread
from devices.simulated import DeviceThread
from devices.webcam import ExpressionSource, FrameIndexSource

DEFAULT_DEVICES = CONFIG_DIR / "devices.yaml"
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
            seed=sec.number("seed", 0, integer=True),
        )
        if kind == "webcam":
            cfg.options["expression"] = sec.flag("expression", True)
        sec.finish()
        if not cfg.name:
            raise sec.error("name", "must not be empty")
        if enabled:
            configs.append(cfg)
    from devices.hardware import SECTIONS, parse_hardware
    parse_hardware(data, source)  # real devices are validated here too; `main.py devices run` starts them
    top.seen.update(SECTIONS)
    top.finish()
    return configs


def load_devices(path: str | os.PathLike = DEFAULT_DEVICES) -> list[DeviceConfig]:
    return parse_devices(load_yaml(path), Path(path))


class SimulatedLab:
    """Starts and stops a set of simulated devices in this process."""

    def __init__(self, configs: list[DeviceConfig]) -> None:
        self.threads: list[DeviceThread | MarkerThread] = []
        self.gsr: GSRSource | None = None
        self.expression: ExpressionSource | None = None
        self.eyetracker: EyeTrackerSource | None = None
        for cfg in configs:
            self.threads.extend(self._build(cfg))

    def _build(self, cfg: DeviceConfig) -> list[DeviceThread | MarkerThread]:
        if cfg.kind == "eyetracker":
            self.eyetracker = EyeTrackerSource(cfg.rate, cfg.name, cfg.source_id, cfg.seed)
            return [DeviceThread(self.eyetracker, chunk_interval=0.01)]
        if cfg.kind == "gsr":
            self.gsr = GSRSource(cfg.rate, cfg.name, cfg.source_id, cfg.seed)
            return [DeviceThread(self.gsr)]
        if cfg.kind == "webcam":
            threads = [DeviceThread(FrameIndexSource(cfg.rate, cfg.name, cfg.source_id), chunk_interval=0.01)]
            if cfg.options.get("expression"):
                self.expression = ExpressionSource(cfg.rate, cfg.name + "Expression",
                                                   cfg.source_id + "-expression", cfg.seed)
                threads.append(DeviceThread(self.expression, chunk_interval=0.01))
            return threads
        return [MarkerThread(cfg.rate, cfg.name, cfg.source_id, cfg.seed)]

    @property
    def stream_names(self) -> list[str]:
        return [t.source.info.name() if isinstance(t, DeviceThread) else t.info.name() for t in self.threads]

    def start(self, timeout: float = 5.0) -> None:
        for thread in self.threads:
            thread.start()
        for thread in self.threads:
            thread.ready.wait(timeout)

    def stop(self) -> None:
        for thread in self.threads:
            thread.stop_event.set()
        for thread in self.threads:
            thread.join(2.0)
