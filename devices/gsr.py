"""Simulated galvanic skin response (electrodermal activity) sensor.

Skin conductance level (SCL) drifts slowly between about 2 and 20 uS; skin
conductance responses (SCRs, 0.1-1 uS) rise over ~1 s and recover over
several seconds. Responses come spontaneously (a few per minute) and, when
``respond()`` is called, 1-3 s after a stimulus, as in a real participant.
"""
from __future__ import annotations

import threading

import numpy as np

from devices.metadata import Channel, stream_info
from devices.simulated import SampleSource

CHANNELS = [Channel("skin_conductance", "microsiemens", "GSR")]


def scr_shape(t: np.ndarray, rise: float = 0.75, decay: float = 4.0) -> np.ndarray:
    """Bi-exponential SCR waveform normalised to a peak of 1 (0 before onset)."""
    t = np.maximum(t, 0.0)
    shape = np.exp(-t / decay) - np.exp(-t / rise)
    peak_t = np.log(decay / rise) * rise * decay / (decay - rise)
    peak = np.exp(-peak_t / decay) - np.exp(-peak_t / rise)
    return shape / peak


class GSRSource(SampleSource):
    def __init__(self, rate: float = 128.0, name: str = "SimGSR", source_id: str = "attune-sim-gsr",
                 seed: int = 2, level: float = 5.0, spontaneous_per_min: float = 3.0) -> None:
        self.rate = rate
        self.info = stream_info(name, "GSR", CHANNELS, rate, "float32", source_id)
        self.rng = np.random.default_rng(seed)
        self.level = level
        self.spontaneous_per_sample = spontaneous_per_min / 60.0 / rate
        self.sample_index = 0
        self.responses: list[tuple[int, float]] = []  # (onset sample, amplitude)
        self._pending: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def respond(self, delay_s: float, amplitude_us: float) -> None:
        """Schedule an SCR ``delay_s`` after the next generated sample (stimulus-locked)."""
        with self._lock:
            self._pending.append((delay_s, amplitude_us))

    def generate(self, n: int) -> np.ndarray:
        idx = self.sample_index + np.arange(n)
        with self._lock:
            for delay, amp in self._pending:
                self.responses.append((self.sample_index + int(delay * self.rate), amp))
            self._pending.clear()
        for k in np.nonzero(self.rng.random(n) < self.spontaneous_per_sample)[0]:
            self.responses.append((int(idx[k]), float(self.rng.uniform(0.1, 0.5))))
        # Tonic level: a slow random walk pulled back toward 5 uS, kept in 2..20 uS.
        steps = self.rng.normal(0, 0.002, n) - 0.0005 * (self.level - 5.0)
        tonic = np.clip(self.level + np.cumsum(steps), 2.0, 20.0)
        self.level = float(tonic[-1])
        phasic = np.zeros(n)
        horizon = int(30 * self.rate)
        self.responses = [(s, a) for s, a in self.responses if idx[0] - s < horizon]
        for onset, amp in self.responses:
            phasic += amp * scr_shape((idx - onset) / self.rate)
        noise = self.rng.normal(0, 0.003, n)
        self.sample_index += n
        return (tonic + phasic + noise).astype(np.float32).reshape(n, 1)
