"""Real devices named in configs/devices.yaml: serial GSR boards, a Shimmer3 GSR+, a Gazepoint tracker.

They are off by default (the simulated devices stay the demo's and the tests'
default). ``main.py devices run`` starts the enabled ones; each publishes
the same LSL layout as its simulated counterpart.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from configs import Fields, load_yaml
from devices.gazepoint import GazepointAdapter, GazepointConfig
from devices.gazepoint import parse_section as parse_gazepoint
from devices.serial_gsr import SerialGSRConfig, SerialGSRDevice
from devices.serial_gsr import parse_section as parse_serial

SECTIONS = ("serial_gsr", "shimmer_gsr", "gazepoint")
HardwareConfig = SerialGSRConfig | GazepointConfig


def parse_hardware(data: dict, source: str | os.PathLike) -> list[HardwareConfig]:
    """The enabled hardware sections of a devices mapping; errors name the file and field."""
    top = Fields(data, source)
    enabled: list[HardwareConfig] = []
    for kind in SECTIONS:
        if kind not in data:
            continue
        sec = top.section(kind)
        cfg, on = parse_gazepoint(sec) if kind == "gazepoint" else parse_serial(kind, sec)
        if on:
            enabled.append(cfg)
    return enabled


def load_hardware(path: str | os.PathLike) -> list[HardwareConfig]:
    return parse_hardware(load_yaml(path), Path(path))


def build(cfg: HardwareConfig, on_status: Callable[[str], None] | None = None) -> SerialGSRDevice | GazepointAdapter:
    if isinstance(cfg, GazepointConfig):
        return GazepointAdapter(cfg, on_status)
    return SerialGSRDevice(cfg, on_status)
