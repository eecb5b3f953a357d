"""Helpers the live-feedback tests share: scripted LSL outlets, a reacting marker sink, the window.

Used by test_stimulus_feedback and test_analysis_feedback, so neither imports the other.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pylsl
import pytest
import yaml

from devices.eyetracker import CHANNELS as GAZE_CHANNELS
from devices.metadata import Channel, stream_info
from stimulus.markers import SentMarker
from stimulus.window import StimulusWindow

SIZE = (640, 400)
OFF_FACE = (0.04, 0.06)


class Scripted(threading.Thread):
    """Real LSL outlets (gaze 120 Hz, expression 30 Hz, GSR 32 Hz) whose values the test sets."""

    def __init__(self, tag: str, expression_channels: tuple[str, ...] = ("smile", "valence")) -> None:
        super().__init__(daemon=True)
        self.gaze_point: tuple[float, float] = OFF_FACE
        self.gaze_valid = True
        self.smile = 0.05
        self.gsr = 5.0
        self.stalled: set[str] = set()
        self.stop_event = threading.Event()
        self.rates = {"gaze": 120.0, "expression": 30.0, "gsr": 32.0}
        self.outlets = {
            "gaze": pylsl.StreamOutlet(stream_info(f"{tag}-gaze", "Gaze", GAZE_CHANNELS, 120.0, "float32",
                                                   f"{tag}-gaze")),
            "expression": pylsl.StreamOutlet(stream_info(
                f"{tag}-face", "FacialExpression", [Channel(c, "score", "Expression") for c in expression_channels],
                30.0, "float32", f"{tag}-face")),
            "gsr": pylsl.StreamOutlet(stream_info(f"{tag}-gsr", "GSR", [Channel("skin_conductance", "microsiemens",
                                                                               "GSR")], 32.0, "float32", f"{tag}-gsr")),
        }
        self.channels = expression_channels
        self.infos: dict[str, pylsl.StreamInfo] = {}

    def drop(self, kind: str) -> None:
        """The stream leaves the network (device unplugged, app closed)."""
        self.stalled.add(kind)
        self.infos[kind] = self.outlets[kind].get_info()
        self.outlets[kind] = None

    def restore(self, kind: str) -> None:
        """The same device comes back: a new outlet with the same name and source_id."""
        self.outlets[kind] = pylsl.StreamOutlet(self.infos[kind])
        self.stalled.discard(kind)

    def row(self, kind: str) -> list[float]:
        if kind == "gaze":
            x, y = self.gaze_point
            if not self.gaze_valid:
                return [np.nan] * 6 + [0.0, 0.0]
            return [x, y, 3.5, x + 0.002, y, 3.6, 1.0, 1.0]
        if kind == "expression":
            values = {"smile": self.smile, "valence": 2 * self.smile - 1, "face_present": 1.0}
            return [values.get(c, 0.0) for c in self.channels]
        return [self.gsr]

    def run(self) -> None:
        start = pylsl.local_clock()
        sent = dict.fromkeys(self.outlets, 0)
        while not self.stop_event.wait(0.004):
            now = pylsl.local_clock()
            for kind, outlet in list(self.outlets.items()):
                due = int((now - start) * self.rates[kind]) + 1
                if kind in self.stalled or outlet is None:
                    sent[kind] = due  # nothing pushed, nothing owed
                    continue
                for _ in range(sent[kind], due):  # stamped when sent: a value set now is never back-dated
                    outlet.push_sample(self.row(kind), now)
                sent[kind] = due

    def stop(self) -> None:
        self.stop_event.set()
        self.join(2.0)
        self.outlets.clear()  # the streams leave the network now, not when this object is collected


class Reacting:
    """A marker sink that lets the scripted body react to what the task shows."""

    def __init__(self, react) -> None:
        self.react = react
        self.markers: list[SentMarker] = []

    def send(self, event: str, timestamp: float | None = None, **fields) -> None:
        self.markers.append(SentMarker(event, float(timestamp or 0.0), len(self.markers) + 1, fields))
        self.react(event, fields)


@pytest.fixture(scope="module", name="window")
def feedback_window(qapp):
    """One stimulus window for a module's feedback runs (import it to use the ``window`` fixture)."""
    win = StimulusWindow()
    win.open(windowed=True, size=SIZE)
    yield win
    win.close()


def training(tmp_path: Path, tag: str, trials: int = 4, **feedback) -> Path:
    data = yaml.safe_load(Path("configs/protocols/emotion_training.yaml").read_text(encoding="utf-8"))
    fb = data["feedback"]
    fb["streams"] = {"gaze": f"name='{tag}-gaze'", "expression": f"name='{tag}-face'", "gsr": f"name='{tag}-gsr'"}
    fb.update(find_timeout=3.0, baseline=1.0)
    for key, value in feedback.items():
        if isinstance(value, dict):
            fb.setdefault(key, {}).update(value)
        else:
            fb[key] = value
    data.update(instructions="", breaks={"between_blocks": False},
                blocks=[{"name": "fb", "trials": trials}])
    data["timing"].update(face=2.0, fixation=0.2, fixation_jitter=0.0, iti=0.1, feedback=0.2)
    data["training"].update(neutral_fraction=0.0, summary_duration=0.2)
    path = tmp_path / "fb_training.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path
