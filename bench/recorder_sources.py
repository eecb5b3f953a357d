"""Synthetic LSL sources for the recorder benchmark, run in their own process.

    python bench/recorder_sources.py --scenario lab --prefix bench1234 --log out/sources.npz

Every sample carries a known stamp: sample ``i`` of a regular stream is
stamped ``t0 + i / rate`` and pushed once that time has come; markers are
stamped with their scheduled time. Channel 0 holds the sample index. Each
push is logged (LSL clock after the push, samples pushed so far), so the
benchmark can tell exactly which samples existed before a stop request.
The log is written when the process gets SIGINT/SIGTERM or its stdin closes.
"""
from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from configs import use_lsl_config

use_lsl_config()

import numpy as np  # noqa: E402
import pylsl  # noqa: E402


@dataclass(frozen=True)
class StreamSpec:
    """One synthetic stream: rate 0 means irregular (string markers, about 2/s)."""

    suffix: str
    type: str
    channels: int
    rate: float
    fmt: str


SCENARIOS: dict[str, list[StreamSpec]] = {
    "lab": [
        StreamSpec("EyeTracker", "Gaze", 8, 1200.0, "float32"),
        StreamSpec("GSR", "GSR", 1, 128.0, "float32"),
        StreamSpec("WebcamFrames", "VideoFrameIndex", 1, 30.0, "int32"),
        StreamSpec("Markers", "Markers", 1, 0.0, "string"),
    ],
    "heavy": [StreamSpec(f"EEG{i:02d}", "EEG", 64, 1000.0, "float32") for i in range(16)],
}
PUSH_INTERVAL = {"lab": 0.01, "heavy": 0.02}
MARKER_GAP = (0.25, 0.75)  # seconds between markers: 2 per second on average


def stream_names(scenario: str, prefix: str) -> list[str]:
    """The LSL names of a scenario's streams under a run prefix."""
    return [f"{prefix}_{spec.suffix}" for spec in SCENARIOS[scenario]]


@dataclass
class Source:
    """An outlet plus the bookkeeping of what it pushed."""

    spec: StreamSpec
    outlet: pylsl.StreamOutlet
    t0: float
    pushed: int = 0
    push_times: list[float] = field(default_factory=list)
    push_counts: list[int] = field(default_factory=list)
    marker_stamps: list[float] = field(default_factory=list)
    next_marker: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def log_push(self) -> None:
        self.push_times.append(pylsl.local_clock())
        self.push_counts.append(self.pushed)


def make_source(spec: StreamSpec, prefix: str, t0: float) -> Source:
    """Create the outlet of one stream; regular streams start their sample clock at ``t0``."""
    name = f"{prefix}_{spec.suffix}"
    info = pylsl.StreamInfo(name, spec.type, spec.channels, spec.rate, spec.fmt, f"{name}-src")
    info.desc().append_child_value("manufacturer", "Attune benchmark")
    outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)
    source = Source(spec, outlet, t0)
    source.next_marker = t0 + source.rng.uniform(*MARKER_GAP)
    return source


def push_regular(source: Source, now: float) -> None:
    """Push every sample whose stamp has come, each with its own stamp; channel 0 is the index."""
    spec = source.spec
    due = int((now - source.t0) * spec.rate) + 1  # samples 0..due-1 are stamped <= now
    n = due - source.pushed
    if n <= 0:
        return
    index = np.arange(source.pushed, due)
    stamps = source.t0 + index / spec.rate
    values = np.zeros((n, spec.channels), dtype=np.int32 if spec.fmt == "int32" else np.float32)
    values[:, 0] = index
    source.outlet.push_chunk(values, stamps.tolist())
    source.pushed = due
    source.log_push()


def push_markers(source: Source, now: float) -> None:
    """Push the markers whose scheduled time has come, stamped with that time."""
    while source.next_marker <= now:
        stamp = source.next_marker
        source.outlet.push_sample([f"marker {source.pushed}"], stamp)
        source.marker_stamps.append(stamp)
        source.pushed += 1
        source.log_push()
        source.next_marker = stamp + source.rng.uniform(*MARKER_GAP)


def run(sources: list[Source], interval: float, stop: threading.Event) -> None:
    """The push loop: wake every ``interval`` and push what became due."""
    while not stop.wait(interval):
        now = pylsl.local_clock()
        for source in sources:
            if source.spec.rate > 0:
                push_regular(source, now)
            else:
                push_markers(source, now)


def save_log(path: Path, sources: list[Source]) -> None:
    """Write per stream: name, rate, t0, push log and (for markers) every stamp."""
    arrays: dict[str, np.ndarray] = {}
    for source in sources:
        key = source.spec.suffix
        arrays[f"{key}.rate"] = np.array(source.spec.rate)
        arrays[f"{key}.t0"] = np.array(source.t0)
        arrays[f"{key}.push_times"] = np.array(source.push_times, dtype=np.float64)
        arrays[f"{key}.push_counts"] = np.array(source.push_counts, dtype=np.int64)
        arrays[f"{key}.marker_stamps"] = np.array(source.marker_stamps, dtype=np.float64)
    np.savez(path, **arrays)


def stop_on_signal_or_eof(stop: threading.Event) -> None:
    """SIGINT, SIGTERM or the end of stdin stop the sources."""
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--prefix", required=True, help="unique stream-name prefix for this run")
    parser.add_argument("--log", type=Path, required=True, help=".npz file for the push log")
    args = parser.parse_args()
    stop = threading.Event()
    stop_on_signal_or_eof(stop)
    t0 = pylsl.local_clock()
    sources = [make_source(spec, args.prefix, t0) for spec in SCENARIOS[args.scenario]]
    print("ready " + " ".join(stream_names(args.scenario, args.prefix)), flush=True)
    run(sources, PUSH_INTERVAL[args.scenario], stop)
    save_log(args.log, sources)
    print("saved", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
