"""The live plots show a vendor eye tracker's gaze (Tobii Pro LSL app layout) as they show the simulated one."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from acquisition.live import LiveHub
from devices.simulated import DeviceThread
from gui.plots import LivePlots
from tests.support import TobiiLike


def test_tobii_stream_drives_the_gaze_panel(qtbot, unique, tmp_path):
    device = DeviceThread(TobiiLike(f"{unique}Tobii", f"{unique}-tobii"), chunk_interval=0.01)
    device.start()
    device.ready.wait(5)
    hub = LiveHub(queries=[f"contains(source_id,'{unique}')"])
    hub.start()
    plots = LivePlots(hub)
    qtbot.addWidget(plots)
    plots.resize(1000, 600)
    plots.show()
    try:
        def drawn() -> bool:
            plots.redraw()
            x, _ = plots.gaze_x.getData()
            return "tobii_pro layout" in plots.gaze_info.text() and x is not None and np.isfinite(
                plots.gaze_x.getData()[1]).sum() > 50
        qtbot.waitUntil(drawn, timeout=20000)
        assert "100 % valid" in plots.gaze_info.text()
        _, pupil = plots.pupil_r.getData()
        assert np.nanmean(pupil) == pytest.approx(3.0)
        _, left = plots.pupil_l.getData()
        assert np.isnan(left).any(), "the left eye's lost samples leave gaps"
        if os.environ.get("ATTUNE_SAVE_PNG"):
            plots.grab().save(os.environ["ATTUNE_SAVE_PNG"])
    finally:
        hub.stop()
        device.stop()


def test_streams_table_flags_a_device_whose_check_fails(qtbot, unique):
    from devices.gsr import GSRSource
    from gui.streams_view import CHECK_COLUMN, StreamsView
    from tests.support import BadDevice

    good = DeviceThread(GSRSource(rate=100.0, name=f"{unique}Good", source_id=f"{unique}-good"))
    good.start()
    good.ready.wait(5)
    bad = BadDevice(f"{unique}Bad")
    bad.start()
    hub = LiveHub(queries=[f"contains(source_id,'{unique}')"])
    hub.start()
    view = StreamsView()
    qtbot.addWidget(view)
    view.resize(1000, 200)
    view.show()
    try:
        def judged() -> bool:
            view.show_rows(hub.rows())
            checks = {row.name: row.check for row in view.rows}
            return checks.get(f"{unique}Good") == "ok" and checks.get(f"{unique}Bad", "").startswith("FAIL")
        qtbot.waitUntil(judged, timeout=30000)
        bad_row = next(r for r, row in enumerate(view.rows) if row.name == f"{unique}Bad")
        item = view.item(bad_row, CHECK_COLUMN)
        assert item.text() == "FAIL: rate, gaps" and item.font().bold()
        assert "rate" in item.toolTip() and "gaps" in item.toolTip()
        if os.environ.get("ATTUNE_SAVE_PNG"):
            view.grab().save(os.environ["ATTUNE_SAVE_PNG"].replace(".png", "_streams.png"))
    finally:
        hub.stop()
        good.stop()
        bad.halt.set()
