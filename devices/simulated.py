"""The clock loop shared by every simulated device.

A simulated device is an LSL outlet plus a signal model. The loop wakes
every ``chunk_interval`` seconds, asks the model for exactly the samples
that became due since the start (so the rate is exact over hours, whatever
the sleep jitter) and pushes them with their ideal timestamps on the LSL
clock, as a real amplifier driver does.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pylsl


class SampleSource:
    """A signal model: produces the next ``n`` samples of a regular stream."""

    info: pylsl.StreamInfo

    def generate(self, n: int) -> np.ndarray | list[list[str]]:
        raise NotImplementedError


class DeviceThread(threading.Thread):
    """Pushes one source's samples into its own LSL outlet at the nominal rate."""

    def __init__(self, source: SampleSource, chunk_interval: float = 0.02,
                 clock: Callable[[], float] = pylsl.local_clock) -> None:
        super().__init__(name=f"device-{source.info.name()}", daemon=True)
        self.source = source
        self.chunk_interval = chunk_interval
        self.clock = clock
        self.stop_event = threading.Event()
        self.samples_sent = 0
        self.outlet: pylsl.StreamOutlet | None = None
        self.ready = threading.Event()

    def run(self) -> None:
        rate = self.source.info.nominal_srate()
        self.outlet = pylsl.StreamOutlet(self.source.info, chunk_size=0, max_buffered=360)
        self.ready.set()
        start = self.clock()
        while not self.stop_event.wait(self.chunk_interval):
            due = int((self.clock() - start) * rate) - self.samples_sent
            if due <= 0:
                continue
            values = self.source.generate(due)
            last_stamp = start + (self.samples_sent + due - 1) / rate
            self.outlet.push_chunk(values, last_stamp)
            self.samples_sent += due
        self.outlet = None  # drops the outlet: the stream disappears from the network

    def stop(self, timeout: float = 2.0) -> None:
        self.stop_event.set()
        self.join(timeout)
