"""Protocol files: what a session shows, in which order and for how long.

A protocol is a YAML file in ``configs/protocols/`` (or anywhere, by path).
It is validated completely on load, so a typo stops the session before the
participant sits down rather than in the middle of block 3. Every error
names the file and the field (``emotion_training.yaml: timing.face: ...``).
All durations are in seconds of protocol time; a run may scale them with
``speed`` (demos and tests), never the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configs import CONFIG_DIR, ConfigError, Fields, load_yaml

PROTOCOL_DIR = CONFIG_DIR / "protocols"
TASKS = ("rating", "training")
CHOICES = ("sad", "neutral", "happy")
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


@dataclass(frozen=True)
class Timing:
    """Durations in seconds. Fixation lasts ``fixation`` plus a uniform 0..``fixation_jitter``."""

    fixation: float = 0.5
    fixation_jitter: float = 0.2
    face: float = 1.0
    response_timeout: float = 5.0
    feedback: float = 1.0
    iti: float = 0.5
    instructions: float = 30.0


@dataclass(frozen=True)
class StimulusSpec:
    """Where faces come from: the built-in drawn set, or a folder with a manifest."""

    source: str = "builtin"
    identities: int = 4
    morph_levels: int = 9
    folder: Path | None = None
    manifest: Path | None = None
    size: int = 512


@dataclass(frozen=True)
class Block:
    """One block: which faces (filters on identity and morph), how often, or how many trials."""

    name: str
    repeats: int = 1
    trials: int | None = None
    identities: tuple[str, ...] | None = None
    morphs: tuple[float, ...] | None = None
    instructions: str = ""


@dataclass(frozen=True)
class Breaks:
    """A pause between blocks; a key press ends it early."""

    between_blocks: bool = True
    duration: float = 20.0
    text: str = "Short break. Press space to continue."


@dataclass(frozen=True)
class Display:
    background: str = "#808080"
    foreground: str = "#ffffff"
    face_height: float = 0.55
    photodiode: bool = False
    photodiode_corner: str = "bottom-left"
    photodiode_size: int = 48


@dataclass(frozen=True)
class Rating:
    prompt: str = "How is this baby feeling?"
    low_label: str = "very sad"
    high_label: str = "very happy"
    key_step: float = 2.0


@dataclass(frozen=True)
class Staircase:
    """Transformed up-down staircase over intensity steps (0 = clearest face).

    ``down`` correct answers in a row move one step toward the ambiguous
    middle; ``up`` wrong answers in a row move one step back. 2-down-1-up
    settles near 71 % correct (Levitt 1971).
    """

    start: int = 0
    down: int = 2
    up: int = 1


@dataclass(frozen=True)
class Training:
    neutral_fraction: float = 0.2
    staircase: Staircase = field(default_factory=Staircase)
    summary_duration: float = 5.0
    prompt: str = "Is this baby sad, neutral or happy?"


@dataclass(frozen=True)
class Protocol:
    """A validated protocol; ``source`` is the file it came from (for messages and markers)."""

    name: str
    task: str
    source: str
    seed: int
    shuffle: bool
    timing: Timing
    stimuli: StimulusSpec
    blocks: tuple[Block, ...]
    breaks: Breaks
    display: Display
    rating: Rating
    training: Training
    instructions: str = ""
    description: str = ""

    @property
    def slug(self) -> str:
        """File-name-safe task label (``infant_face_rating``) for BIDS names."""
        return Path(self.source).stem if self.source else self.name.replace(" ", "_")


def resolve_protocol_path(name_or_path: str | os.PathLike) -> Path:
    """``infant_face_rating`` -> configs/protocols/infant_face_rating.yaml; paths are kept."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists() or os.sep in str(name_or_path):
        return candidate
    return PROTOCOL_DIR / f"{name_or_path}.yaml"


def available_protocols() -> list[str]:
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def load_protocol(name_or_path: str | os.PathLike) -> Protocol:
    """Read and validate a protocol by name or path; raises ConfigError naming file and field."""
    path = resolve_protocol_path(name_or_path)
    if not path.exists():
        known = ", ".join(available_protocols()) or "none"
        raise ConfigError(path, "", f"no such protocol file (shipped protocols: {known})")
    return parse_protocol(load_yaml(path), source=path.name, base_dir=path.parent)


def parse_protocol(data: dict[str, Any], source: str = "<protocol>",
                   base_dir: Path | None = None) -> Protocol:
    """Validate a protocol mapping; ``source`` is the file name used in error messages."""
    top = Fields(data, source)
    name = top.text("name", required=True)
    task = top.text("task", required=True, choices=list(TASKS))
    description = top.text("description", "")
    instructions = top.text("instructions", "")

    rnd = top.section("randomisation")
    seed = rnd.number("seed", 1, lo=0, integer=True)
    shuffle = rnd.flag("shuffle", True)
    rnd.finish()

    timing = _timing(top.section("timing"))
    stimuli = _stimuli(top.section("stimuli"), base_dir)
    display = _display(top.section("display"))
    rating = _rating(top.section("rating"))
    training = _training(top.section("training"))
    breaks = _breaks(top.section("breaks"))
    blocks = tuple(top.items("blocks", lambda item, where: _block(item, source, where, task),
                             required=True))
    if not blocks:
        raise ConfigError(source, "blocks", "needs at least one block")
    names = [b.name for b in blocks]
    for i, block_name in enumerate(names):
        if names.index(block_name) != i:
            raise ConfigError(source, f"blocks[{i}].name", f"{block_name!r} is used twice")
    if task == "training" and stimuli.source == "builtin" and stimuli.morph_levels < 5:
        raise ConfigError(source, "stimuli.morph_levels",
                          "training needs at least 5 levels so the staircase has steps to move")
    top.finish()
    return Protocol(name=name, task=task, source=source, seed=seed, shuffle=shuffle,
                    timing=timing, stimuli=stimuli, blocks=blocks, breaks=breaks,
                    display=display, rating=rating, training=training,
                    instructions=instructions, description=description)


def _timing(f: Fields) -> Timing:
    d = Timing()
    t = Timing(
        fixation=f.number("fixation", d.fixation, lo=0.0, hi=60.0),
        fixation_jitter=f.number("fixation_jitter", d.fixation_jitter, lo=0.0, hi=60.0),
        face=f.number("face", d.face, lo=0.001, hi=60.0),
        response_timeout=f.number("response_timeout", d.response_timeout, lo=0.1, hi=600.0),
        feedback=f.number("feedback", d.feedback, lo=0.0, hi=60.0),
        iti=f.number("iti", d.iti, lo=0.0, hi=60.0),
        instructions=f.number("instructions", d.instructions, lo=0.0, hi=3600.0),
    )
    f.finish()
    return t


def _stimuli(f: Fields, base_dir: Path | None) -> StimulusSpec:
    source = f.text("source", "builtin", choices=["builtin", "folder"])
    identities = f.number("identities", 4, lo=1, hi=6, integer=True)
    levels = f.number("morph_levels", 9, lo=3, hi=101, integer=True)
    size = f.number("size", 512, lo=64, hi=4096, integer=True)
    folder_text = f.text("folder", None)
    manifest_text = f.text("manifest", None)
    if levels % 2 == 0:
        raise f.error("morph_levels", f"must be odd so the continuum has a neutral middle, got {levels}")
    folder = manifest = None
    if source == "folder":
        if folder_text is None:
            raise f.error("folder", "is required when source is folder")
        folder = Path(folder_text).expanduser()
        if not folder.is_absolute() and base_dir is not None:
            folder = (base_dir / folder)
        manifest = folder / (manifest_text or "manifest.csv")
        if not folder.is_dir():
            raise f.error("folder", f"{folder} is not a folder")
        if not manifest.is_file():
            raise f.error("manifest", f"{manifest} does not exist")
    elif folder_text is not None or manifest_text is not None:
        raise f.error("folder" if folder_text is not None else "manifest",
                      "only applies when source is folder")
    f.finish()
    return StimulusSpec(source=source, identities=identities, morph_levels=levels,
                        folder=folder, manifest=manifest, size=size)


def _display(f: Fields) -> Display:
    d = Display()
    out = Display(
        background=_colour(f, "background", d.background),
        foreground=_colour(f, "foreground", d.foreground),
        face_height=f.number("face_height", d.face_height, lo=0.1, hi=1.0),
        photodiode=f.flag("photodiode", d.photodiode),
        photodiode_corner=f.text("photodiode_corner", d.photodiode_corner, choices=list(CORNERS)),
        photodiode_size=f.number("photodiode_size", d.photodiode_size, lo=8, hi=400, integer=True),
    )
    f.finish()
    return out


def _colour(f: Fields, key: str, default: str) -> str:
    value = f.text(key, default)
    digits = value[1:]
    if not (value.startswith("#") and len(digits) == 6
            and all(c in "0123456789abcdefABCDEF" for c in digits)):
        raise f.error(key, f"must be a colour like '#808080', got {value!r}")
    return value


def _rating(f: Fields) -> Rating:
    d = Rating()
    out = Rating(
        prompt=f.text("prompt", d.prompt),
        low_label=f.text("low_label", d.low_label),
        high_label=f.text("high_label", d.high_label),
        key_step=f.number("key_step", d.key_step, lo=0.1, hi=50.0),
    )
    f.finish()
    return out


def _training(f: Fields) -> Training:
    d = Training()
    s = f.section("staircase")
    stair = Staircase(
        start=s.number("start", 0, lo=0, integer=True),
        down=s.number("down", 2, lo=1, hi=10, integer=True),
        up=s.number("up", 1, lo=1, hi=10, integer=True),
    )
    s.finish()
    out = Training(
        neutral_fraction=f.number("neutral_fraction", d.neutral_fraction, lo=0.0, hi=0.9),
        staircase=stair,
        summary_duration=f.number("summary_duration", d.summary_duration, lo=0.0, hi=600.0),
        prompt=f.text("prompt", d.prompt),
    )
    f.finish()
    return out


def _breaks(f: Fields) -> Breaks:
    d = Breaks()
    out = Breaks(
        between_blocks=f.flag("between_blocks", d.between_blocks),
        duration=f.number("duration", d.duration, lo=0.0, hi=3600.0),
        text=f.text("text", d.text),
    )
    f.finish()
    return out


def _block(item: Any, source: str, where: str, task: str) -> Block:
    f = Fields(item, source, where)
    name = f.text("name", required=True)
    repeats = f.number("repeats", 1, lo=1, hi=100, integer=True)
    trials = f.number("trials", None, lo=1, hi=10000, integer=True)
    identities = (f.items("identities", lambda v, w: _identity(v, w, source))
                  if "identities" in f.data else None)
    morphs = f.items("morphs", lambda v, w: _morph(v, w, source)) if "morphs" in f.data else None
    instructions = f.text("instructions", "")
    if task == "training" and trials is None:
        raise f.error("trials", "is required for training blocks (trials are chosen adaptively)")
    if task == "training" and "repeats" in f.data:
        raise f.error("repeats", "does not apply to training blocks; use trials")
    if identities is not None and not identities:
        raise f.error("identities", "must not be empty (leave it out to use all)")
    if morphs is not None and not morphs:
        raise f.error("morphs", "must not be empty (leave it out to use all)")
    f.finish()
    return Block(name=name, repeats=repeats, trials=trials,
                 identities=tuple(identities) if identities is not None else None,
                 morphs=tuple(morphs) if morphs is not None else None,
                 instructions=instructions)


def _identity(value: Any, where: str, source: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ConfigError(source, where, f"must be an identity name, got {value!r}")
    return str(value)


def _morph(value: Any, where: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1.0 <= value <= 1.0:
        raise ConfigError(source, where, f"must be a morph value from -1 (sad) to 1 (happy), got {value!r}")
    return float(value)
