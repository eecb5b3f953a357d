"""Simulated webcam: a frame-index stream and a facial-expression score stream.

Real setups write video to a file and push each frame's index on LSL, so
the frames can be aligned with everything else afterwards; frames may drop,
which the stream says in ``desc/synchronization/can_drop_samples``. The
expression stream has the real webcam's FacialExpression layout
(devices.expression) with a face always present, a smile and a frown that
follow a slowly moving valence, and small head movements.
"""
from __future__ import annotations

import threading

import numpy as np

from devices.expression import EXPRESSION_CHANNELS, EXPRESSION_LABELS
from devices.metadata import Channel, stream_info
from devices.simulated import SampleSource


class FrameIndexSource(SampleSource):
    def __init__(self, rate: float = 30.0, name: str = "SimWebcam",
                 source_id: str = "attune-sim-webcam") -> None:
        self.info = stream_info(name, "VideoFrames", [Channel("frame_index", "count", "FrameIndex")],
                                rate, "int32", source_id, can_drop_samples=True)
        self.frame = 0

    def generate(self, n: int) -> np.ndarray:
        frames = np.arange(self.frame, self.frame + n, dtype=np.int32).reshape(n, 1)
        self.frame += n
        return frames


class ExpressionSource(SampleSource):
    """Every FacialExpression channel, driven by a valence with slow changes and stimulus-driven smiles."""

    def __init__(self, rate: float = 30.0, name: str = "SimFaceExpression",
                 source_id: str = "attune-sim-expression", seed: int = 3) -> None:
        self.rate = rate
        self.info = stream_info(name, "FacialExpression", EXPRESSION_CHANNELS, rate, "float32", source_id)
        self.info.desc().append_child_value("method", "simulated")
        self.rng = np.random.default_rng(seed)
        self.valence = 0.0
        self.target = 0.0
        self._lock = threading.Lock()

    def express(self, valence: float) -> None:
        """Move the face toward a valence (-1 sad .. 1 happy), e.g. mirroring a stimulus."""
        with self._lock:
            self.target = float(np.clip(valence, -1.0, 1.0))

    def generate(self, n: int) -> np.ndarray:
        with self._lock:
            target = self.target
        valence = np.empty(n)
        for i in range(n):
            self.valence += 0.08 * (target - self.valence) + self.rng.normal(0, 0.01)
            valence[i] = self.valence
        noise = self.rng.normal(0, 1, (n, 5))
        columns = {
            "face_present": np.ones(n),
            "smile": np.clip(valence, 0.0, 1.0) + 0.02 * noise[:, 0],
            "mouth_open": np.clip(0.03 + 0.05 * np.clip(valence, 0.0, 1.0) + 0.005 * noise[:, 1], 0.0, None),
            "brow_lower": np.clip(-valence, 0.0, 1.0) + 0.05 * noise[:, 2],
            "eye_open": 0.28 + 0.01 * noise[:, 3],
            "head_yaw": 2.0 * noise[:, 4],
            "head_pitch": -5.0 + 2.0 * noise[:, 4],
            "valence": valence,
        }
        return np.column_stack([columns[label] for label in EXPRESSION_LABELS]).astype(np.float32)
