"""Pictures of the task's screens, rendered by the real stimulus window.

Each screen is presented exactly as in a session, the window waits for the
frame that showed it, and the window's content is saved as a PNG. That makes
the pictures in the documentation honest (they are what a participant sees)
and lets a check look at layout without a monitor:

    python -m stimulus.snapshots docs/img          # QT_QPA_PLATFORM=offscreen works
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PyQt6.QtCore import QEventLoop, QTimer
from PyQt6.QtGui import QColor, QImage, QPainter

from stimulus import faces, scenes
from stimulus.protocol import DEFAULT_WINDOW_SIZE, Display, load_protocol
from stimulus.stimuli import StimulusSet
from stimulus.training import feedback_text, summarise
from stimulus.window import StimulusWindow, ensure_app


def show_and_grab(window: StimulusWindow, screen: scenes.Screen, timeout: float = 3.0) -> QImage:
    """Present ``screen``, wait for its frame, return the window content."""
    loop = QEventLoop()
    wanted = window.present(screen)
    seen: list[int] = []

    def on_onset(version: int, _flip: float, _req: float) -> None:
        if version == wanted:
            seen.append(version)
            loop.quit()

    window.onset.connect(on_onset)
    QTimer.singleShot(round(timeout * 1000), loop.quit)
    if not seen:
        loop.exec()
    window.onset.disconnect(on_onset)
    if not seen:
        raise RuntimeError(f"no frame showed {type(screen).__name__} within {timeout} s")
    return window.grab()


def screens(protocol_name: str = "infant_face_rating", training_name: str = "emotion_training",
            height: int = 800) -> dict[str, tuple[scenes.Screen, Display]]:
    """The screens worth a picture, by file name stem, with the display settings to paint them."""
    rating = load_protocol(protocol_name)
    training = load_protocol(training_name)
    stimset = StimulusSet.for_spec(rating.stimuli)
    face = stimset.find(0.0, "A")
    face_px = round(rating.display.face_height * height)
    train_set = StimulusSet.for_spec(training.stimuli)
    sad = train_set.find(-0.7, "B")
    fb_px = round(0.42 * height)
    correct, title, detail = feedback_text(sad.emotion, "neutral")
    summary = summarise("training-1", [("sad", True, 1.1), ("happy", True, 0.9), ("sad", False, 1.4),
                                        ("neutral", True, 1.2), ("happy", True, 0.8)], 0.43)
    rs = rating.rating
    return {
        "stimulus_fixation": (scenes.Fixation(), rating.display),
        "stimulus_face": (scenes.FaceScreen(stimset.image(face, face_px)), rating.display),
        "stimulus_rating": (scenes.RatingScreen(rs.prompt, rs.low_label, rs.high_label, cursor=62.0),
                            rating.display),
        "stimulus_choice": (scenes.ChoiceScreen(training.training.prompt), training.display),
        "stimulus_feedback": (scenes.FeedbackScreen(correct, title, detail, train_set.image(sad, fb_px)),
                              training.display),
        "stimulus_summary": (scenes.TextScreen("End of training-1", summary.text()), training.display),
    }


def feedback_screens(size: tuple[int, int] = DEFAULT_WINDOW_SIZE
                     ) -> dict[str, tuple[scenes.Screen, Display, scenes.Overlay]]:
    """The live feedback of training (stimulus/feedback.py) over the screens it belongs to."""
    from stimulus.feedback import BlockCounts, region_box

    training = load_protocol("emotion_training")
    fb = training.feedback
    w, h = size
    face_px = round(training.display.face_height * h)
    x0, y0 = (w - face_px) / 2 / w, (h - face_px) / 2 / h
    rect = (x0, y0, 1 - x0, 1 - y0)
    train_set = StimulusSet.for_spec(training.stimuli)
    neutral = scenes.FaceScreen(train_set.image(train_set.find(0.0, "C"), face_px))
    happy = scenes.FaceScreen(train_set.image(train_set.find(0.6, "E"), face_px))
    cue = scenes.Overlay(cues=(region_box("eyes", rect), region_box("mouth", rect)),
                         cue_style=fb.attention.cue_style, cue_colour=fb.attention.cue_colour)
    bright = scenes.Overlay(cues=(region_box("eyes", rect),), cue_style="brighten")
    base = 0.04
    bar = scenes.Overlay(smile=0.46, baseline=base, threshold=base + fb.mirroring.threshold, mirrored=True)
    calm = scenes.Overlay(calm_phase=0.3, calm_text=fb.calm.text)
    summary = summarise("training-1", [("sad", True, 1.1), ("happy", True, 0.9), ("sad", False, 1.4),
                                        ("neutral", True, 1.2), ("happy", True, 0.8)], 0.43)
    counts = BlockCounts(faces=12, looked_eyes=10, looked_mouth=7, cued=4, mirror_faces=5, mirrored=3, calm=2)
    text = f"{summary.text()}\n\n{counts.text()}"
    return {
        "feedback_cue": (neutral, training.display, cue),
        "feedback_cue_brighten": (neutral, training.display, bright),
        "feedback_mirroring": (happy, training.display, bar),
        "feedback_calm": (scenes.ChoiceScreen(training.training.prompt), training.display, calm),
        "feedback_summary": (scenes.TextScreen("End of training-1", text), training.display, scenes.Overlay()),
    }


def morph_strip(identities: tuple[str, ...] = ("A", "D", "F"), levels: int = 9, size: int = 200) -> QImage:
    """Faces along the whole continuum, sad (left) to happy (right), one row per identity."""
    strip = QImage(size * levels, size * len(identities), QImage.Format.Format_ARGB32_Premultiplied)
    strip.fill(QColor("#808080"))
    painter = QPainter(strip)
    for row, ident in enumerate(identities):
        for i, m in enumerate(faces.morph_levels(levels)):
            painter.drawImage(i * size, row * size, faces.render_face(ident, m, size))
    painter.end()
    return strip


def write_snapshots(folder: str | os.PathLike, size: tuple[int, int] = DEFAULT_WINDOW_SIZE) -> list[Path]:
    """Render every screen in :func:`screens` plus a morph strip into ``folder``; returns the files."""
    ensure_app()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    window = StimulusWindow()
    window.open(windowed=True, size=size)
    written: list[Path] = []
    try:
        for stem, (screen, display) in screens(height=size[1]).items():
            window.display = display
            window.setColor(QColor(display.background))
            path = folder / f"{stem}.png"
            if not show_and_grab(window, screen).save(str(path)):
                raise OSError(f"could not write {path}")
            written.append(path)
        for stem, (screen, display, overlay) in feedback_screens(size).items():
            window.display = display
            window.set_overlay(overlay)
            path = folder / f"{stem}.png"
            if not show_and_grab(window, screen).save(str(path)):
                raise OSError(f"could not write {path}")
            written.append(path)
        window.set_overlay(None)
    finally:
        window.close()
    strip = folder / "stimulus_morphs.png"
    if not morph_strip().save(str(strip)):
        raise OSError(f"could not write {strip}")
    written.append(strip)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stimulus.snapshots", description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="docs/img")
    parser.add_argument("--size", default="{}x{}".format(*DEFAULT_WINDOW_SIZE), metavar="WxH")
    args = parser.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    for path in write_snapshots(args.folder, (w, h)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
