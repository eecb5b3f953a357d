"""Live feedback latency: from the gaze or expression sample to the frame swap that shows it.

    ip netns exec NS env QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_feedback.py [--trials 120]

Runs the emotion training with its feedback on, in the stimulus window,
against the simulated lab (eye tracker 300 Hz in 10 ms chunks, webcam
expression 30 Hz, GSR 128 Hz) and a simulated participant whose body looks
beside the eyes and mouth at first, so nearly every face brings a cue.
Reported, in milliseconds, per feedback kind:

- sample -> swap: the LSL stamp of the gaze sample that triggered the cue
  (or of the expression sample the bar shows) to the swap of the frame
  that showed it: the issue's measure, budget 2 frames at 60 Hz (33.3 ms);
- arrival -> swap: from the moment the sample was pulled here to that swap,
  i.e. Attune's own share (the rest is the device's delivery: a simulated
  device pushes each sample one sample period after its stamp, in chunks).

``--expression prompt`` replaces the simulated webcam's expression stream by
one that pushes each score the moment it is made, stamped then (as a camera
pipeline that stamps its result does), to show the bar's latency without the
simulated webcam's one-frame (33 ms) delivery delay.

Writes docs/img/feedback_latency.png and prints a table for docs/feedback.md.
On the offscreen platform a swap is the software renderer finishing the
frame; a real display adds its own lag and refresh quantisation.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import use_lsl_config  # noqa: E402

use_lsl_config()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pylsl  # noqa: E402
import yaml  # noqa: E402

from devices.body import SimulatedBody  # noqa: E402
from devices.lab import SimulatedLab, load_devices  # noqa: E402
from devices.webcam import ExpressionSource  # noqa: E402
from stimulus.participant import SimulatedParticipant  # noqa: E402
from stimulus.protocol import load_protocol  # noqa: E402
from stimulus.runner import run_protocol  # noqa: E402
from stimulus.window import StimulusWindow, ensure_app  # noqa: E402

BUDGET_MS = 2 * 1000 / 60


PROMPT_NAME = "BenchPromptExpression"


class PromptExpression(threading.Thread):
    """The simulated expression model, each score pushed the moment it is made and stamped then."""

    def __init__(self, source: ExpressionSource) -> None:
        super().__init__(daemon=True)
        self.source = source
        self.stop_event = threading.Event()

    def run(self) -> None:
        outlet = pylsl.StreamOutlet(self.source.info)
        period = 1.0 / self.source.rate
        due = pylsl.local_clock()
        while not self.stop_event.is_set():
            due += period
            self.stop_event.wait(max(0.0, due - pylsl.local_clock()))
            outlet.push_sample(self.source.generate(1)[0], pylsl.local_clock())


def protocol_file(folder: Path, trials: int, prompt: bool) -> Path:
    data = yaml.safe_load((ROOT / "configs/protocols/emotion_training.yaml").read_text(encoding="utf-8"))
    data.update(instructions="", breaks={"between_blocks": False}, blocks=[{"name": "bench", "trials": trials}])
    data["feedback"].update(baseline=4.0)
    if prompt:
        data["feedback"]["streams"]["expression"] = f"name='{PROMPT_NAME}'"
    data["training"].update(summary_duration=0.5)
    path = folder / "bench_feedback.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def stats(values_s: list[float]) -> dict[str, float]:
    ms = np.asarray(values_s) * 1000
    return {"n": len(ms), "median": float(np.median(ms)), "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}


def plot(latency: dict[str, list[float]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=False)
    for ax, kind, title in zip(axes, ("cue", "bar"), ("attention cue (gaze sample -> frame)",
                                                       "mirroring bar (expression sample -> frame)")):
        total, own = np.asarray(latency[kind]) * 1000, np.asarray(latency[f"{kind}_arrival"]) * 1000
        bins = np.linspace(0, max(BUDGET_MS * 2, float(total.max()) + 1), 60)
        ax.hist(total, bins=bins, alpha=0.7, label="sample stamp -> swap")
        ax.hist(own, bins=bins, alpha=0.7, label="arrival here -> swap")
        ax.axvline(BUDGET_MS, color="k", linestyle="--", linewidth=1, label="2 frames at 60 Hz")
        ax.axvline(np.percentile(total, 99), color="C3", linewidth=1, label="p99 sample -> swap")
        ax.set_title(f"{title}, n={len(total)}", fontsize=10)
        ax.set_xlabel("ms")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("count")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--speed", type=float, default=2.0)
    parser.add_argument("--expression", choices=["simulated", "prompt"], default="simulated",
                        help="the simulated webcam's expression stream, or one that pushes each score at once")
    parser.add_argument("--figure", type=Path, default=None,
                        help="default docs/img/feedback_latency.png (prompt: feedback_latency_prompt.png)")
    args = parser.parse_args()
    prompt = args.expression == "prompt"
    figure = args.figure or ROOT / f"docs/img/feedback_latency{'_prompt' if prompt else ''}.png"

    lab = SimulatedLab([c for c in load_devices() if c.kind != "markers"])
    publisher = None
    if prompt:  # the body drives the prompt stream's model instead of the webcam's
        lab.expression = ExpressionSource(name=PROMPT_NAME, source_id="attune-bench-prompt-expression")
        publisher = PromptExpression(lab.expression)
        publisher.start()
    lab.start()
    ensure_app()
    window = StimulusWindow()
    window.open(windowed=True, size=(1280, 800))
    body = SimulatedBody(lab, attention=0.0)  # looks beside the regions until cued
    body.send = _never_learns(body)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            done = [0]

            def progress(block: str, n: int, total: int) -> None:
                if n % 20 == 0 or n == total:
                    print(f"  trial {n}/{total}", flush=True)
                done[0] = n

            result = run_protocol(load_protocol(protocol_file(Path(tmp), args.trials, prompt)), body,
                                  participant=SimulatedParticipant(), window=window, speed=args.speed,
                                  on_progress=progress,
                                  on_feedback=lambda f, s, r: print(f"  feedback {f}: {s} {r}", flush=True))
    finally:
        window.close()
        lab.stop()
        if publisher is not None:
            publisher.stop_event.set()
    latency = result.feedback_latency
    if not latency.get("cue") or not latency.get("bar"):
        print("no cue or bar latencies measured (were the simulated streams found?)", file=sys.stderr)
        return 1
    plot(latency, figure)
    load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    print(f"\n{dt.date.today()} · {platform.node()} · {platform.python_version()} · Qt "
          f"{os.environ.get('QT_QPA_PLATFORM')} · {args.trials} trials at speed {args.speed} · "
          f"expression {args.expression} · {load}")
    print("| feedback | measure | n | median ms | p95 ms | p99 ms | max ms | p99 within 33.3 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("cue", "bar"):
        for key, label in ((kind, "sample -> swap"), (f"{kind}_arrival", "arrival -> swap")):
            s = stats(latency[key])
            print(f"| {kind} | {label} | {s['n']} | {s['median']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | "
                  f"{s['max']:.1f} | {'yes' if s['p99'] <= BUDGET_MS else 'no'} |")
    print(f"figure: {figure}")
    return 0


def _never_learns(body: SimulatedBody):
    """The bench wants a cue on every face: the body follows cues but does not get better."""
    send = body.send

    def wrapped(event: str, timestamp: float | None = None, **fields) -> None:
        send(event, timestamp=timestamp, **fields)
        body.attention = 0.0

    return wrapped


if __name__ == "__main__":
    sys.exit(main())
