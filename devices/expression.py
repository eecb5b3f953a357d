"""Facial expression from one video frame: the FacialExpression channel layout and its estimators.

The layout (``EXPRESSION_CHANNELS``) is the one home of the channel order;
the real webcam, the simulated one and the synthetic recordings all use it.
Values are geometric measures of the face, not a trained emotion classifier:

- ``smile``: how far the mouth corners sit above the centre of the lips,
  in units of 7 % of the face height (0 level, about 0.85 for the broad
  smile of the astronaut photograph, negative when the corners are pulled down);
- ``mouth_open``: inner-lip gap / face height;
- ``brow_lower``: how much lower the brows sit over the eyes than in an
  average neutral face, in units of 3 % of the face height (frown > 0);
- ``eye_open``: lid gap / eye width (eye aspect ratio, about 0.1-0.35);
- ``head_yaw``, ``head_pitch``: degrees, from the depth of face-side and
  forehead/chin landmarks (yaw > 0: face turned toward the image's right;
  pitch > 0: chin up);
- ``valence``: tanh(smile - brow_lower), -1 distress .. 1 happy.

All are measured in a frame rotated so the eyes are level (head roll does
not count as a smile). No face: ``face_present`` 0 and every other channel
NaN. mediapipe's face mesh (model inside the wheel, no download) gives the
landmarks; without mediapipe, OpenCV's Haar cascades give face presence and
a smile score only (the other channels stay NaN).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from devices.metadata import Channel
from devices.opencv import cv2, face_mesh_module

EXPRESSION_CHANNELS = [
    Channel("face_present", "boolean", "FacePresent"),
    Channel("smile", "face_height*0.07", "Expression"),
    Channel("mouth_open", "face_height", "Expression"),
    Channel("brow_lower", "face_height*0.03", "Expression"),
    Channel("eye_open", "ratio", "Expression"),
    Channel("head_yaw", "degrees", "HeadPose"),
    Channel("head_pitch", "degrees", "HeadPose"),
    Channel("valence", "score", "Expression"),
]
EXPRESSION_LABELS = [c.label for c in EXPRESSION_CHANNELS]
NO_FACE = np.array([0.0] + [math.nan] * (len(EXPRESSION_CHANNELS) - 1), dtype=np.float32)

SMILE_UNIT = 0.07        # corner raise of 7 % of the face height = smile 1
BROW_NEUTRAL_GAP = 0.11  # brow-to-upper-lid gap of a neutral face, in face heights
BROW_UNIT = 0.03

# face mesh landmark indices (mediapipe canonical face model)
MOUTH_CORNERS = (61, 291)
INNER_LIPS = (13, 14)
FOREHEAD, CHIN = 10, 152
FACE_SIDES = (234, 454)
EYE_CORNERS = ((33, 133), (362, 263))
EYE_LIDS = ((159, 145), (386, 374))
BROWS = (105, 334)
EYE_LINE = (33, 263)


def scored_face(smile: float, valence: float) -> np.ndarray:
    """A face present with only a smile and a valence known (synthetic data); the rest NaN."""
    out = NO_FACE.copy()
    out[0], out[EXPRESSION_LABELS.index("smile")], out[EXPRESSION_LABELS.index("valence")] = 1.0, smile, valence
    return out


def valence_of(smile: float, brow_lower: float) -> float:
    return math.tanh(smile - brow_lower)


def expression_from_landmarks(points: np.ndarray) -> np.ndarray:
    """The channel values from face-mesh landmarks as pixels (x, y, z with z on x's scale)."""
    (ax, ay), (bx, by) = points[EYE_LINE[0], :2], points[EYE_LINE[1], :2]
    roll = math.atan2(by - ay, bx - ax)
    c, s = math.cos(-roll), math.sin(-roll)
    xy = points[:, :2] @ np.array([[c, s], [-s, c]])  # rotate so the eyes are level
    z = points[:, 2]
    face_height = float(np.hypot(*(xy[CHIN] - xy[FOREHEAD])))
    if face_height < 1.0:
        return NO_FACE.copy()
    lip_centre = xy[list(INNER_LIPS), 1].mean()
    corners = xy[list(MOUTH_CORNERS), 1].mean()
    smile = (lip_centre - corners) / face_height / SMILE_UNIT
    mouth_open = abs(xy[INNER_LIPS[1], 1] - xy[INNER_LIPS[0], 1]) / face_height
    gap = np.mean([xy[lid, 1] - xy[brow, 1] for brow, (lid, _) in zip(BROWS, EYE_LIDS)]) / face_height
    brow_lower = (BROW_NEUTRAL_GAP - gap) / BROW_UNIT
    eye_open = np.mean([np.hypot(*(xy[lo] - xy[up])) / max(np.hypot(*(xy[b] - xy[a])), 1e-6)
                        for (up, lo), (a, b) in zip(EYE_LIDS, EYE_CORNERS)])
    left, right = FACE_SIDES
    yaw = math.degrees(math.atan2(z[left] - z[right], xy[right, 0] - xy[left, 0]))
    pitch = math.degrees(math.atan2(z[FOREHEAD] - z[CHIN], xy[CHIN, 1] - xy[FOREHEAD, 1]))
    return np.array([1.0, smile, mouth_open, brow_lower, eye_open, yaw, pitch, valence_of(smile, brow_lower)],
                    dtype=np.float32)


@dataclass
class FaceMeshEstimator:
    """mediapipe face mesh, tracking between frames (detection runs only when the face is lost)."""

    method = "mediapipe face mesh 468 landmarks (model inside the mediapipe wheel); geometric measures"

    def __post_init__(self) -> None:
        face_mesh = face_mesh_module()
        if face_mesh is None:
            raise RuntimeError("mediapipe is not installed")
        self.mesh = face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=False,
                                       min_detection_confidence=0.5, min_tracking_confidence=0.5)
        self.cv2 = cv2()

    def estimate(self, bgr: np.ndarray) -> np.ndarray:
        height, width = bgr.shape[:2]
        result = self.mesh.process(self.cv2.cvtColor(bgr, self.cv2.COLOR_BGR2RGB))
        if not result.multi_face_landmarks:
            return NO_FACE.copy()
        marks = result.multi_face_landmarks[0].landmark
        points = np.array([(p.x * width, p.y * height, p.z * width) for p in marks], dtype=np.float64)
        return expression_from_landmarks(points)

    def close(self) -> None:
        self.mesh.close()


class HaarEstimator:
    """OpenCV-only fallback: face presence and a smile score from the cascades in opencv < 5."""

    method = "OpenCV Haar cascades (frontal face, smile); only face_present, smile, valence"

    def __init__(self) -> None:
        self.cv2 = cv2()
        folder = self.cv2.data.haarcascades
        self.face = self.cv2.CascadeClassifier(folder + "haarcascade_frontalface_default.xml")
        self.smile = self.cv2.CascadeClassifier(folder + "haarcascade_smile.xml")
        if self.face.empty() or self.smile.empty():
            raise RuntimeError(f"OpenCV Haar cascades missing in {folder}")

    def estimate(self, bgr: np.ndarray) -> np.ndarray:
        grey = self.cv2.cvtColor(bgr, self.cv2.COLOR_BGR2GRAY)
        faces = self.face.detectMultiScale(grey, 1.2, 5, minSize=(60, 60))
        if len(faces) == 0:
            return NO_FACE.copy()
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
        mouth = grey[y + h // 2:y + h, x:x + w]
        smiles = self.smile.detectMultiScale(mouth, 1.5, 15, minSize=(w // 5, h // 10))
        smile = min(1.0, len(smiles) / 2.0)
        out = NO_FACE.copy()
        out[0], out[1], out[7] = 1.0, smile, valence_of(smile, 0.0)
        return out

    def close(self) -> None:
        pass


def make_estimator(prefer: str = "auto") -> FaceMeshEstimator | HaarEstimator:
    """mediapipe where installed (``auto``), else the Haar fallback; ``haar`` forces the fallback."""
    if prefer not in ("auto", "mediapipe", "haar"):
        raise ValueError(f"expression method {prefer!r}: use auto, mediapipe or haar")
    if prefer != "haar":
        try:
            return FaceMeshEstimator()
        except RuntimeError:
            if prefer == "mediapipe":
                raise
    return HaarEstimator()
