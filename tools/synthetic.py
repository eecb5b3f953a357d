"""Synthesise a face-rating recording with known effects, straight into an XDF file.

Used to check the analysis against ground truth and to time it on long
recordings without waiting in real time. The file has the streams and
headers of a real session: task markers exactly as the task runner sends
them (JSON with event, seq and fields, the marker server's header), a
binocular gaze stream, a GSR stream, webcam frame indices and a facial
expression stream. The effects are put in on purpose:

- ratings come from ``stimulus.participant.SimulatedParticipant`` (its bias);
- every face evokes an SCR (``devices.gsr.GSRSource.respond``) at a known
  latency, with an amplitude that depends on the face's emotion;
- during each face the gaze fixates one region (eyes by default), moving
  between the two eyes; between faces it rests on the fixation cross and
  the rating scale;
- the expression's valence follows the face's morph.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acquisition.xdf_writer import XDFWriter
from analysis.regions import Display, region_centre
from devices.expression import EXPRESSION_CHANNELS, scored_face
from devices.eyetracker import CHANNELS as GAZE_CHANNELS
from devices.gsr import GSRSource
from devices.metadata import Channel, stream_info
from stimulus.faces import emotion_of, morph_levels
from stimulus.participant import SimulatedParticipant
from sync.streams import marker_info_xml

CHUNK = 0.1  # seconds per Samples chunk, as the recorder pulls
MARKERS, GAZE, GSR, FRAMES, EXPRESSION = 1, 2, 3, 4, 5


@dataclass
class Truth:
    """What was put into the file, per face."""

    morph: list[float] = field(default_factory=list)
    emotion: list[str] = field(default_factory=list)
    rating: list[float | None] = field(default_factory=list)
    rt: list[float | None] = field(default_factory=list)
    scr_amplitude: list[float] = field(default_factory=list)
    scr_latency: float = 0.0
    gaze_region: str = "eyes"
    face_seconds: float = 1.0
    duration: float = 0.0


# Vendor layouts the gaze can be written in (configs/gaze_layouts.yaml): name, type, channel labels.
VENDOR_GAZE = {
    "attune": ("SimEyeTracker", "Gaze", [c.label for c in GAZE_CHANNELS]),
    "tobii_pro": ("Tobii", "Eyetracker", ["left_x", "left_y", "left_pupil", "right_x", "right_y", "right_pupil"]),
    "pupil_capture": ("pupil_capture", "Gaze", ["confidence", "norm_pos_x", "norm_pos_y", "diameter0_3d",
                                                "diameter1_3d"]),
}


def vendor_gaze(layout: str, samples: np.ndarray) -> np.ndarray:
    """Attune-layout gaze rewritten as a vendor's LSL app would publish it."""
    if layout == "tobii_pro":
        return samples[:, :6]
    if layout == "pupil_capture":  # cyclopean point, y up; eye 0 is the right eye
        x, y = np.nanmean(samples[:, [0, 3]], axis=1), np.nanmean(samples[:, [1, 4]], axis=1)
        return np.column_stack([np.ones(len(samples)), x, 1.0 - y, samples[:, 5], samples[:, 2]]).astype(np.float32)
    return samples


def _headers(writer: XDFWriter, gaze_rate: float, gsr_rate: float, frame_rate: float,
             gaze_layout: str = "attune") -> None:
    writer.add_stream(MARKERS, marker_info_xml("stimulus"), "string", 0.0)
    gaze_name, gaze_type, gaze_labels = VENDOR_GAZE[gaze_layout]
    gaze_channels = [Channel(label, "", "") for label in gaze_labels] if gaze_layout != "attune" else GAZE_CHANNELS
    infos = [
        (GAZE, stream_info(gaze_name, gaze_type, gaze_channels, gaze_rate, "float32", "attune-sim-eyetracker"),
         "float32", gaze_rate),
        (GSR, stream_info("SimGSR", "GSR", [Channel("skin_conductance", "microsiemens", "GSR")], gsr_rate,
                          "float32", "attune-sim-gsr"), "float32", gsr_rate),
        (FRAMES, stream_info("SimWebcam", "VideoFrames", [Channel("frame_index", "count", "FrameIndex")],
                             frame_rate, "int32", "attune-sim-webcam", can_drop_samples=True), "int32", frame_rate),
        (EXPRESSION, stream_info("SimWebcamExpression", "FacialExpression",
                                 EXPRESSION_CHANNELS,
                                 frame_rate, "float32", "attune-sim-webcam-expression"), "float32", frame_rate),
    ]
    for sid, info, fmt, rate in infos:
        writer.add_stream(sid, info.as_xml(), fmt, rate)


class _Gaze:
    """Binocular gaze along a list of (time, x, y) targets: fixations with tremor, 30 ms saccades."""

    def __init__(self, rate: float, rng: np.random.Generator) -> None:
        self.rate = rate
        self.rng = rng
        self.pos = np.array([0.5, 0.5])

    def samples(self, times: np.ndarray, targets: list[tuple[float, float, float]]) -> np.ndarray:
        out = np.empty((len(times), 8), dtype=np.float32)
        path = np.empty((len(times), 2))
        k = 0
        for i, t in enumerate(times):
            while k + 1 < len(targets) and targets[k + 1][0] <= t:
                k += 1
            goal = np.array(targets[k][1:])
            since = t - targets[k][0]
            if since < 0.03:  # saccade: cosine velocity profile toward the goal
                frac = 0.5 - 0.5 * np.cos(np.pi * since / 0.03)
                path[i] = self.pos + frac * (goal - self.pos)
            else:
                self.pos = goal
                path[i] = goal
        path += self.rng.normal(0, 0.002, path.shape)
        out[:, 0:2] = path
        out[:, 3:5] = path + np.array([0.004, 0.0])
        out[:, 2] = 3.5 + self.rng.normal(0, 0.02, len(times))
        out[:, 5] = out[:, 2] + 0.05
        out[:, 6:8] = 1.0
        return out


def synthesise(path: str | Path, *, faces: int = 36, participant: SimulatedParticipant | None = None,
               scr_amplitude: dict[str, float] | None = None, scr_latency: float = 1.8,
               gaze_region: str = "eyes", iti: float = 0.5, gaze_rate: float = 300.0,
               gsr_rate: float = 128.0, frame_rate: float = 30.0, spontaneous_per_min: float = 0.0,
               display: Display = Display(), seed: int = 11, start: float = 1000.0,  # noqa: B008 (frozen dataclass)
               task: str = "rating", block: str = "rating-1", gaze_layout: str = "attune") -> Truth:
    """Write a rating session of ``faces`` faces (9 morph levels cycled, shuffled) to ``path``."""
    participant = participant or SimulatedParticipant(post_bias=None, seed=seed)
    amplitudes = scr_amplitude or {"sad": 0.6, "neutral": 0.25, "happy": 0.4}
    rng = np.random.default_rng(seed)
    levels = morph_levels(9)
    order = [levels[i % 9] for i in range(faces)]
    rng.shuffle(order)
    truth = Truth(scr_latency=scr_latency, gaze_region=gaze_region)
    writer = XDFWriter(path)
    _headers(writer, gaze_rate, gsr_rate, frame_rate, gaze_layout)
    gsr = GSRSource(gsr_rate, seed=seed, spontaneous_per_min=spontaneous_per_min)
    gaze = _Gaze(gaze_rate, rng)
    rect = display.face_rect()
    cursor = {GAZE: 0, GSR: 0, FRAMES: 0, EXPRESSION: 0}
    rates = {GAZE: gaze_rate, GSR: gsr_rate, FRAMES: frame_rate, EXPRESSION: frame_rate}
    seq = 0
    valence = 0.0

    def marker(t: float, event: str, **fields) -> tuple[float, str]:
        nonlocal seq
        seq += 1
        return t, json.dumps({"event": event, "seq": seq, **fields}, separators=(",", ":"))

    def stamps(sid: int, until: float) -> np.ndarray:
        n = int(np.floor((until - start) * rates[sid])) - cursor[sid]
        idx = cursor[sid] + np.arange(max(0, n))
        cursor[sid] += max(0, n)
        return start + idx / rates[sid], idx

    def write(sid: int, times: np.ndarray, values) -> None:
        for lo in range(0, len(times), max(1, int(CHUNK * rates[sid]))):
            hi = lo + max(1, int(CHUNK * rates[sid]))
            writer.write_samples(sid, times[lo:hi], values[lo:hi])

    pending = [marker(start, "protocol_start", protocol="Synthetic face rating", task=task, source="builtin",
                      seed=seed, speed=1.0, blocks=1, trials=faces),
               marker(start + 0.5, "block_start", block=block, block_index=0, trials=faces)]
    t = start + 1.0
    for i, morph in enumerate(order):
        emotion = emotion_of(morph)
        fix_on, face_on = t, t + 0.5
        scale_on = face_on + 1.0
        answer = participant.rate(morph)
        ids = "ABCD"[i % 4]
        ev = dict(block=block, trial=i)
        pending += [marker(fix_on, "trial_start", number=i + 1, identity=ids, morph=morph, **ev),
                    marker(fix_on, "fixation_onset", duration=0.5, **ev),
                    marker(face_on, "face_onset", identity=ids, morph=morph, emotion=emotion,
                           file=f"builtin/{ids}_{morph:+.2f}.png", **ev),
                    marker(scale_on, "face_offset", duration=1.0, **ev),
                    marker(scale_on, "rating_onset", **ev)]
        if answer is None:
            end = scale_on + 6.0
            pending.append(marker(end, "timeout", after=6.0, **ev))
        else:
            end = scale_on + answer.rt
            pending.append(marker(end, "response", value=answer.rating, rt=round(answer.rt, 6), **ev))
        pending.append(marker(end, "rating_offset", **ev))
        trial_end = end + iti
        truth.morph.append(morph)
        truth.emotion.append(emotion)
        truth.rating.append(None if answer is None else answer.rating)
        truth.rt.append(None if answer is None else answer.rt)
        truth.scr_amplitude.append(amplitudes[emotion])

        # GSR: the response is scheduled relative to the next sample to be generated
        g_times, _ = stamps(GSR, trial_end)
        if len(g_times):
            gsr.respond(face_on + scr_latency - g_times[0], amplitudes[emotion])
            write(GSR, g_times, gsr.generate(len(g_times)))
        # Gaze: cross, then the region (alternating eyes), then the rating scale
        centre = region_centre(gaze_region, rect)
        spread = (rect[2] - rect[0]) * 0.11 if gaze_region == "eyes" else 0.0
        targets = [(fix_on, 0.5, 0.5)]
        for j, when in enumerate(np.arange(face_on + 0.05, scale_on, 0.33)):
            targets.append((when, centre[0] + (spread if j % 2 else -spread), centre[1]))
        rating_x = 0.2 + 0.6 * (answer.rating if answer else 50.0) / 100.0
        targets.append((scale_on + 0.05, rating_x, 0.5))
        e_times, _ = stamps(GAZE, trial_end)
        if len(e_times):
            write(GAZE, e_times, vendor_gaze(gaze_layout, gaze.samples(e_times, targets)))
        # Webcam: frame numbers and an expression that mirrors the face
        f_times, f_idx = stamps(FRAMES, trial_end)
        write(FRAMES, f_times, f_idx.astype(np.int32).reshape(-1, 1))
        x_times, _ = stamps(EXPRESSION, trial_end)
        expr = np.empty((len(x_times), len(EXPRESSION_CHANNELS)), dtype=np.float32)
        for k, xt in enumerate(x_times):
            target = 0.6 * morph if face_on <= xt < scale_on + 1.0 else 0.0
            valence += 0.1 * (target - valence) + rng.normal(0, 0.01)
            expr[k] = scored_face(min(1.0, max(0.0, valence)), valence)
        write(EXPRESSION, x_times, expr)
        # markers up to this trial's end, in time order
        pending.sort(key=lambda m: m[0])
        if pending:
            writer.write_samples(MARKERS, [m[0] for m in pending], [[m[1]] for m in pending])
        pending = []
        writer.flush()
        t = trial_end
    done = [marker(t, "block_end", block=block, block_index=0, trials=faces),
            marker(t + 0.5, "protocol_end", trials=faces, aborted=False)]
    writer.write_samples(MARKERS, [m[0] for m in done], [[m[1]] for m in done])
    for sid in (GAZE, GSR, FRAMES, EXPRESSION):
        writer.write_clock_offset(sid, start, 0.0)
    writer.write_clock_offset(MARKERS, start, 0.0)
    writer.close()
    truth.duration = t + 0.5 - start
    return truth
