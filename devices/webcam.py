"""Simulated webcam: a frame-index stream and a facial-expression score stream.

Real setups write video to a file and push each frame's index on LSL, so
the frames can be aligned with everything else afterwards; frames may drop,
which the stream says in ``desc/synchronization/can_drop_samples``. The
expression stream stands in for an on-line classifier: a smile score
(0..1) and a valence score (-1..1) per frame.
"""
from __future__ import annotations

import threading

import numpy as np

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
    """Smile and valence with slow spontaneous changes and stimulus-driven smiles."""

    def __init__(self, rate: float = 30.0, name: str = "SimFaceExpression",
                 source_id: str = "attune-sim-expression", seed: int = 3) -> None:
        self.rate = rate
        channels = [Channel("smile", "score", "Expression"), Channel("valence", "score", "Expression")]
        self.info = stream_info(name, "FacialExpression", channels, rate, "float32", source_id)
        self.rng = np.random.default_rng(seed)
        self.valence = 0.0
        self.target = 0.0
        self._lock = threading.Lock()

    def express(self, valence: float) -> None:
        """Move the face toward a valence (-1 sad .. 1 happy), e.g. mirroring a stimulus."""
        with self._lock:
            self.target = float(np.clip(valence, -1.0, 1.0))

    def generate(self, n: int) -> np.ndarray:
        out = np.empty((n, 2), dtype=np.float32)
        with self._lock:
            target = self.target
        for i in range(n):
            self.valence += 0.08 * (target - self.valence) + self.rng.normal(0, 0.01)
            out[i, 1] = self.valence
        out[:, 0] = np.clip(out[:, 1], 0.0, 1.0) + self.rng.normal(0, 0.02, n)
        return out
