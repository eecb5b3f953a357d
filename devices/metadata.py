"""LSL stream descriptions with the XDF channel metadata analysis tools expect.

Every device stream carries ``desc/channels/channel`` (label, unit, type),
the manufacturer and a stable ``source_id``: liblsl uses the source_id to
recover an inlet when a device restarts, and pyxdf users read the labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import pylsl


@dataclass(frozen=True)
class Channel:
    label: str
    unit: str
    type: str


def stream_info(name: str, type_: str, channels: list[Channel], nominal_srate: float, fmt: str,
                source_id: str, manufacturer: str = "Attune (simulated)",
                can_drop_samples: bool = False) -> pylsl.StreamInfo:
    """Build a StreamInfo whose desc holds channel labels, units and types."""
    info = pylsl.StreamInfo(name, type_, len(channels), nominal_srate, fmt, source_id)
    desc = info.desc()
    desc.append_child_value("manufacturer", manufacturer)
    chans = desc.append_child("channels")
    for ch in channels:
        node = chans.append_child("channel")
        node.append_child_value("label", ch.label)
        node.append_child_value("unit", ch.unit)
        node.append_child_value("type", ch.type)
    if can_drop_samples:
        desc.append_child("synchronization").append_child_value("can_drop_samples", "true")
    return info
