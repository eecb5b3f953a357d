"""Run every benchmark in turn (``make bench``); each prints its own figures.

The figures belong in docs/ (performance.md, markers.md, stimulus.md,
panel.md, replay_analysis.md, devices.md) with the date and the machine. Benchmarks
compete for the CPU, so they run one after another, never in parallel.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ["bench_recorder.py", "bench_markers.py", "bench_sequencer.py", "bench_onsets.py", "bench_panel.py",
           "bench_replay.py", "bench_webcam.py", "bench_preview.py", "bench_feedback.py"]


def main() -> int:
    failed = []
    for name in SCRIPTS:
        script = BENCH / name
        if not script.exists():
            print(f"== {name}: not present, skipped")
            continue
        print(f"== {name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=BENCH.parent)
        print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
