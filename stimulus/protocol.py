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
REGIONS = ("eyes", "mouth")
CUE_STYLES = ("outline", "brighten")
#: The stimulus window's size when none is given (pixels): analysis assumes it for gaze geometry.
DEFAULT_WINDOW_SIZE = (1280, 800)


@dataclass(frozen=True)
class StudyPhase:
    """One part of a study visit: its BIDS session label, the protocol it runs and the task label."""

    session: str
    protocol: str
    task: str


#: The visit of the PACT design: rate, train, rate again (the demo and the simulated cohort).
STUDY_VISIT = (StudyPhase("pre", "infant_face_rating", "rating"),
               StudyPhase("training", "emotion_training", "training"),
               StudyPhase("post", "infant_face_rating", "rating"))


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
class Attention:
    """Gaze-guided attention: cue the regions she has not looked at ``cue_after`` s into a face."""

    enabled: bool = True
    regions: tuple[str, ...] = ("eyes", "mouth")
    cue_after: float = 0.6
    cue_style: str = "outline"  # outline: a soft ring round the region; brighten: the region lightens
    cue_colour: str = "#ffe680"
    gaze_contingent: bool = False  # the face stays until each region had min_dwell (or max_face)
    min_dwell: float = 0.3
    max_face: float = 6.0


@dataclass(frozen=True)
class Mirroring:
    """Her smile (webcam expression) shown against her baseline while a face of ``emotions`` is shown."""

    enabled: bool = True
    emotions: tuple[str, ...] = ("happy",)
    threshold: float = 0.15  # smile above the baseline mean that counts as mirroring
    min_duration: float = 0.2
    bar: bool = True


@dataclass(frozen=True)
class Calm:
    """A guided-breathing cue when skin conductance rises after a face of ``emotions``."""

    enabled: bool = True
    emotions: tuple[str, ...] = ("sad",)
    rise: float = 0.05  # microsiemens above the level at face onset
    duration: float = 6.0
    breath_period: float = 6.0
    text: str = "Breathe slowly"


@dataclass(frozen=True)
class FeedbackStreams:
    """LSL predicates (XPath on the stream info) for the streams feedback reads."""

    gaze: str = "type='Gaze'"
    expression: str = "type='FacialExpression'"
    gsr: str = "type='GSR'"


@dataclass(frozen=True)
class Feedback:
    """Real-time biofeedback during training (docs/feedback.md)."""

    enabled: bool = False
    streams: FeedbackStreams = field(default_factory=FeedbackStreams)
    find_timeout: float = 2.0  # start-of-session check: how long to look for each stream
    stall_after: float = 0.5  # no samples this long: that feedback pauses
    min_validity: float = 0.5  # valid fraction of the last stall_after seconds below this: pauses
    baseline: float = 10.0  # neutral period at the start, seconds
    baseline_text: str = "Relax and look at the cross. The training starts in a moment."
    attention: Attention = field(default_factory=Attention)
    mirroring: Mirroring = field(default_factory=Mirroring)
    calm: Calm = field(default_factory=Calm)


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
    feedback: Feedback = field(default_factory=Feedback)
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
    feedback = _feedback(top.section("feedback"))
    if feedback.enabled and task != "training":
        raise ConfigError(source, "feedback.enabled", "feedback runs in training protocols only")
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
                    instructions=instructions, description=description, feedback=feedback)


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


def _emotions(f: Fields, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    def check(value: Any, where: str) -> str:
        if value not in CHOICES:
            raise ConfigError(f.source, where, f"must be one of {', '.join(CHOICES)}; got {value!r}")
        return value
    return tuple(f.items(key, check, list(default)))


def _feedback(f: Fields) -> Feedback:
    d = Feedback()
    s = f.section("streams")
    streams = FeedbackStreams(gaze=s.text("gaze", d.streams.gaze),
                              expression=s.text("expression", d.streams.expression),
                              gsr=s.text("gsr", d.streams.gsr))
    s.finish()
    for key in ("gaze", "expression", "gsr"):
        if not getattr(streams, key).strip():
            raise s.error(key, "must be an LSL predicate such as type='Gaze'")

    a, da = f.section("attention"), Attention()

    def region(value: Any, where: str) -> str:
        if value not in REGIONS:
            raise ConfigError(f.source, where, f"must be one of {', '.join(REGIONS)}; got {value!r}")
        return value
    attention = Attention(
        enabled=a.flag("enabled", da.enabled),
        regions=tuple(a.items("regions", region, list(da.regions))),
        cue_after=a.number("cue_after", da.cue_after, lo=0.0, hi=60.0),
        cue_style=a.text("cue_style", da.cue_style, choices=list(CUE_STYLES)),
        cue_colour=_colour(a, "cue_colour", da.cue_colour),
        gaze_contingent=a.flag("gaze_contingent", da.gaze_contingent),
        min_dwell=a.number("min_dwell", da.min_dwell, lo=0.0, hi=60.0),
        max_face=a.number("max_face", da.max_face, lo=0.1, hi=600.0),
    )
    if attention.enabled and not attention.regions:
        raise a.error("regions", "must name at least one region (eyes, mouth) when attention is enabled")
    a.finish()

    m, dm = f.section("mirroring"), Mirroring()
    mirroring = Mirroring(
        enabled=m.flag("enabled", dm.enabled),
        emotions=_emotions(m, "emotions", dm.emotions),
        threshold=m.number("threshold", dm.threshold, lo=0.0, hi=1.0),
        min_duration=m.number("min_duration", dm.min_duration, lo=0.0, hi=60.0),
        bar=m.flag("bar", dm.bar),
    )
    m.finish()

    c, dc = f.section("calm"), Calm()
    calm = Calm(
        enabled=c.flag("enabled", dc.enabled),
        emotions=_emotions(c, "emotions", dc.emotions),
        rise=c.number("rise", dc.rise, lo=0.001, hi=20.0),
        duration=c.number("duration", dc.duration, lo=0.1, hi=600.0),
        breath_period=c.number("breath_period", dc.breath_period, lo=1.0, hi=30.0),
        text=c.text("text", dc.text),
    )
    c.finish()

    out = Feedback(
        enabled=f.flag("enabled", d.enabled),
        streams=streams,
        find_timeout=f.number("find_timeout", d.find_timeout, lo=0.1, hi=60.0),
        stall_after=f.number("stall_after", d.stall_after, lo=0.05, hi=60.0),
        min_validity=f.number("min_validity", d.min_validity, lo=0.0, hi=1.0),
        baseline=f.number("baseline", d.baseline, lo=0.0, hi=600.0),
        baseline_text=f.text("baseline_text", d.baseline_text),
        attention=attention, mirroring=mirroring, calm=calm,
    )
    if out.enabled and out.mirroring.enabled and out.baseline <= 0:
        raise f.error("baseline", "must be above 0 when mirroring is enabled (mirroring is judged against it)")
    f.finish()
    return out
