"""The stimulus window itself: onsets after the request, the photodiode patch, input, snapshots."""
from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QImage

from stimulus import scenes
from stimulus.protocol import Display
from stimulus.snapshots import show_and_grab, write_snapshots
from stimulus.stimuli import StimulusSet
from stimulus.window import StimulusWindow

SIZE = (640, 400)


@pytest.fixture
def window(qapp):
    win = StimulusWindow(Display(photodiode=True, photodiode_corner="top-right", photodiode_size=40))
    win.open(windowed=True, size=SIZE)
    yield win
    win.close()


def colour_at(image: QImage, x: int, y: int) -> QColor:
    return QColor(image.pixel(x, y))


def test_photodiode_patch_flips_with_every_onset_and_onsets_follow_requests(window):
    stimset = StimulusSet.builtin(identities=1, levels=3)
    shown = [scenes.Fixation(), scenes.FaceScreen(stimset.image(stimset.items[2], 200)), scenes.Blank(),
             scenes.RatingScreen("How?", "very sad", "very happy"), scenes.Fixation()]
    patches = []
    for screen in shown:
        image = show_and_grab(window, screen)
        patches.append(colour_at(image, SIZE[0] - 20, 20).lightness())
        assert colour_at(image, SIZE[0] - 60, 60) == QColor(window.display.background)  # patch stays small
    assert all(p in (0, 255) for p in patches)
    assert all(a != b for a, b in zip(patches, patches[1:]))  # black, white, black, ...
    frames = window.frames[-len(shown):]
    assert all(f.requested <= f.painted <= f.swapped for f in frames)
    assert [f.version for f in frames] == list(range(frames[0].version, frames[0].version + len(shown)))


def test_keys_move_the_rating_and_enter_confirms_only_after_the_scale_is_shown(window, qtbot):
    window.key_step = 2.0
    screen = scenes.RatingScreen("How?", "very sad", "very happy")
    window.present(screen)
    with qtbot.assertNotEmitted(window.rated, wait=0):
        window.press_key(Qt.Key.Key_Right)  # before the frame: the scale is not on screen yet
        window.press_key(Qt.Key.Key_Return)
    with qtbot.waitSignal(window.onset, timeout=3000):
        pass
    with qtbot.waitSignal(window.rated, timeout=1000) as got:
        for _ in range(3):
            window.press_key(Qt.Key.Key_Right)
        window.press_key(Qt.Key.Key_Left)
        window.press_key(Qt.Key.Key_Return)
    value, when = got.args
    assert value == 54.0  # 50 + 3 x 2 - 2
    assert when >= window.frames[-1].swapped


def test_a_click_on_the_line_rates_where_it_lands(window, qtbot):
    show_and_grab(window, scenes.RatingScreen("How?", "very sad", "very happy"))
    with qtbot.waitSignal(window.rated, timeout=1000) as got:
        window.click(window.rating_point(25.0))
    assert got.args[0] == pytest.approx(25.0, abs=0.2)


def test_choice_buttons_answer_by_click_and_by_key(window, qtbot):
    show_and_grab(window, scenes.ChoiceScreen("Which?"))
    with qtbot.waitSignal(window.chosen, timeout=1000) as got:
        window.click(window.choice_point("neutral"))
    assert got.args[0] == "neutral"
    show_and_grab(window, scenes.ChoiceScreen("Which?"))
    with qtbot.waitSignal(window.chosen, timeout=1000) as got:
        window.press_key(Qt.Key.Key_H, "h")
    assert got.args[0] == "happy"


def test_snapshots_render_every_screen_legibly(qapp, tmp_path):
    files = {p.stem: p for p in write_snapshots(tmp_path, (800, 500))}
    fixation = QImage(str(files["stimulus_fixation"]))
    assert colour_at(fixation, 400, 250) == QColor("white")  # the cross, in the middle
    for stem in ("stimulus_face", "stimulus_rating", "stimulus_choice",
                 "stimulus_feedback", "stimulus_summary"):
        image = QImage(str(files[stem]))
        assert (image.width(), image.height()) == (800, 500), stem
        grey = QColor("#808080")
        centre_band = [colour_at(image, x, y) for x in range(200, 600, 10) for y in range(100, 400, 10)]
        assert sum(c != grey for c in centre_band) > 5, f"{stem} looks empty"
    face = QImage(str(files["stimulus_face"]))
    skin = colour_at(face, 400, 250)
    assert skin.red() > skin.blue() + 30  # a face in the middle, not background
    rating = QImage(str(files["stimulus_rating"]))
    bar = scenes.rating_bar(800, 500)
    assert colour_at(rating, int(bar.left() + 5), int(bar.center().y())) == QColor("white")
    strip = QImage(str(files["stimulus_morphs"]))
    assert strip.width() == 9 * strip.height() // 3
