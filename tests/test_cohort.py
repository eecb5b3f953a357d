"""The simulated cohort, the group analysis and the BIDS export, end to end through main.py.

A cohort of 8 (4 high-risk, 4 low-risk; analysis.simulated_cohort) is
recorded without real-time waiting, analysed with ``main.py analyze`` and
exported with ``main.py export-bids``. The simulated effects are recovered
from the analysis's per-recording measures (measures.tsv), group means over
the 4 participants, within these tolerances:

- ambiguous faces (|morph| <= 0.25), mean rating: the high group moves
  positive by 5-14 points (simulated: bias -8 -> +2, learned over 24
  training trials: about +9.5; rating noise SD 4-7 over 12 faces); the low
  group by less than 4 points (simulated: no change);
- point of subjective neutrality: high group shifts toward sad faces by
  0.1-0.4 morph units (simulated: about -0.22); low group by less than 0.1;
- SCR to sad faces: high group's post/pre ratio 0.3-0.85 (simulated 0.6;
  overlap with the previous face's response dilutes it less after
  training); low group's 0.75-1.3 (simulated 1);
- own smile during faces: high group +0.02 or more (simulated valence
  +0.15, reached in part during the 1 s face); low group within 0.02.

The BIDS dataset must pass the official validator (npm bids-validator 1.15,
installed by ``make test`` into tools/bids-validator) without errors.
"""
from __future__ import annotations

import csv
import gzip
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from analysis import psychometric, stats
from analysis.recording import load
from analysis.report import Analysed, write_outputs
from analysis.trials import table
from stimulus.participant import SimulatedParticipant
from stimulus.virtual import run_virtual
from tools.synthetic import synthesise

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = ROOT / "tools/bids-validator/node_modules/.bin/bids-validator"
N = 8


def main_py(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cohort") / "recordings"
    run = main_py("demo", "--cohort", str(N), "--root", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"[{N}/{N}] sub-08 ses-post" in run.stdout  # progress per session
    return root


@pytest.fixture(scope="module")
def analysed(cohort, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("analysis")
    run = main_py("analyze", str(cohort), "--out", str(out))
    assert run.returncode == 0, run.stderr
    return out


def group_means(out: Path, measure: str) -> dict[tuple[str, str], float]:
    values = defaultdict(list)
    for r in read_tsv(out / "measures.tsv"):
        if r["phase"] in ("pre", "post") and r[measure] != "":
            values[(r["group"], r["phase"])].append(float(r[measure]))
    assert all(len(v) == N // 2 for v in values.values()), values
    return {k: float(np.mean(v)) for k, v in values.items()}


def test_cohort_files_and_groups(cohort):
    people = read_tsv(cohort / "participants.tsv")
    assert [p["group"] for p in people] == ["high", "low"] * (N // 2)
    assert len(list(cohort.rglob("*.xdf"))) == 3 * N
    rec = load(cohort / "sub-01/ses-pre/physio/sub-01_ses-pre_task-rating_run-1_physio.xdf")
    start = next(m for _, m in rec.markers if m["event"] == "protocol_start")
    assert start["speed"] == 1.0 and rec.gsr is not None and rec.gaze is not None and rec.expression is not None
    rows = table(rec)
    assert len(rows) == 36 and all(r["face_duration_s"] == pytest.approx(1.0, abs=0.02) for r in rows)


def test_interpretation_bias_shift_recovered(analysed):
    rating = group_means(analysed, "ambiguous_rating")
    assert 5 <= rating[("high", "post")] - rating[("high", "pre")] <= 14
    assert abs(rating[("low", "post")] - rating[("low", "pre")]) < 4
    pse = group_means(analysed, "pse")
    assert -0.4 <= pse[("high", "post")] - pse[("high", "pre")] <= -0.1
    assert abs(pse[("low", "post")] - pse[("low", "pre")]) < 0.1


def test_smaller_scr_to_distress_and_more_smiling_recovered(analysed):
    scr = group_means(analysed, "scr_sad_us")
    assert 0.3 <= scr[("high", "post")] / scr[("high", "pre")] <= 0.85
    assert 0.75 <= scr[("low", "post")] / scr[("low", "pre")] <= 1.3
    smile = group_means(analysed, "smile")
    assert smile[("high", "post")] - smile[("high", "pre")] >= 0.02
    assert abs(smile[("low", "post")] - smile[("low", "pre")]) < 0.02


def test_report_states_statistics_provenance_and_figures(analysed):
    md = (analysed / "report.md").read_text(encoding="utf-8")
    html = (analysed / "report.html").read_text(encoding="utf-8")
    assert "paired t-test" in md and "Welch" in md and "Shapiro-Wilk" in md
    assert "| ambiguous faces read as positive | % of faces | high | 4 |" in md
    assert "Warning" not in md  # the cohort ran at speed 1
    figures = sorted(analysed.glob("fig_*.png"))
    assert len(figures) == 7
    for png in figures:
        assert f"]({png.name})" in md
    assert html.count("data:image/png;base64,") == 7
    assert md.count("95 % confidence interval of the group mean") == 7  # every caption says what the bars are
    # sensible rounding: no long decimals in the tables
    cells = [c.strip() for line in md.splitlines() if line.startswith("|") for c in line.split("|")]
    numbers = [c for c in cells if c.replace(".", "", 1).replace("-", "", 1).isdigit()]
    assert numbers and all(len(c.partition(".")[2]) <= 4 for c in numbers)


def test_runs_are_chosen_not_pooled_and_a_file_without_markers_is_listed(cohort, tmp_path):
    folder = tmp_path / "recordings"
    shutil.copytree(cohort / "sub-01", folder / "sub-01")
    shutil.copy(cohort / "participants.tsv", folder)
    first = folder / "sub-01/ses-pre/physio/sub-01_ses-pre_task-rating_run-1_physio.xdf"
    shutil.copy(first, first.with_name(first.name.replace("run-1", "run-2")))
    (folder / "sub-01/empty_physio.xdf").write_bytes(b"XDF:")
    run = main_py("analyze", str(folder), "--out", str(tmp_path / "latest"))
    assert run.returncode == 0, run.stderr
    md = (tmp_path / "latest/report.md").read_text(encoding="utf-8")
    assert "sub-01_ses-pre_task-rating_run-1_physio.xdf: earlier run" in md
    assert "empty_physio.xdf" in md.split("## Not analysed")[1]
    assert "3 recording(s) of 1 participant(s)" in md
    everything = main_py("analyze", str(folder), "--out", str(tmp_path / "all"), "--runs", "all")
    assert everything.returncode == 0, everything.stderr
    rows = read_tsv(tmp_path / "all/measures.tsv")
    assert sorted(r["run"] for r in rows if r["session"] == "pre") == ["1", "2"]
    assert {r["participant"] for r in rows} == {"01"}
    md = (tmp_path / "all/report.md").read_text(encoding="utf-8")
    assert "4 recording(s) of 1 participant(s)" in md


def test_report_warns_that_timing_at_demo_speed_is_not_interpretable(tmp_path):
    path = tmp_path / "sub-01_ses-pre_task-rating_run-1.xdf"
    synthesise(path, faces=9)
    rows = table(load(path))
    report = write_outputs(tmp_path / "out", [Analysed(path, rows, [], 4.0)], [])
    assert "not interpretable" in report.read_text(encoding="utf-8")


def test_virtual_run_keeps_the_protocol_timing(qapp):  # pytest-qt's QApplication, as the GUI tests need
    result = run_virtual("infant_face_rating", None, SimulatedParticipant(seed=1), start=50.0)
    assert len(result.trials) == 36 and result.speed == 1.0
    for t in result.trials:
        assert t.face_duration == pytest.approx(1.0, abs=1 / 60 + 1e-9)
        assert t.response_time is None or t.response_time >= 0.3
    times = [m.timestamp for m in result.markers]
    assert times == sorted(times) and times[0] == 50.0


def test_psychometric_fit_recovers_a_known_curve():
    morphs = np.repeat(np.linspace(-1, 1, 9), 4)
    ratings = psychometric.logistic(morphs, 0.2, 3.0) + np.tile([-2.0, 2.0, -1.0, 1.0], 9)
    fit = psychometric.fit(morphs, ratings)
    assert fit.pse == pytest.approx(0.2, abs=0.02) and fit.slope == pytest.approx(75.0, rel=0.05)
    assert fit.r2 > 0.99 and fit.rmse == pytest.approx(np.sqrt(2.5), rel=0.2)
    assert not psychometric.fit([0.0, 0.0], [50.0, 52.0]).ok


def test_paired_statistics_match_their_definitions():
    pre = np.array([40.0, 45.0, 42.0, 50.0, 38.0])
    post = pre + np.array([8.0, 10.0, 7.0, 12.0, 9.0])
    r = stats.paired(pre, post)
    d = post - pre
    assert r.diff == pytest.approx(d.mean()) and r.dz == pytest.approx(d.mean() / d.std(ddof=1))
    assert r.ci[0] < r.diff < r.ci[1] and r.p < 0.001
    between = stats.change_between(d, np.zeros(5) + np.array([0.5, -0.5, 1.0, -1.0, 0.0]))
    assert between.diff == pytest.approx(d.mean()) and between.p < 0.001 and between.ci[0] > 0


@pytest.fixture(scope="module")
def dataset(cohort, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bids") / "dataset"
    run = main_py("export-bids", str(cohort), "--out", str(out), "--author", "A. Tester", "--author", "B. Tester")
    assert run.returncode == 0, run.stderr
    return out


def test_bids_events_count_from_the_first_physio_sample(dataset, cohort):
    beh = dataset / "sub-02/ses-post/beh"
    base = "sub-02_ses-post_task-rating_run-1"
    rec = load(cohort / f"sub-02/ses-post/physio/{base}_physio.xdf")
    origin = min(rec.gsr.times[0], rec.gaze.times[0])
    events = read_tsv(beh / f"{base}_events.tsv")
    faces = [e for e in events if e["trial_type"] == "face"]
    assert len(faces) == 36
    for e in faces:
        assert float(e["onset"]) == pytest.approx(float(e["lsl_time"]) - origin, abs=1e-5)
        assert (dataset / "stimuli" / e["stim_file"]).is_file()
    gsr = json.loads((beh / f"{base}_recording-gsr_physio.json").read_text())
    assert gsr["StartTime"] == pytest.approx(rec.gsr.times[0] - origin, abs=1e-6)
    with gzip.open(beh / f"{base}_recording-gsr_physio.tsv.gz", "rt") as fh:
        assert sum(1 for _ in fh) == len(rec.gsr.times)
    eye = json.loads((beh / f"{base}_recording-eye1_physio.json").read_text())
    assert eye["PhysioType"] == "eyetrack" and eye["RecordedEye"] == "left"
    assert (dataset / "sourcedata/sub-02/ses-post" / f"{base}_physio.xdf").stat().st_size > 0
    people = read_tsv(dataset / "participants.tsv")
    assert [(p["participant_id"], p["group"]) for p in people][:2] == [("sub-01", "high"), ("sub-02", "low")]


def test_bids_export_refuses_to_overwrite_or_write_into_the_recordings(dataset, cohort):
    again = main_py("export-bids", str(cohort), "--out", str(dataset))
    assert again.returncode == 2 and "exists and is not empty" in again.stderr
    inside = main_py("export-bids", str(cohort), "--out", str(cohort / "bids"))
    assert inside.returncode == 2 and "inside the recordings folder" in inside.stderr
    assert not (cohort / "bids").exists()


def test_official_bids_validator_accepts_the_dataset(dataset):
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the official BIDS validator (npm bids-validator) cannot run")
    assert VALIDATOR.exists(), "bids-validator not installed: run `make validator` (npm ci --prefix tools/bids-validator)"
    run = subprocess.run([str(VALIDATOR), str(dataset), "--json"], capture_output=True, text=True, timeout=300)
    report = json.loads(run.stdout)
    issues = {kind: [(e["code"], e["reason"], [f["file"]["relativePath"] for f in e["files"][:3] if f.get("file")])
                     for e in report["issues"][kind]] for kind in ("errors", "warnings")}
    assert issues == {"errors": [], "warnings": []}
    assert run.returncode == 0
    assert report["summary"]["subjects"] == [f"{i:02d}" for i in range(1, N + 1)]
