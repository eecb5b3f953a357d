"""File naming: LabRecorder's BIDS template and never overwriting a recording."""
from __future__ import annotations

from pathlib import Path

import pytest

from acquisition.naming import (
    NamingError,
    SessionFields,
    bids_path,
    events_tsv_path,
    next_free_run,
    prepare_output,
    render,
)


def test_bids_template_matches_labrecorder():
    fields = SessionFields("P07", "pre", "rating", "2")
    assert render("sub-%p/ses-%s/%m/sub-%p_ses-%s_task-%b[_acq-%a]_run-%r_%m.xdf", fields) == \
        "sub-P07/ses-pre/physio/sub-P07_ses-pre_task-rating_run-2_physio.xdf"
    fields.acquisition = "lab2"
    assert "task-rating_acq-lab2_run-2" in str(bids_path("/data", fields))


def test_free_template_and_bad_fields():
    assert render("%p-%b.xdf", SessionFields("A1", task="train")) == "A1-train.xdf"
    with pytest.raises(NamingError, match="%x"):
        render("%p-%x.xdf", SessionFields())
    with pytest.raises(NamingError, match="participant"):
        bids_path("/data", SessionFields(participant="../etc"))


def test_next_free_run_skips_existing(tmp_path):
    fields = SessionFields("P1", task="demo")
    first = bids_path(tmp_path, fields)
    first.parent.mkdir(parents=True)
    first.write_bytes(b"XDF:")
    assert next_free_run(tmp_path, fields).run == "2"


def test_prepare_output_refuses_or_renames(tmp_path, caplog):
    path = tmp_path / "rec.xdf"
    path.write_bytes(b"one")
    with pytest.raises(FileExistsError):
        prepare_output(path)
    prepare_output(path, "rename")
    assert f"{path} already existed: moved it aside to rec_old1.xdf" in caplog.text  # said, not silent
    (tmp_path / "rec.xdf").write_bytes(b"two")
    prepare_output(path, "rename")
    assert (tmp_path / "rec_old1.xdf").read_bytes() == b"one"
    assert (tmp_path / "rec_old2.xdf").read_bytes() == b"two"
    with pytest.raises(NamingError, match=".xdf"):
        prepare_output(tmp_path / "rec.csv")


def test_events_tsv_sits_beside_its_recording():
    xdf = Path("rec/sub-P01/ses-pre/physio/sub-P01_ses-pre_task-rating_run-2_physio.xdf")
    assert events_tsv_path(xdf) == xdf.with_name("sub-P01_ses-pre_task-rating_run-2_events.tsv")
    assert events_tsv_path(Path("out/session.xdf")) == Path("out/session_events.tsv")
    assert events_tsv_path(Path("out/my_session.xdf")) == Path("out/my_session_events.tsv")
