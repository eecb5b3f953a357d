"""Where the face, its eyes and its mouth are on the screen, in gaze coordinates.

Gaze is screen-normalised (0..1 across the width and down the height, origin
top-left). The stimulus window draws each face as a square image
``face_height`` x window height tall, centred on the screen
(stimulus/runner.py, stimulus/scenes.py); inside the image the built-in
faces put their features where stimulus/face_geometry.py says; its EYES,
MOUTH and HEAD regions (with a margin for eye-tracker accuracy) are the
ones used here. "face" is the head ellipse plus the eye and mouth regions.

The stimulus window does not record its size, so the screen's aspect ratio
is an assumption: the stimulus window's default size (stimulus.protocol) unless
told otherwise. A ``face_rect`` field (x0, y0, x1, y1, screen-normalised) on
a face_onset marker overrides the computed placement for that face.
"""
from __future__ import annotations

from dataclasses import dataclass

from stimulus.face_geometry import EYES, HEAD, MOUTH, classify, in_box, to_image  # noqa: F401 (re-exported for analysis)
from stimulus.protocol import DEFAULT_WINDOW_SIZE

REGION_NAMES = ("face", "eyes", "mouth")


@dataclass(frozen=True)
class Display:
    width_px: int = DEFAULT_WINDOW_SIZE[0]
    height_px: int = DEFAULT_WINDOW_SIZE[1]
    face_height: float = 0.55  # of the window height (protocol display.face_height)

    def face_rect(self) -> tuple[float, float, float, float]:
        """The face image's square in screen-normalised coordinates."""
        h = self.face_height
        w = h * self.height_px / self.width_px
        return (0.5 - w / 2, 0.5 - h / 2, 0.5 + w / 2, 0.5 + h / 2)


def region_centre(name: str, rect: tuple[float, float, float, float]) -> tuple[float, float]:
    """Centre of a region in screen-normalised coordinates (used to place simulated gaze)."""
    box = {"eyes": EYES, "mouth": MOUTH}.get(name)
    u, v = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2) if box else HEAD[:2]
    x0, y0, x1, y1 = rect
    return x0 + u * (x1 - x0), y0 + v * (y1 - y0)
