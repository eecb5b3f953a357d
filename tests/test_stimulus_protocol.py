"""Protocol files: the shipped ones load, bad ones fail naming file and field, seeds fix the order."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from configs import ConfigError
from stimulus.protocol import available_protocols, load_protocol
from stimulus.stimuli import StimulusSet
from stimulus.trials import plan

SHIPPED = ("infant_face_rating", "emotion_training")


def write(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def shipped(name: str) -> dict:
    return yaml.safe_load((Path("configs/protocols") / f"{name}.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocols_load_and_plan(name):
    assert name in available_protocols()
    protocol = load_protocol(name)
    assert protocol.source == f"{name}.yaml"
    stimset = StimulusSet.for_spec(protocol.stimuli)
    blocks = plan(protocol, stimset)
    assert len(blocks) == len(protocol.blocks) >= 2
    assert all(len(b.trials) > 0 for b in blocks)
    assert len(stimset.morphs) >= 9 and 0.0 in stimset.morphs  # sad ... neutral ... happy


def test_rating_protocol_shows_every_face_of_its_identities_once_per_block():
    protocol = load_protocol("infant_face_rating")
    stimset = StimulusSet.for_spec(protocol.stimuli)
    for bp in plan(protocol, stimset):
        shown = [(t.face.identity, t.face.morph) for t in bp.trials]
        wanted = {(f.identity, f.morph) for f in stimset.select(bp.block.identities)}
        assert sorted(shown) == sorted(wanted)
        fixations = [t.fixation for t in bp.trials]
        assert all(protocol.timing.fixation <= f <= protocol.timing.fixation + protocol.timing.fixation_jitter
                   for f in fixations)
        assert len(set(fixations)) > 1  # jittered


def _change(data: dict, dotted: str, value) -> dict:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value
    return data


@pytest.mark.parametrize("base, field, value, named, says", [
    ("infant_face_rating", "timing.face", "long", "timing.face", "number"),
    ("infant_face_rating", "timing.fixation", -1, "timing.fixation", ""),
    ("infant_face_rating", "timing.fase", 1.0, "timing.fase", ""),  # misspelt key
    ("infant_face_rating", "task", "staring", "task", "rating"),
    ("infant_face_rating", "stimuli.morph_levels", 8, "stimuli.morph_levels", "odd"),
    ("infant_face_rating", "stimuli.source", "folder", "stimuli.folder", "required"),
    ("infant_face_rating", "display.background", "grey", "display.background", "colour"),
    ("infant_face_rating", "display.photodiode_corner", "middle", "display.photodiode_corner", ""),
    ("infant_face_rating", "randomisation.seed", 1.5, "randomisation.seed", ""),
    ("infant_face_rating", "timing.face", float("nan"), "timing.face", "finite"),
    ("infant_face_rating", "timing.iti", float("inf"), "timing.iti", "finite"),
    ("infant_face_rating", "blocks.1.name", "rating-1", "blocks[1].name", "twice"),
    ("infant_face_rating", "blocks.0.morphs", [0.0, 2.0], "blocks[0].morphs", "-1"),
    ("emotion_training", "blocks.0", {"name": "t"}, "blocks[0].trials", "required"),
    ("emotion_training", "training.staircase.down", 0, "training.staircase.down", ""),
    ("emotion_training", "stimuli.morph_levels", 3, "stimuli.morph_levels", "staircase"),
])
def test_bad_protocols_name_file_and_field(tmp_path, base, field, value, named, says):
    path = write(tmp_path, "broken", _change(shipped(base), field, value))
    with pytest.raises(ConfigError) as err:
        load_protocol(path)
    message = str(err.value)
    assert message.startswith("broken.yaml: "), message
    assert named in message, message
    assert says in message, message


def test_missing_blocks_and_missing_file_and_bad_yaml(tmp_path):
    data = shipped("infant_face_rating")
    del data["blocks"]
    with pytest.raises(ConfigError, match=r"no_blocks\.yaml: blocks"):
        load_protocol(write(tmp_path, "no_blocks", data))
    with pytest.raises(ConfigError, match="no such protocol file.*infant_face_rating"):
        load_protocol(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nblocks: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: line \d+: not valid YAML"):
        load_protocol(bad)


def test_block_selecting_unknown_identity_is_named_at_planning(tmp_path):
    data = _change(shipped("infant_face_rating"), "blocks.0.identities", ["A", "Z"])
    protocol = load_protocol(write(tmp_path, "who", data))
    with pytest.raises(ConfigError, match=r"who\.yaml: blocks\[0\]\.identities: Z not in the stimulus set"):
        plan(protocol, StimulusSet.for_spec(protocol.stimuli))


def _order(protocol, seed=None):
    stimset = StimulusSet.for_spec(protocol.stimuli)
    return [(t.block, t.face.identity if t.face else t.identity, t.face.morph if t.face else t.category,
             t.fixation) for bp in plan(protocol, stimset, seed) for t in bp.trials]


@pytest.mark.parametrize("name", SHIPPED)
def test_trial_order_is_reproducible_with_a_seed_and_differs_with_another(name):
    protocol = load_protocol(name)
    first = _order(protocol)
    assert _order(load_protocol(name)) == first  # a fresh load, same seed: same session
    assert _order(protocol, protocol.seed) == first
    other = _order(protocol, protocol.seed + 1)
    assert other != first
    # same content, another order: the seed shuffles, it does not choose different faces
    for part in ((0, 1), (0, 2)):  # (block, identity) and (block, morph or category)
        assert sorted(tuple(o[i] for i in part) for o in other) == sorted(tuple(o[i] for i in part) for o in first)


def test_unshuffled_protocol_keeps_the_continuum_order(tmp_path):
    data = shipped("infant_face_rating")
    data["randomisation"] = {"seed": 1, "shuffle": False}
    data["blocks"] = [{"name": "b", "identities": ["A"]}]
    protocol = load_protocol(write(tmp_path, "ordered", data))
    morphs = [m for _, _, m, _ in _order(protocol)]
    assert morphs == sorted(morphs) and len(morphs) == 9


def test_protocol_with_a_key_given_twice_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "twice.yaml"
    text = yaml.safe_dump(shipped("infant_face_rating"), sort_keys=False)
    path.write_text(text.replace("timing:\n", "timing:\n  face: 0.5\n", 1) + "name: again\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"twice\.yaml: line \d+: the key '(face|name)' is given twice"):
        load_protocol(path)


def test_protocol_that_is_not_utf8_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin1\.yaml: line 2: not UTF-8"):
        load_protocol(path)
