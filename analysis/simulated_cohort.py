"""A simulated cohort: N participants in two groups, each visit recorded to XDF, without waiting.

Each participant makes the demo's visit (face rating, training, face rating
again; ``stimulus.protocol.STUDY_VISIT``) through the same models the real-time demo uses:
the task scripts run on a virtual clock (``stimulus.virtual``), the simulated
participant (``stimulus.participant``) answers and learns from the training's
feedback, and the simulated body (``devices.body``) drives the simulated eye
tracker, webcam and GSR (``devices``), whose samples are generated up to each
marker's time and written with the project's XDF writer. A session of ~3
minutes takes about a second.

The effects put in, by group (``GROUPS``; the tests recover them):

- interpretation bias: "high" (risk) participants rate faces ``HIGH.bias``
  points sadder before training and learn toward ``HIGH.post_bias`` from
  the training's feedback, so ambiguous faces shift positive (about +10
  points, the point of subjective neutrality moves toward sad); "low"
  participants start near neutral and do not change (no learning target);
- smiling: after training the high group's expression carries
  ``post_smile`` more valence while a face is shown;
- distress: after training the high group's SCRs to sad faces are scaled
  by ``post_distress_gain`` (smaller).

Participant-to-participant spread: bias, SCR size and rating noise vary.
"""
from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.naming import SessionFields, bids_path, prepare_output
from acquisition.xdf_writer import XDFWriter
from devices.body import SimulatedBody
from devices.eyetracker import EyeTrackerSource
from devices.gsr import GSRSource
from devices.simulated import SampleSource
from devices.webcam import ExpressionSource, FrameIndexSource
from stimulus.events_tsv import write_events_tsv
from stimulus.participant import SimulatedParticipant
from stimulus.protocol import DEFAULT_WINDOW_SIZE, STUDY_VISIT
from stimulus.virtual import run_virtual
from sync.protocol import format_sample
from sync.streams import marker_info_xml

SCREEN = DEFAULT_WINDOW_SIZE
TAIL = 6.0  # seconds recorded after the task ends, so the last face's SCR is complete
SESSION_GAP = 3600.0  # LSL-clock seconds between one participant's sessions



@dataclass(frozen=True)
class GroupEffects:
    """The simulated effects of one group (rating points, valence units, SCR ratios)."""

    name: str
    bias: float  # interpretation bias before training, rating points (0-100 scale)
    post_bias: float | None  # what training feedback pulls the bias toward (None: no learning)
    post_smile: float  # valence added while a face is shown, after training
    post_distress_gain: float  # SCR amplitude to sad faces after training, relative to before


HIGH = GroupEffects("high", bias=-8.0, post_bias=2.0, post_smile=0.15, post_distress_gain=0.6)
LOW = GroupEffects("low", bias=-1.0, post_bias=None, post_smile=0.0, post_distress_gain=1.0)
GROUPS = (HIGH, LOW)


@dataclass(frozen=True)
class Member:
    participant: str
    group: str
    bias: float
    noise: float
    scr_amplitude: float
    seed: int


class _Devices:
    """The simulated devices of one recording, generated on demand up to a time and written out."""

    def __init__(self, writer: XDFWriter, start: float, seed: int) -> None:
        self.writer, self.start = writer, start
        self.eyetracker = EyeTrackerSource(300.0, seed=seed)
        self.gsr = GSRSource(128.0, seed=seed + 1)
        self.expression = ExpressionSource(30.0, name="SimWebcamExpression",
                                           source_id="attune-sim-webcam-expression", seed=seed + 2)
        frames = FrameIndexSource(30.0)
        self.sources: dict[int, tuple[SampleSource, float, str]] = {
            2: (self.eyetracker, 300.0, "float32"), 3: (self.gsr, 128.0, "float32"),
            4: (frames, 30.0, "int32"), 5: (self.expression, 30.0, "float32")}
        self.cursor = dict.fromkeys(self.sources, 0)
        for sid, (source, rate, fmt) in self.sources.items():
            writer.add_stream(sid, source.info.as_xml(), fmt, rate)

    def advance(self, until: float) -> None:
        for sid, (source, rate, _) in self.sources.items():
            n = int(np.floor((until - self.start) * rate)) - self.cursor[sid]
            if n <= 0:
                continue
            idx = self.cursor[sid] + np.arange(n)
            self.writer.write_samples(sid, self.start + idx / rate, source.generate(n))
            self.cursor[sid] += n


class _RecordingSink:
    """The marker bus and recorder in one: devices catch up to the marker, the body reacts, it is written."""

    def __init__(self, writer: XDFWriter, devices: _Devices, body: SimulatedBody) -> None:
        self.writer, self.devices, self.body = writer, devices, body
        self.seq = 0
        writer.add_stream(1, marker_info_xml("stimulus"), "string", 0.0)

    def send(self, event: str, timestamp: float | None = None, **fields: Any) -> None:
        assert timestamp is not None  # the virtual driver stamps every marker
        self.devices.advance(timestamp)
        self.body.send(event, timestamp=timestamp, **fields)
        self.seq += 1
        text = format_sample(event, self.seq, dict(fields))
        self.writer.write_samples(1, [timestamp], [[text]])


def members(n: int, seed: int = 2023) -> list[Member]:
    """``n`` participants, groups alternating high, low, high..., with individual spread."""
    rng = random.Random(f"attune-cohort:{seed}")
    out = []
    for i in range(n):
        group = GROUPS[i % 2]
        out.append(Member(f"{i + 1:02d}", group.name, round(group.bias + rng.gauss(0, 2.0), 2),
                          round(rng.uniform(4.0, 7.0), 2), round(rng.uniform(0.3, 0.5), 3), seed * 100 + i))
    return out


def record_visit(root: Path, member: Member, on_session: Callable[[str], None] | None = None) -> list[Path]:
    """The member's three recordings (and events TSVs) under ``root``; returns the XDF paths."""
    effects = next(g for g in GROUPS if g.name == member.group)
    person = SimulatedParticipant(bias=member.bias, post_bias=effects.post_bias, noise=member.noise,
                                  seed=member.seed)
    paths = []
    for k, visit in enumerate(STUDY_VISIT):
        after = visit.session == "post"
        path = prepare_output(bids_path(root, SessionFields(member.participant, visit.session, visit.task, "1")))
        start = 1000.0 + k * SESSION_GAP
        writer = XDFWriter(path)
        try:
            devices = _Devices(writer, start, member.seed * 10 + k)
            body = SimulatedBody(devices, scr_amplitude=member.scr_amplitude, seed=member.seed * 10 + k,  # type: ignore[arg-type]
                                 distress_gain=effects.post_distress_gain if after else 1.0,
                                 smile=effects.post_smile if after else 0.0)
            sink = _RecordingSink(writer, devices, body)
            result = run_virtual(visit.protocol, sink, person, start=start, size=SCREEN)
            end = result.markers[-1].timestamp + TAIL
            devices.advance(end)
            for sid in (1, *devices.sources):
                writer.write_clock_offset(sid, start, 0.0)
                writer.write_clock_offset(sid, end, 0.0)
        finally:
            writer.close()
        write_events_tsv(path.with_name(path.stem.rsplit("_", 1)[0] + "_events.tsv"), result.markers)
        paths.append(path)
        if on_session is not None:
            on_session(f"sub-{member.participant} ses-{visit.session}: {len(result.trials)} trials")
    return paths


def write_participants(root: Path, cohort: list[Member]) -> Path:
    """``participants.tsv`` (participant_id, group) that the cohort analysis reads."""
    path = root / "participants.tsv"
    with path.open("x", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["participant_id", "group"])
        for m in cohort:
            writer.writerow([f"sub-{m.participant}", m.group])
    return path


def simulate_cohort(root: str | Path, n: int, seed: int = 2023,
                    progress: Callable[[str], None] | None = None) -> list[Path]:
    """Record ``n`` participants' visits into ``root`` (which must not hold a cohort already)."""
    root = Path(root)
    if n < 2:
        raise ValueError(f"a cohort needs at least 2 participants (one per group), got {n}")
    if (root / "participants.tsv").exists():
        raise FileExistsError(f"{root / 'participants.tsv'} exists: choose an empty folder for a new cohort")
    root.mkdir(parents=True, exist_ok=True)
    cohort = members(n, seed)
    write_participants(root, cohort)
    (root / "simulation.json").write_text(json.dumps({
        "description": "Simulated cohort (attune demo --cohort); task speed 1 (real durations)",
        "groups": [asdict(g) for g in GROUPS], "participants": [asdict(m) for m in cohort]}, indent=2) + "\n",
        encoding="utf-8")
    paths = []
    for i, member in enumerate(cohort, 1):
        paths += record_visit(root, member, on_session=(lambda text, i=i: progress(f"[{i}/{n}] {text}"))
                              if progress else None)
    return paths
