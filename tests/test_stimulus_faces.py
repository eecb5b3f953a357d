"""The drawn faces, measured in their pixels; and a lab's own image folder with a manifest."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtGui import QColor, QImage

from configs import ConfigError
from stimulus import faces
from stimulus.stimuli import StimulusSet, export_builtin

SIZE = 256


@pytest.fixture(autouse=True)
def app(qapp):
    """QPainter on QImage needs a Qt application (pytest-qt's)."""
    return qapp


def rgb(image: QImage) -> np.ndarray:
    """H x W x 3 uint8 array of an image composited onto mid grey (as the task shows it)."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    rgba = rows[:, :image.width() * 4].reshape(image.height(), image.width(), 4).astype(float)
    alpha = rgba[..., 3:] / 255.0
    return (rgba[..., :3] * alpha + 128.0 * (1 - alpha)).round().astype(np.uint8)


def lip_mask(pixels: np.ndarray) -> np.ndarray:
    """Pixels of lip or mouth-interior colour in the lower middle of the face.

    Lips are red with a touch more blue than green; every skin tone (and a
    flushed or blushing cheek over it) has more green than blue, which keeps
    the mask on the mouth for light and dark skin alike.
    """
    h, w, _ = pixels.shape
    px = pixels.astype(int)
    near = np.zeros((h, w), bool)
    for colour, tol in ((faces.LIP, 40), (faces.LIP_ON_DARK, 30), (faces.MOUTH_INSIDE, 30)):
        ref = np.array([colour.red(), colour.green(), colour.blue()])
        near |= np.abs(px - ref).max(axis=2) < tol
    lip_hue = px[..., 2] >= px[..., 1] + 3
    region = np.zeros((h, w), bool)
    region[int(0.68 * h):int(0.86 * h), int(0.36 * w):int(0.64 * w)] = True
    return near & lip_hue & region


def mouth_curvature(image: QImage) -> float:
    """How much the mouth's upper edge bends up at the corners (smile > 0, frown < 0).

    Fits y = a x^2 + b x + c to the topmost lip pixel of every mouth column
    (x, y in fractions of the image, y downward) and returns -a: a smile's
    corners sit higher than its middle.
    """
    mask = lip_mask(rgb(image))
    cols = np.flatnonzero(mask.any(axis=0))
    assert cols.size > 0.05 * image.width(), "no mouth found in the image"
    tops = np.array([np.flatnonzero(mask[:, c])[0] for c in cols], float)
    x = (cols - cols.mean()) / image.width()
    a = np.polyfit(x, tops / image.height(), 2)[0]
    return float(-a)


@pytest.mark.parametrize("ident", faces.IDENTITY_NAMES)
def test_mouth_curvature_rises_monotonically_from_sad_to_happy(ident):
    levels = faces.morph_levels(9)
    curvature = [mouth_curvature(faces.render_face(ident, m, SIZE)) for m in levels]
    steps = np.diff(curvature)
    assert (steps > 0).all(), dict(zip(levels, np.round(curvature, 3)))
    assert curvature[0] < -0.5 and curvature[-1] > 0.5  # sad frowns, happy smiles, clearly
    assert abs(curvature[len(levels) // 2]) < 0.3 * min(-curvature[0], curvature[-1])  # neutral is flat-ish


def test_mouth_opens_for_crying_and_laughing_and_stays_closed_when_neutral():
    def open_area(m: float) -> int:
        px = rgb(faces.render_face("A", m, SIZE)).astype(int)
        ref = faces.MOUTH_INSIDE
        return int((np.abs(px - [ref.red(), ref.green(), ref.blue()]).max(axis=2) < 25).sum())

    assert open_area(0.0) == 0
    assert open_area(-1.0) > 200 and open_area(1.0) > 200


def test_rendering_is_deterministic_and_identities_differ():
    a1 = rgb(faces.render_face("A", 0.25, SIZE))
    a2 = rgb(faces.render_face("A", 0.25, SIZE))
    assert np.array_equal(a1, a2)
    others = [rgb(faces.render_face(name, 0.25, SIZE)) for name in faces.IDENTITY_NAMES[1:]]
    for other in others:
        changed = np.abs(a1.astype(int) - other.astype(int)).max(axis=2) > 30
        assert changed.mean() > 0.05  # not a recolour of a few pixels: a different-looking baby


def test_happy_and_sad_differ_beyond_the_mouth():
    sad = rgb(faces.render_face("C", -1.0, SIZE)).astype(int)
    happy = rgb(faces.render_face("C", 1.0, SIZE)).astype(int)
    eyes_and_brows = (slice(int(0.40 * SIZE), int(0.62 * SIZE)), slice(int(0.3 * SIZE), int(0.7 * SIZE)))
    changed = np.abs(sad[eyes_and_brows] - happy[eyes_and_brows]).max(axis=2) > 40
    assert changed.mean() > 0.03


def test_builtin_set_names_emotions_by_sign_and_gives_staircase_steps():
    stimset = StimulusSet.builtin(identities=2, levels=9)
    assert stimset.identities == ["A", "B"]
    assert len(stimset.items) == 18
    for face in stimset.items:
        assert face.emotion == ("happy" if face.morph > 0 else "sad" if face.morph < 0 else "neutral")
    assert stimset.intensities() == [1.0, 0.75, 0.5, 0.25]
    image = stimset.image(stimset.items[0], 300)
    assert (image.width(), image.height()) == (300, 300)


def make_folder(tmp_path: Path, rows: list[list[str]] | None = None) -> Path:
    """A lab-style folder: a few PNGs in a subfolder and a manifest naming them."""
    folder = tmp_path / "lab_faces"
    (folder / "img").mkdir(parents=True)
    default = []
    for i, (ident, emotion, morph) in enumerate([("baby01", "sad", "-1"), ("baby01", "neutral", "0"),
                                                 ("baby01", "happy", "1"), ("baby02", "sad", "-0.5"),
                                                 ("baby02", "happy", "0.5")]):
        image = QImage(120, 160, QImage.Format.Format_RGB32)
        image.fill(QColor(40 * i, 100, 200 - 30 * i))
        assert image.save(str(folder / "img" / f"f{i}.png"))
        default.append([f"img/f{i}.png", ident, emotion, morph])
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "identity", "emotion", "morph"])
        writer.writerows(default if rows is None else rows)
    return folder


def test_a_labs_folder_with_manifest_loads(tmp_path):
    folder = make_folder(tmp_path)
    stimset = StimulusSet.from_manifest(folder / "manifest.csv")
    assert stimset.identities == ["baby01", "baby02"]
    assert stimset.morphs == [-1.0, -0.5, 0.0, 0.5, 1.0]
    face = stimset.find(0.5, "baby02")
    assert face.file == str(folder / "img" / "f4.png") and face.emotion == "happy"
    shown = stimset.image(face, 320)
    assert (shown.width(), shown.height()) == (240, 320)  # scaled to the shown height, aspect kept
    assert QColor(shown.pixel(120, 160)).blue() == 200 - 30 * 4  # the lab's own pixels


@pytest.mark.parametrize("row, field, says", [
    (["img/missing.png", "baby01", "sad", "-1"], "line 3: file", "does not exist"),
    (["img/f0.png", "baby01", "angry", "-1"], "line 3: emotion", "sad, neutral, happy"),
    (["img/f0.png", "baby01", "sad", "very"], "line 3: morph", "number"),
    (["img/f0.png", "baby01", "sad", "-3"], "line 3: morph", "from -1 to 1"),
    (["img/f0.png", "", "sad", "-1"], "line 3: identity", "empty"),
    (["notes.txt", "baby01", "sad", "-1"], "line 3: file", "not a readable image"),
])
def test_bad_manifest_names_file_line_and_field(tmp_path, row, field, says):
    folder = make_folder(tmp_path)
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    manifest = folder / "manifest.csv"
    lines = manifest.read_text(encoding="utf-8").splitlines()
    lines.insert(2, ",".join(row))  # becomes line 3 of the file
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        StimulusSet.from_manifest(manifest)
    message = str(err.value)
    assert message.startswith(f"{manifest}: {field}: "), message
    assert says in message, message


def test_manifest_missing_a_column_is_named(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "manifest.csv").write_text("file,identity,morph\nimg/f0.png,baby01,-1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"manifest\.csv: header: missing column\(s\) emotion"):
        StimulusSet.from_manifest(folder / "manifest.csv")


def test_exported_builtin_set_reloads_as_a_folder(tmp_path):
    manifest = export_builtin(tmp_path / "faces", identities=2, levels=5, size=128)
    reloaded = StimulusSet.from_manifest(manifest)
    builtin = StimulusSet.builtin(identities=2, levels=5, size=128)
    assert [(f.identity, f.morph, f.emotion) for f in reloaded.items] == \
        [(f.identity, f.morph, f.emotion) for f in builtin.items]
    for mine, theirs in zip(reloaded.items, builtin.items):
        assert np.array_equal(rgb(reloaded.image(mine)), rgb(builtin.image(theirs)))


def test_every_identity_stays_inside_the_shared_face_geometry():
    """The gaze regions of analysis, feedback and the simulated viewer hold every drawn face's features."""
    from analysis import regions
    from stimulus import face_geometry as geo

    lo, hi = geo.EYE_GAP_RANGE
    for ident in faces.IDENTITIES:
        assert lo <= ident.eye_gap <= hi, ident.name
        assert ident.head_w <= geo.HEAD_HALF_AXES_MAX[0] and ident.head_h <= geo.HEAD_HALF_AXES_MAX[1], ident.name
    for x, y in geo.EYE_POINTS:  # the points the simulated viewer fixates fall in analysis' eye region
        inside = regions.classify(np.array([x]), np.array([y]), (0.0, 0.0, 1.0, 1.0))
        assert inside["eyes"][0] and inside["face"][0]
    mx, my = geo.MOUTH_POINT
    assert regions.classify(np.array([mx]), np.array([my]), (0.0, 0.0, 1.0, 1.0))["mouth"][0]
