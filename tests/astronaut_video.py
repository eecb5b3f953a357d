"""Test videos made of real pixels: the astronaut photograph shipped in scikit-image, warped.

A piecewise-affine warp moves the mouth corners up or down (smile or frown)
by a few pixels and leaves the rest of the face in place; a perspective warp
turns the head. Shared by the webcam tests and bench/bench_webcam.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data
from skimage.transform import PiecewiseAffineTransform, warp

from devices.opencv import cv2, face_mesh_module

WIDTH, HEIGHT, FPS = 640, 480, 30.0
MOUTH_CORNERS = (61, 291)


def base_frame() -> np.ndarray:
    """The astronaut (512x512) on a 640x480 grey canvas, BGR as OpenCV delivers frames."""
    photo = skimage.data.astronaut()[:480, :, ::-1]
    frame = np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
    frame[:, 64:64 + 512] = photo
    return frame


def landmarks(frame: np.ndarray) -> np.ndarray:
    """Face-mesh landmarks of one frame in pixels (x, y)."""
    mesh = face_mesh_module().FaceMesh(static_image_mode=True, max_num_faces=1)
    result = mesh.process(cv2().cvtColor(frame, cv2().COLOR_BGR2RGB))
    mesh.close()
    marks = result.multi_face_landmarks[0].landmark
    return np.array([(p.x * frame.shape[1], p.y * frame.shape[0]) for p in marks])


def move_mouth_corners(frame: np.ndarray, points: np.ndarray, lift_px: float) -> np.ndarray:
    """Mouth corners raised by ``lift_px`` (negative: pulled down), the skin around them following.

    Every face-mesh point moves by ``lift_px`` times a Gaussian of its distance
    to the nearer mouth corner (sigma a third of the mouth width), so the lips
    bend and the rest of the face and the frame edges stay where they are.
    """
    h, w = frame.shape[:2]
    border = [(x, y) for x in np.linspace(0, w - 1, 5) for y in (0, h - 1)] + \
             [(x, y) for x in (0, w - 1) for y in np.linspace(0, h - 1, 5)[1:-1]]
    corners = points[list(MOUTH_CORNERS)]
    sigma = np.hypot(*(corners[1] - corners[0])) / 3
    distance = np.min([np.hypot(*(points - c).T) for c in corners], axis=0)
    weight = np.exp(-0.5 * (distance / sigma) ** 2)
    moved = points - np.outer(weight, [0.0, lift_px])
    out_points = np.vstack([border, moved])    # where things are in the warped frame
    in_points = np.vstack([border, points])    # where they come from in the photograph
    transform = PiecewiseAffineTransform.from_estimate(out_points, in_points)
    warped = warp(frame, transform, preserve_range=True, order=1)
    return warped.astype(np.uint8)


def turn_head(frame: np.ndarray, points: np.ndarray, amount: float) -> np.ndarray:
    """A head turn by perspective: the face's one side shrinks (amount > 0: the image's right side)."""
    x0, x1 = points[234, 0], points[454, 0]
    y0, y1 = points[10, 1] - 20, points[152, 1] + 20
    src = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    shrink = amount * (y1 - y0) / 2
    dx = amount * (x1 - x0) * 0.3
    if amount >= 0:
        dst = np.float32([[x0 + dx, y0], [x1, y0 + shrink], [x1, y1 - shrink], [x0 + dx, y1]])
    else:
        dst = np.float32([[x0, y0 - shrink], [x1 + dx, y0], [x1 + dx, y1], [x0, y1 + shrink]])
    matrix = cv2().getPerspectiveTransform(src, dst)
    return cv2().warpPerspective(frame, matrix, (frame.shape[1], frame.shape[0]), borderMode=cv2().BORDER_REPLICATE)


def no_face_frame() -> np.ndarray:
    """A textured scene with no face in it (a gradient with blobs)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    frame = np.stack([(x * 255 // WIDTH), (y * 255 // HEIGHT), ((x + y) * 127 // (WIDTH + HEIGHT))], axis=-1)
    return frame.astype(np.uint8)


def write_video(path: Path, frames: list[np.ndarray], fps: float = FPS, seed: int = 0) -> Path:
    """Frames (with a little sensor noise each, so no two are identical) as an MJPG AVI file."""
    rng = np.random.default_rng(seed)
    cv = cv2()
    writer = cv.VideoWriter(str(path), cv.CAP_FFMPEG, cv.VideoWriter_fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened(), path
    for frame in frames:
        noisy = np.clip(frame.astype(np.int16) + rng.integers(-3, 4, frame.shape), 0, 255).astype(np.uint8)
        writer.write(noisy)
    writer.release()
    return path


def count_frames(path: Path) -> int:
    """Frames really in a video file, by decoding it to the end."""
    capture = cv2().VideoCapture(str(path))
    n = 0
    while capture.grab():
        n += 1
    capture.release()
    return n


def smile_levels(lifts: tuple[float, ...] = (-6.0, -3.0, 0.0, 3.0, 6.0)) -> dict[float, np.ndarray]:
    frame = base_frame()
    points = landmarks(frame)
    return {lift: move_mouth_corners(frame, points, lift) for lift in lifts}
