"""``main.py export-bids RECORDINGS --out DATASET``: XDF recordings as a BIDS 1.10 dataset.

Per recording (sub-X[_ses-Y]_task-Z[_run-N] from its file name), in the
``beh`` datatype (a task without brain imaging):

- ``_recording-gsr_physio.tsv.gz`` + ``.json``: skin conductance;
- ``_recording-eye1_physio.tsv.gz`` / ``eye2``: left and right eye (BIDS 1.10
  eye tracking: PhysioType eyetrack, RecordedEye, gaze on screen in pixels,
  timestamp column on the recording's LSL clock);
- ``_events.tsv`` + ``.json`` from the recorded markers
  (``stimulus.events_tsv``, the same rows as the live file) with ``onset`` in
  seconds from the run's first physiological sample: the earliest first
  sample of its physio files (each file's ``StartTime`` says where it starts
  relative to that), and ``stim_file`` naming the face image under ``stimuli/``;
- the original XDF under ``sourcedata/``.

Plus dataset_description.json, participants.tsv/json (from the recordings'
participants.tsv when there is one), README and CHANGES. Signals are taken as
pyxdf gives them (clock offsets applied, regular streams dejittered).

Why not mne-bids: it writes MNE Raw data (EEG, MEG, iEEG, NIRS); physiological
recordings of a behavioural task and BIDS eye tracking are outside it. Should
EEG be recorded, ``mne_bids.write_raw_bids`` is the way for that part.

Safety: nothing is written outside ``--out``; the dataset is built in a
temporary folder beside it and renamed into place at the end, so a failed
export never looks finished; an existing folder is refused unless
``--overwrite`` is given and it is a BIDS dataset (has dataset_description.json)
that holds none of the recordings.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import gzip
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.recording import AnalysisError, Recording, Signal, labels_from_name, load
from devices.gaze_layouts import CANONICAL_LABELS
from stimulus import events_tsv
from stimulus.markers import SentMarker
from stimulus.protocol import DEFAULT_WINDOW_SIZE

BIDS_VERSION = "1.10.0"
EVENTS_ORIGIN = ("the first sample of this run's physiological recordings (the earliest of its *_physio.tsv.gz "
                 "files; each file's StartTime says where that file starts relative to it)")
# BIDS recording label, RecordedEye, and that eye's x, y, pupil, validity columns in the canonical gaze layout
GAZE_EYES = tuple((label, eye, *(CANONICAL_LABELS.index(f"{eye}_{c}") for c in ("x", "y", "pupil", "valid")))
                  for label, eye in (("eye1", "left"), ("eye2", "right")))


class ExportError(RuntimeError):
    """The dataset cannot be written; the message says why and where."""


@dataclass
class Exported:
    dataset: Path
    runs: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def register(subparsers: argparse._SubParsersAction) -> None:
    ex = subparsers.add_parser("export-bids", help="export XDF recordings as a BIDS dataset (physio, eye tracking, "
                                                   "events)")
    ex.add_argument("inputs", nargs="+", type=Path, metavar="FILE.xdf|DIR")
    ex.add_argument("--out", type=Path, required=True, help="the dataset folder to create")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing BIDS dataset at --out")
    ex.add_argument("--participants", type=Path, metavar="TSV",
                    help="participants.tsv to carry over (default: one found in the input folder)")
    ex.add_argument("--name", default="Attune recordings", help="dataset name (dataset_description.json)")
    ex.add_argument("--author", action="append", default=[], metavar="NAME",
                    help="an author of the dataset (repeat for each; without: the validator warns NO_AUTHORS)")
    ex.add_argument("--screen", default="{}x{}".format(*DEFAULT_WINDOW_SIZE), metavar="WxH",
                    help="stimulus screen in pixels (gaze units; default %(default)s)")
    ex.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from analysis.cli import find_files
    from analysis.cohort import find_participants

    try:
        w, h = (int(v) for v in args.screen.lower().split("x"))
    except ValueError:
        print(f"error: --screen: expected WxH such as 1280x800, got {args.screen!r}", file=sys.stderr)
        return 2
    files, problems = find_files(args.inputs)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not files:
        print("error: no recordings to export", file=sys.stderr)
        return 2
    try:
        done = export(files, args.out, inputs=args.inputs, participants=args.participants or find_participants(args.inputs),
                      overwrite=args.overwrite, name=args.name, authors=args.author, screen=(w, h))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in done.skipped:
        print(f"warning: not exported: {note}", file=sys.stderr)
    print(f"BIDS dataset: {done.dataset} ({len(done.runs)} runs)")
    return 1 if done.skipped or problems else 0


# -- safety -----------------------------------------------------------------------------------------
def _check_target(out: Path, files: list[Path], inputs: list[Path], overwrite: bool) -> None:
    out = out.resolve()
    for f in files:
        if out == f.resolve().parent or out in f.resolve().parents:
            raise ExportError(f"--out {out} holds the recording {f}: choose a folder outside the recordings")
    for folder in (i.resolve() for i in inputs if i.is_dir()):
        if out == folder or folder in out.parents:  # its sourcedata copies would be found as recordings next time
            raise ExportError(f"--out {out} is inside the recordings folder {folder}: choose a folder outside it")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise ExportError(f"{out} exists and is not empty: choose a new folder (or --overwrite to replace "
                              "an earlier export)")
        if not (out / "dataset_description.json").is_file():
            raise ExportError(f"{out} is not a BIDS dataset (no dataset_description.json): not replacing it")


# -- writers ----------------------------------------------------------------------------------------
def _json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _physio(path: Path, columns: np.ndarray, formats: tuple[str, ...] | None = None) -> None:
    """BIDS physio: gzipped TSV, no header (the columns are named in the JSON), n/a for missing."""
    formats = formats or ("%.6g",) * columns.shape[1]
    cells = []
    for fmt, col in zip(formats, columns.T):
        text = np.char.mod(fmt, np.nan_to_num(col, nan=0.0, posinf=0.0, neginf=0.0)).astype(object)
        text[~np.isfinite(col)] = "n/a"
        cells.append(text)
    lines = ["\t".join(row) for row in zip(*cells)]
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write("\n".join(lines) + ("\n" if lines else ""))


def _stream_name(sig: Signal) -> str:
    return sig.name or "unknown"


def _write_gsr(base: Path, sig: Signal, origin: float) -> str:
    _physio(base.with_name(base.name + "_recording-gsr_physio.tsv.gz"), sig.values[:, :1].astype(float))
    rate = _rate(sig)
    _json(base.with_name(base.name + "_recording-gsr_physio.json"), {
        "SamplingFrequency": rate, "StartTime": round(float(sig.times[0]) - origin, 6),
        "Columns": ["skin_conductance"],
        "skin_conductance": {"Description": "Skin conductance (electrodermal activity)", "Units": "uS"},
        "Manufacturer": "n/a", "RecordingStream": _stream_name(sig),
    })
    return "gsr"


def _write_gaze(base: Path, sig: Signal, origin: float, screen: tuple[int, int]) -> list[str]:
    if sig.values.shape[1] < 8:
        return []
    rate = _rate(sig)
    done = []
    for label, eye, cx, cy, cp, cv in GAZE_EYES:
        valid = sig.values[:, cv] > 0.5
        x = np.where(valid, sig.values[:, cx] * screen[0], np.nan)
        y = np.where(valid, sig.values[:, cy] * screen[1], np.nan)
        pupil = np.where(valid, sig.values[:, cp], np.nan)
        _physio(base.with_name(base.name + f"_recording-{label}_physio.tsv.gz"),
                np.column_stack([sig.times, x, y, pupil]), ("%.6f", "%.2f", "%.2f", "%.4g"))
        _json(base.with_name(base.name + f"_recording-{label}_physio.json"), {
            "SamplingFrequency": rate, "StartTime": round(float(sig.times[0]) - origin, 6),
            "Columns": ["timestamp", "x_coordinate", "y_coordinate", "pupil_size"],
            "PhysioType": "eyetrack", "RecordedEye": eye,
            "SampleCoordinateSystem": "gaze-on-screen", "SampleCoordinateUnits": "pixel",
            "EnvironmentCoordinates": "top-left", "ScreenResolution": list(screen),
            "Manufacturer": "n/a", "RecordingStream": _stream_name(sig),
            "timestamp": {"Description": "Sample time on the recording's LSL clock (the events' lsl_time clock)",
                          "Units": "s"},
            "x_coordinate": {"Description": "Gaze position on the screen, from the left edge", "Units": "pixel"},
            "y_coordinate": {"Description": "Gaze position on the screen, from the top edge", "Units": "pixel"},
            "pupil_size": {"Description": "Pupil diameter", "Units": "mm"},
        })
        done.append(label)
    return done


def _rate(sig: Signal) -> float:
    if len(sig.times) < 2 or sig.times[-1] <= sig.times[0]:
        return 1.0
    return round((len(sig.times) - 1) / float(sig.times[-1] - sig.times[0]), 3)


def _events(base: Path, rec: Recording, origin: float, stim_root: Path) -> set[str]:
    """The events TSV/JSON from the recorded markers; returns the stimulus files it names."""
    markers = [SentMarker(m["event"], t, i + 1, {k: v for k, v in m.items() if k not in ("event", "seq")})
               for i, (t, m) in enumerate(rec.markers)]
    tsv = events_tsv.write_events_tsv(base.with_name(base.name + "_events.tsv"), markers, origin=origin,
                                      origin_text=EVENTS_ORIGIN)
    rows = events_tsv.read_events_tsv(tsv)
    files = {r["stimulus"] for r in rows if r["stimulus"] not in ("", "n/a")}
    with tsv.open("w", newline="", encoding="utf-8") as fh:  # + stim_file, BIDS's name for it
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow([*events_tsv.COLUMNS, "stim_file"])
        for r in rows:
            stim = r["stimulus"]
            writer.writerow([r[c] for c in events_tsv.COLUMNS] + [stim if _drawn(stim) else "n/a"])
    side = tsv.with_suffix(".json")
    data = json.loads(side.read_text(encoding="utf-8"))
    data["stim_file"] = {"Description": "The face image shown, relative to the dataset's stimuli/ folder."}
    _json(side, data)
    return files


def _drawn(name: str) -> bool:
    """A built-in face, which the export can draw into stimuli/ (a lab's own images stay with the lab)."""
    return name.startswith("builtin/") and ".." not in Path(name).parts


def _stimuli(files: set[str], stim_root: Path) -> list[str]:
    """Built-in (drawn) faces rendered into stimuli/; returns files that could not be provided."""
    from stimulus.faces import render_face
    from stimulus.window import ensure_app

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # drawing only: no screen needed
    missing = []
    for name in sorted(files):
        target = stim_root / name
        if not _drawn(name):
            missing.append(name)
            continue
        ident, _, morph = Path(name).stem.partition("_m")
        try:
            morph_value = float(morph)
        except ValueError:
            missing.append(name)
            continue
        ensure_app()
        target.parent.mkdir(parents=True, exist_ok=True)
        if not render_face(ident, morph_value, 512).save(str(target)):
            raise ExportError(f"could not write {target}")
    return missing


def _participants(root: Path, people: list[str], source: Path | None) -> None:
    rows: dict[str, dict[str, str]] = {}
    columns = ["participant_id"]
    if source is not None:
        with source.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            columns += [c for c in (reader.fieldnames or []) if c != "participant_id"]
            for row in reader:
                rows[row.get("participant_id", "").removeprefix("sub-")] = row
    with (root / "participants.tsv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        for p in people:
            row = rows.get(p, {})
            writer.writerow([f"sub-{p}"] + [row.get(c) or "n/a" for c in columns[1:]])
    described = {"participant_id": {"Description": "Participant label"}}
    for c in columns[1:]:
        described[c] = {"Description": "Study group (e.g. high / low risk)" if c == "group" else f"{c} "
                        f"(from {source.name if source else 'the recordings'})"}
    _json(root / "participants.json", described)


def _top_files(root: Path, name: str, authors: list[str], runs: list[str]) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("attune")
    except PackageNotFoundError:
        ours = "unknown"
    _json(root / "dataset_description.json", {
        "Name": name, "BIDSVersion": BIDS_VERSION, "DatasetType": "raw", **({"Authors": authors} if authors else {}),
        "GeneratedBy": [{"Name": "Attune export-bids", "Version": ours}],
    })
    (root / "README").write_text(
        f"{name}\n\nRecorded with Attune (LSL + ZeroMQ markers into XDF) and exported by `attune export-bids`.\n"
        "Each run: skin conductance (recording-gsr) and eye tracking (recording-eye1 left, recording-eye2 right) "
        "as BIDS physio files, and the task events. Event onsets count from the run's first physiological "
        "sample; the events' lsl_time column and the eye files' timestamp column keep the recording clock. "
        "The original XDF files are in sourcedata/.\n", encoding="utf-8")
    today = _dt.date.today().isoformat()
    (root / "CHANGES").write_text(f"1.0.0 {today}\n  - Exported from {len(runs)} XDF recording(s).\n",
                                  encoding="utf-8")


# -- the export -------------------------------------------------------------------------------------
def export(files: list[Path], out: Path, *, inputs: list[Path] = (), participants: Path | None = None,
           overwrite: bool = False,
           name: str = "Attune recordings", authors: list[str] = (), screen: tuple[int, int] = DEFAULT_WINDOW_SIZE,
           progress=lambda text: print(text, file=sys.stderr, flush=True)) -> Exported:
    """Write the dataset; recordings that cannot be exported are listed in ``skipped``."""
    _check_target(out, files, list(inputs), overwrite)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    result = Exported(out)
    try:
        people: set[str] = set()
        stim_files: set[str] = set()
        for i, path in enumerate(files, 1):
            lab = labels_from_name(path)
            if not lab.get("participant") or not lab.get("task"):
                result.skipped.append(f"{path}: the file name has no sub-<label> and task-<label>")
                continue
            progress(f"[{i}/{len(files)}] {path.name}")
            try:
                rec = load(path)
            except AnalysisError as exc:
                result.skipped.append(str(exc))
                continue
            parts = [f"sub-{lab['participant']}"] + ([f"ses-{lab['session']}"] if lab.get("session") else [])
            stem = "_".join(parts + [f"task-{lab['task']}"] + ([f"run-{int(lab['run'])}"]
                                                               if lab.get("run", "").isdigit() else []))
            folder = work.joinpath(*parts, "beh")
            folder.mkdir(parents=True, exist_ok=True)
            base = folder / stem
            physio = [s for s in (rec.gsr, rec.gaze) if s is not None and len(s.times)]
            origin = min(float(s.times[0]) for s in physio) if physio else rec.markers[0][0]
            written = []
            if rec.gsr is not None and len(rec.gsr.times):
                written.append(_write_gsr(base, rec.gsr, origin))
            if rec.gaze is not None and len(rec.gaze.times):
                written += _write_gaze(base, rec.gaze, origin, screen)
            stim_files |= _events(base, rec, origin, work / "stimuli")
            source = work.joinpath("sourcedata", *parts)
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / path.name)
            people.add(lab["participant"])
            result.runs.append(f"{stem} ({', '.join(written) or 'events only'})")
        if not result.runs:
            raise ExportError("no recording could be exported: " + "; ".join(result.skipped))
        for missing in _stimuli(stim_files, work / "stimuli"):
            progress(f"note: stimulus {missing} is not a built-in face: named in the events, not copied")
        _participants(work, sorted(people), participants)
        _top_files(work, name, list(authors), result.runs)
        if out.exists():
            shutil.rmtree(out)  # checked above: an earlier BIDS export, replacing it was asked for
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return result
