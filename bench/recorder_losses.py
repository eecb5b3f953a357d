"""Compare what a recorder wrote (XDF, read with pyxdf) with what the sources pushed.

For each stream the recorded stamps are matched to the pushed ones; then
- inside: pushed samples missing between the first and last recorded one,
- tail: samples pushed before the stop request but after the last recorded one,
- extra: recorded stamps that match nothing pushed, plus duplicates.
Samples before a recorder's first recorded one are not counted: that is
where its recording starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyxdf


@dataclass
class PushLog:
    """What the source process pushed on one stream (see recorder_sources.save_log)."""

    rate: float
    stamps: np.ndarray  # every pushed stamp, in push order
    push_times: np.ndarray  # LSL clock after each push
    push_counts: np.ndarray  # samples pushed so far after each push

    def pushed_before(self, t: float) -> int:
        """How many samples had been pushed when the clock read ``t``."""
        k = int(np.searchsorted(self.push_times, t, side="left"))
        return int(self.push_counts[k - 1]) if k > 0 else 0


@dataclass
class StreamLoss:
    name: str
    rate: float
    recorded: int
    inside: int
    tail: int
    extra: int
    missing: bool = False

    @property
    def tail_seconds(self) -> float:
        return self.tail / self.rate if self.rate > 0 else 0.0


def load_push_logs(path: Path) -> dict[str, PushLog]:
    """Per stream suffix, the push log written by the source process."""
    data = np.load(path)
    suffixes = sorted({key.split(".")[0] for key in data.files})
    logs = {}
    for suffix in suffixes:
        rate = float(data[f"{suffix}.rate"])
        counts = data[f"{suffix}.push_counts"]
        total = int(counts[-1]) if len(counts) else 0
        if rate > 0:
            stamps = float(data[f"{suffix}.t0"]) + np.arange(total) / rate
        else:
            stamps = data[f"{suffix}.marker_stamps"]
        logs[suffix] = PushLog(rate, stamps, data[f"{suffix}.push_times"], counts)
    return logs


def recorded_stamps(path: Path) -> dict[str, np.ndarray]:
    """Raw recorded stamps per stream name (no clock sync, no dejitter)."""
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False,
                                handle_clock_resets=False, verbose=False)
    return {s["info"]["name"][0]: np.asarray(s["time_stamps"], dtype=np.float64) for s in streams}


def match_indices(pushed: np.ndarray, recorded: np.ndarray, tolerance: float) -> np.ndarray:
    """For each recorded stamp, the index of the pushed stamp it equals (within tolerance), else -1."""
    if len(pushed) == 0 or len(recorded) == 0:
        return np.full(len(recorded), -1, dtype=np.int64)
    right = np.clip(np.searchsorted(pushed, recorded), 0, len(pushed) - 1)
    left = np.clip(right - 1, 0, len(pushed) - 1)
    nearest = np.where(np.abs(pushed[left] - recorded) <= np.abs(pushed[right] - recorded), left, right)
    return np.where(np.abs(pushed[nearest] - recorded) <= tolerance, nearest, -1)


def stream_loss(name: str, log: PushLog, recorded: np.ndarray | None, stop_time: float,
                start_time: float) -> StreamLoss:
    """Loss figures of one stream for a recorder stopped at ``stop_time``."""
    before_stop = log.pushed_before(stop_time)
    if recorded is None or len(recorded) == 0:
        lost = before_stop - log.pushed_before(start_time)
        return StreamLoss(name, log.rate, 0, lost, 0, 0, missing=True)
    tolerance = 0.25 / log.rate if log.rate > 0 else 1e-6
    index = match_indices(log.stamps, recorded, tolerance)
    matched = np.unique(index[index >= 0])
    first, last = (int(matched[0]), int(matched[-1])) if len(matched) else (0, -1)
    inside = (last - first + 1) - len(matched)
    tail = max(0, before_stop - 1 - last)
    extra = len(recorded) - len(matched)
    return StreamLoss(name, log.rate, len(recorded), inside, tail, extra)


def losses(xdf: Path, logs: dict[str, PushLog], prefix: str, start_time: float,
           stop_time: float) -> list[StreamLoss]:
    """Loss figures of every source stream in one recorder's file."""
    stamps = recorded_stamps(xdf) if xdf.exists() else {}
    return [stream_loss(f"{prefix}_{suffix}", log, stamps.get(f"{prefix}_{suffix}"), stop_time, start_time)
            for suffix, log in logs.items()]
