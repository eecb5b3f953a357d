"""Republish received markers as LSL marker outlets, one per sender.

LabRecorder, LSL viewers and online analyses on the lab network only see
LSL, so every stored marker is also pushed live, stamped on this server's
clock (sender stamp + estimated offset): an inlet's time_correction then
treats it like any other stream from this host. The outlet has its own name
(AttuneMarkerRelay-<sender>) so a recorder that stores both the ZeroMQ
markers and every LSL stream cannot mistake the copy for the original.
"""
from __future__ import annotations

import pylsl

from .protocol import VERSION
from .streams import MARKER_TYPE, marker_source_id, relay_source_id, relay_stream_name


class LslRelay:
    """One irregular-rate string outlet per sender, created on first use."""

    def __init__(self) -> None:
        self._outlets: dict[str, pylsl.StreamOutlet] = {}

    def outlet(self, sender: str) -> pylsl.StreamOutlet:
        outlet = self._outlets.get(sender)
        if outlet is None:
            info = pylsl.StreamInfo(relay_stream_name(sender), MARKER_TYPE, 1, pylsl.IRREGULAR_RATE,
                                    pylsl.cf_string, relay_source_id(sender))
            attune = info.desc().append_child("attune")
            attune.append_child_value("sender", sender)
            attune.append_child_value("relay_of", marker_source_id(sender))
            attune.append_child_value("protocol_version", str(VERSION))
            attune.append_child_value("timestamps", "server pylsl.local_clock() (sender stamp + offset)")
            outlet = self._outlets[sender] = pylsl.StreamOutlet(info)
        return outlet

    def push(self, sender: str, stamps: list[float], values: list[str]) -> None:
        outlet = self.outlet(sender)
        for stamp, value in zip(stamps, values):
            outlet.push_sample([value], stamp)

    def close(self) -> None:
        self._outlets.clear()  # dropping the last reference destroys the outlet
