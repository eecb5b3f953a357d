"""Runs a protocol in the stimulus window: the trial sequences and their markers.

``run_protocol(protocol, sink, participant=..., speed=...)`` is the one
entry point (command line, demo, tests). Every event sends a marker through
``sink``; visual events carry the flip time of the frame that showed them,
responses the time the input arrived, all on the LSL clock. The markers are
also kept, so the events TSV is written from exactly what was sent.

Marker names and their fields (besides ``block`` and ``trial`` on trial events):

    protocol_start  protocol, task, source, seed, speed, blocks, trials
    instructions_onset / instructions_offset, break_onset / break_offset
    block_start     block_index, trials          block_end  (summary numbers)
    trial_start     number, identity, morph (training: category, level, intensity)
    fixation_onset  duration                     face_onset identity, morph, emotion, file
    face_offset     duration                     rating_onset / choice_onset
    response        value (0-100) or choice, rt (s), correct (training)
    timeout         after (s)                    rating_offset / choice_offset
    feedback_onset  correct, emotion, choice     feedback_offset
    summary_onset / summary_offset (training)    protocol_end  trials, aborted
    baseline_onset / baseline_offset (training with feedback); feedback_* (stimulus/feedback.py)
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import mean
from typing import Any

from stimulus import scenes
from stimulus.engine import Aborted, Engine, Respond, Response, Script, Show, Until, Wait
from stimulus.feedback import CheckResult, FeedbackController, Notice
from stimulus.markers import ListSink, MarkerOutput, SentMarker, TeeSink
from stimulus.participant import Answer, SimulatedParticipant
from stimulus.protocol import DEFAULT_WINDOW_SIZE, Protocol, load_protocol
from stimulus.stimuli import Face, StimulusSet
from stimulus.training import BlockSummary, Staircase, check_staircase, feedback_text, summarise
from stimulus.trials import BlockPlan, Trial, plan
from stimulus.window import StimulusWindow

#: ``on_progress(block name, trial number, trials total)``: called as each trial starts;
#: the number counts from 1 across the whole run, so ``n of total`` fills one progress bar.
ProgressHook = Callable[[str, int, int], None]


@dataclass
class TrialResult:
    """One trial as it happened; times on the LSL clock, durations in seconds."""

    block: str
    block_index: int
    trial: int
    number: int
    identity: str
    morph: float
    emotion: str
    file: str
    fixation_onset: float
    face_onset: float
    face_duration: float
    response_onset: float
    rating: float | None = None
    choice: str | None = None
    response_time: float | None = None
    correct: bool | None = None
    timed_out: bool = False
    intensity: float | None = None


@dataclass
class RunResult:
    protocol: Protocol
    seed: int
    speed: float
    trials: list[TrialResult] = field(default_factory=list)
    summaries: list[BlockSummary] = field(default_factory=list)
    markers: list[SentMarker] = field(default_factory=list)
    aborted: bool = False
    sink_errors: list[str] = field(default_factory=list)
    feedback_check: CheckResult | None = None
    feedback_latency: dict[str, list[float]] = field(default_factory=dict)  # cue, bar: sample to swap (s)

    def mean_rating_by_morph(self) -> dict[float, float]:
        """Mean rating (0-100) per morph level, over answered trials; sorted sad to happy."""
        by: dict[float, list[float]] = defaultdict(list)
        for t in self.trials:
            if t.rating is not None:
                by[t.morph].append(t.rating)
        return {m: round(mean(v), 2) for m, v in sorted(by.items())}

    def accuracy(self) -> float | None:
        scored = [t.correct for t in self.trials if t.correct is not None]
        return sum(scored) / len(scored) if scored else None


def run_protocol(protocol: Protocol | str, sink: MarkerOutput | None = None, *,
                 participant: SimulatedParticipant | None = None,
                 window: StimulusWindow | None = None, speed: float = 1.0, seed: int | None = None,
                 screen: int | None = None, windowed: bool = True,
                 size: tuple[int, int] = DEFAULT_WINDOW_SIZE,
                 on_progress: ProgressHook | None = None, on_feedback: Notice | None = None) -> RunResult:
    """Run a whole protocol and return per-trial results (and every marker sent).

    ``sink`` receives the markers (e.g. ``sync.client.MarkerClient``); ``participant``
    answers instead of a person; ``speed`` divides every duration (demos, tests);
    ``window`` reuses an open window, otherwise one is opened (``screen``/``windowed``)
    and closed at the end. Escape in the window ends the run early (``aborted``).
    ``on_progress`` is told (block, trial number, total) as each trial starts, on
    the Qt thread; an error in it is noted in ``sink_errors`` and the run goes on.
    A training protocol with ``feedback.enabled`` reads the gaze, expression and GSR
    streams itself; ``on_feedback(feed, state, reason)`` tells the experimenter when
    one is missing at the start, pauses or resumes.
    """
    if isinstance(protocol, str):
        protocol = load_protocol(protocol)
    if not speed > 0:
        raise ValueError(f"speed must be above 0, got {speed}")
    stimset = StimulusSet.for_spec(protocol.stimuli)
    plans = plan(protocol, stimset, seed)
    if protocol.task == "training":
        check_staircase(protocol, stimset.intensities())
    own_window = window is None
    if window is None:
        window = StimulusWindow(protocol.display)
        window.open(screen=screen, windowed=windowed, size=size)
    window.display = protocol.display
    window.key_step = protocol.rating.key_step
    kept = ListSink()
    tee = TeeSink(*(s for s in (sink, kept) if s is not None))
    run = _Run(protocol, stimset, plans, window, tee, participant, speed,
               protocol.seed if seed is None else seed, on_progress)
    if protocol.task == "training" and protocol.feedback.enabled:
        run.feedback = FeedbackController(protocol.feedback, window, run.mark, speed, on_feedback)
    try:
        Engine(window).run(run.script())
    finally:
        if run.feedback is not None:
            run.feedback.stop()
            run.result.feedback_latency = run.feedback.latency
        if own_window:
            window.close()
    result = run.result
    result.markers = kept.markers
    result.sink_errors = tee.errors + run.hook_errors
    return result


class _Run:
    """The task scripts for one run; yields engine steps, records markers and results."""

    def __init__(self, protocol: Protocol, stimset: StimulusSet, plans: list[BlockPlan],
                 window: StimulusWindow, sink: MarkerOutput, participant: SimulatedParticipant | None,
                 speed: float, seed: int, on_progress: ProgressHook | None = None) -> None:
        self.p = protocol
        self.on_progress = on_progress
        self.total = sum(len(bp.trials) for bp in plans)
        self.stimset = stimset
        self.plans = plans
        self.window = window
        self.sink = sink
        self.participant = participant
        self.speed = speed
        self.result = RunResult(protocol, seed, speed)
        self.hook_errors: list[str] = []
        self.feedback: FeedbackController | None = None
        h = max(1, window.height())
        self.face_px = max(32, round(protocol.display.face_height * h))
        self.feedback_px = max(32, round(0.42 * h))
        self.staircase = Staircase(stimset.intensities() or [1.0], protocol.training.staircase.start,
                                   protocol.training.staircase.down, protocol.training.staircase.up)
        self._prepare_images()

    def _prepare_images(self) -> None:
        """Draw or scale every face before the first trial, so no trial waits for one."""
        if self.p.task == "rating":
            for bp in self.plans:
                for t in bp.trials:
                    self.stimset.image(t.face, self.face_px)
        else:
            for face in self.stimset.items:
                self.stimset.image(face, self.face_px)
                self.stimset.image(face, self.feedback_px)

    def d(self, seconds: float) -> float:
        """Protocol seconds to wall seconds at this run's speed."""
        return seconds / self.speed

    def mark(self, event: str, timestamp: float | None = None, **fields: Any) -> None:
        self.sink.send(event, timestamp=timestamp, **fields)

    def progress(self, trial: Trial) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(trial.block, trial.number, self.total)
        except Exception as exc:  # a display glitch must not end the session
            self.hook_errors.append(f"on_progress: {type(exc).__name__}: {exc}")

    def _sim(self, answer: Answer | None) -> Answer | None:
        if answer is None:
            return None
        return Answer(self.d(answer.rt), answer.rating, answer.choice)

    # -- the protocol -------------------------------------------------------------
    def script(self) -> Script:
        p = self.p
        self.mark("protocol_start", protocol=p.name, task=p.task, source=p.source,
                  seed=self.result.seed, speed=self.speed, blocks=len(self.plans), trials=self.total)
        try:
            if self.feedback is not None:
                yield from self.start_feedback()
            if p.instructions:
                yield from self.pause("instructions", scenes.TextScreen(p.name, p.instructions),
                                      p.timing.instructions)
            for i, bp in enumerate(self.plans):
                yield from self.block(bp)
                if p.breaks.between_blocks and i < len(self.plans) - 1:
                    yield from self.pause("break", scenes.TextScreen("Break", p.breaks.text),
                                          p.breaks.duration, block=bp.block.name)
            end = yield Show(scenes.TextScreen("Thank you", "This part is finished.", footer=""))
            self.mark("protocol_end", timestamp=end, trials=len(self.result.trials), aborted=False)
        except Aborted:
            self.result.aborted = True
            self.mark("protocol_end", trials=len(self.result.trials), aborted=True)

    def start_feedback(self) -> Script:
        """The start-of-session check, then a neutral baseline for her smile and skin conductance."""
        fb = self.feedback
        self.result.feedback_check = fb.check()
        if not any(fb.active(k) for k in ("gaze", "expression", "gsr")):
            fb.stop()  # nothing to give feedback from: the training runs as it would without
            self.feedback = None
            return
        fb.start()
        if self.p.feedback.baseline > 0 and (fb.active("expression") or fb.active("gsr")):
            fb.baseline_begin()
            on = yield Show(scenes.TextScreen("Relax", self.p.feedback.baseline_text, footer=""))
            self.mark("baseline_onset", timestamp=on)
            yield Wait(on + self.d(self.p.feedback.baseline))
            off = yield Show(scenes.Blank())
            self.mark("baseline_offset", timestamp=off)
            fb.baseline_end(off)

    def pause(self, name: str, screen: scenes.TextScreen, seconds: float, **fields: Any) -> Script:
        """A text screen that ends with a key press or after ``seconds``."""
        on = yield Show(screen)
        self.mark(f"{name}_onset", timestamp=on, **fields)
        answer = self._sim(Answer(self.participant.read_time)) if self.participant else None
        resp: Response = yield Respond("proceed", on + self.d(seconds), answer, since=on)
        off = yield Show(scenes.Blank())
        self.mark(f"{name}_offset", timestamp=off, ended_by="time" if resp.timed_out else "key", **fields)

    def block(self, bp: BlockPlan) -> Script:
        b = bp.block
        self.mark("block_start", block=b.name, block_index=bp.index, trials=len(bp.trials))
        if self.feedback is not None:
            self.feedback.block_begin()
        if b.instructions:
            yield from self.pause("instructions", scenes.TextScreen(b.name, b.instructions),
                                  self.p.timing.instructions, block=b.name)
        first = len(self.result.trials)
        for trial in bp.trials:
            if self.p.task == "rating":
                yield from self.rating_trial(trial)
            else:
                yield from self.training_trial(trial)
        done = self.result.trials[first:]
        answered = [t for t in done if not t.timed_out]
        if self.p.task == "training":
            summary = summarise(b.name, [(t.emotion, bool(t.correct), t.response_time) for t in done],
                                self.staircase.intensity)
            self.result.summaries.append(summary)
            text = summary.text()
            if self.feedback is not None:
                extra = self.feedback.block_end(b.name).text()
                text = f"{text}\n\n{extra}" if extra else text
            yield from self.pause("summary", scenes.TextScreen(f"End of {b.name}", text),
                                  self.p.training.summary_duration, block=b.name)
            self.mark("block_end", block=b.name, block_index=bp.index, trials=len(done),
                      answered=len(answered), correct=summary.correct,
                      accuracy=round(summary.accuracy, 4), final_intensity=summary.final_intensity)
        else:
            ratings = [t.rating for t in answered if t.rating is not None]
            self.mark("block_end", block=b.name, block_index=bp.index, trials=len(done),
                      answered=len(answered), mean_rating=round(mean(ratings), 2) if ratings else None)

    def present_face(self, trial: Trial, face: Face, **extra: Any) -> Script:
        """Fixation then face; returns (fixation onset, face onset)."""
        fix_on = yield Show(scenes.Fixation())
        self.mark("fixation_onset", timestamp=fix_on, block=trial.block, trial=trial.index,
                  duration=trial.fixation)
        image = self.stimset.image(face, self.face_px)
        face_on = yield Show(scenes.FaceScreen(image), at=fix_on + self.d(trial.fixation))
        self.mark("face_onset", timestamp=face_on, block=trial.block, trial=trial.index,
                  identity=face.identity, morph=face.morph, emotion=face.emotion, file=face.file,
                  face_rect=self.face_rect(image), **extra)
        return fix_on, face_on

    def face_rect(self, image: Any) -> list[float]:
        """Where the face is on screen (x0, y0, x1, y1; 0..1, origin top-left), for gaze analysis."""
        w, h = max(1, self.window.width()), max(1, self.window.height())
        x0, y0 = (w - image.width()) / 2 / w, (h - image.height()) / 2 / h
        return [round(x0, 4), round(y0, 4), round(1 - x0, 4), round(1 - y0, 4)]

    def rating_trial(self, trial: Trial) -> Script:
        face, timing = trial.face, self.p.timing
        self.progress(trial)
        self.mark("trial_start", block=trial.block, trial=trial.index, number=trial.number,
                  identity=face.identity, morph=face.morph)
        fix_on, face_on = yield from self.present_face(trial, face)
        rs = self.p.rating
        scale_on = yield Show(scenes.RatingScreen(rs.prompt, rs.low_label, rs.high_label),
                              at=face_on + self.d(timing.face))
        self.mark("face_offset", timestamp=scale_on, block=trial.block, trial=trial.index,
                  duration=round(scale_on - face_on, 6))
        self.mark("rating_onset", timestamp=scale_on, block=trial.block, trial=trial.index)
        answer = self._sim(self.participant.rate(face.morph)) if self.participant else None
        resp: Response = yield Respond("rating", scale_on + self.d(timing.response_timeout), answer,
                                       since=scale_on)
        rt = None if resp.timed_out else round(resp.time - scale_on, 6)
        if resp.timed_out:
            self.mark("timeout", timestamp=resp.time, block=trial.block, trial=trial.index,
                      after=round(resp.time - scale_on, 6))
        else:
            self.mark("response", timestamp=resp.time, block=trial.block, trial=trial.index,
                      value=resp.value, rt=rt)
        off = yield Show(scenes.Blank())
        self.mark("rating_offset", timestamp=off, block=trial.block, trial=trial.index)
        self.result.trials.append(TrialResult(
            trial.block, trial.block_index, trial.index, trial.number, face.identity, face.morph,
            face.emotion, face.file, fix_on, face_on, round(scale_on - face_on, 6), scale_on,
            rating=resp.value, response_time=rt, timed_out=resp.timed_out))
        yield Wait(off + self.d(timing.iti))

    def training_trial(self, trial: Trial) -> Script:
        timing, stair = self.p.timing, self.staircase
        sign = {"sad": -1.0, "happy": 1.0}.get(trial.category, 0.0)
        face = self.stimset.find(sign * stair.intensity, trial.identity)
        level, intensity = stair.level, abs(face.morph)
        self.progress(trial)
        self.mark("trial_start", block=trial.block, trial=trial.index, number=trial.number,
                  identity=face.identity, morph=face.morph, category=trial.category, level=level,
                  intensity=intensity)
        fix_on, face_on = yield from self.present_face(trial, face, level=level)
        fb, attention = self.feedback, self.p.feedback.attention
        if fb is not None:
            fb.face_on(trial.block, trial.index, face.emotion,
                       self.face_rect(self.stimset.image(face, self.face_px)), face_on)
            if attention.enabled and attention.gaze_contingent and not fb.dwell_done():
                yield Until(face_on + self.d(max(attention.max_face, timing.face)), fb.released)
        choices_on = yield Show(scenes.ChoiceScreen(self.p.training.prompt),
                                at=face_on + self.d(timing.face))
        self.mark("face_offset", timestamp=choices_on, block=trial.block, trial=trial.index,
                  duration=round(choices_on - face_on, 6))
        if fb is not None:
            fb.face_off(choices_on)
        self.mark("choice_onset", timestamp=choices_on, block=trial.block, trial=trial.index)
        answer = self._sim(self.participant.classify(face.morph)) if self.participant else None
        resp: Response = yield Respond("choice", choices_on + self.d(timing.response_timeout), answer,
                                       since=choices_on)
        correct, title, detail = feedback_text(face.emotion, resp.value)
        rt = None if resp.timed_out else round(resp.time - choices_on, 6)
        if resp.timed_out:
            self.mark("timeout", timestamp=resp.time, block=trial.block, trial=trial.index,
                      after=round(resp.time - choices_on, 6), correct=False)
        else:
            self.mark("response", timestamp=resp.time, block=trial.block, trial=trial.index,
                      choice=resp.value, rt=rt, correct=correct)
        image = self.stimset.image(face, self.feedback_px)
        fb_on = yield Show(scenes.FeedbackScreen(correct, title, detail, image))
        self.mark("choice_offset", timestamp=fb_on, block=trial.block, trial=trial.index)
        self.mark("feedback_onset", timestamp=fb_on, block=trial.block, trial=trial.index,
                  correct=correct, emotion=face.emotion, choice=resp.value, identity=face.identity,
                  morph=face.morph, file=face.file)
        if trial.category != "neutral":
            stair.update(correct)
        if self.participant is not None:
            self.participant.learn(correct)
        off = yield Show(scenes.Blank(), at=fb_on + self.d(timing.feedback))
        self.mark("feedback_offset", timestamp=off, block=trial.block, trial=trial.index)
        self.result.trials.append(TrialResult(
            trial.block, trial.block_index, trial.index, trial.number, face.identity, face.morph,
            face.emotion, face.file, fix_on, face_on, round(choices_on - face_on, 6), choices_on,
            choice=resp.value, response_time=rt, correct=correct, timed_out=resp.timed_out,
            intensity=intensity))
        yield Wait(off + self.d(timing.iti))
