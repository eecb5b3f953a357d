"""Simulated irregular string marker stream (a stand-in for a stimulus program).

Used by the demo before a stimulus task runs and by the benchmarks: markers
arrive at random moments (Poisson, ``rate`` per second on average), each
stamped with the moment it was pushed.
"""
from __future__ import annotations

import threading

import numpy as np
import pylsl

from devices.metadata import Channel, stream_info


class MarkerThread(threading.Thread):
    def __init__(self, rate: float = 2.0, name: str = "SimMarkers",
                 source_id: str = "attune-sim-markers", seed: int = 4) -> None:
        super().__init__(name=f"device-{name}", daemon=True)
        self.rate = rate
        self.info = stream_info(name, "Markers", [Channel("marker", "", "Marker")], pylsl.IRREGULAR_RATE,
                                "string", source_id)
        self.rng = np.random.default_rng(seed)
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.samples_sent = 0

    def run(self) -> None:
        outlet = pylsl.StreamOutlet(self.info)
        self.ready.set()
        while not self.stop_event.wait(self.rng.exponential(1.0 / self.rate)):
            self.samples_sent += 1
            outlet.push_sample([f"sim_event {self.samples_sent}"], pylsl.local_clock())
        del outlet

    def stop(self, timeout: float = 2.0) -> None:
        self.stop_event.set()
        self.join(timeout)
