"""Render the panel's main states to PNG (offscreen): idle, recording, a stream dropped out, replay.

    QT_QPA_PLATFORM=offscreen python -m tools.screenshots docs/img

Uses the simulated devices (with test markers and a stimulus-side marker
sender), so the pictures show what an experimenter sees in a rehearsal;
the recording made on the way is then opened in the panel's replay mode.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from configs import use_lsl_config
    use_lsl_config()
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.panel import ControlPanel
    from sync.client import MarkerClient

    tag = f"s{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="attune-shots-"))
    devices = tmp / "devices.yaml"
    devices.write_text(f"""
eyetracker: {{rate: 300, name: SimEyeTracker, source_id: {tag}-eye}}
gsr: {{rate: 128, name: SimGSR, source_id: {tag}-gsr}}
webcam: {{rate: 30, name: SimWebcam, source_id: {tag}-cam, expression: true}}
""")
    panel = ControlPanel(root=tmp / "recordings", marker_endpoint="tcp://127.0.0.1:*", devices=devices,
                         queries=[f"contains(source_id,'{tag}')"])
    panel.resize(1600, 980)
    panel.show()

    def run(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    panel.session.protocol.setCurrentText("infant_face_rating")
    panel.session.devices_button.setChecked(True)
    run(4.0)
    panel.grab().save(str(out / "panel_idle.png"))

    for edit, text in ((panel.recording.participant, "P017"), (panel.recording.task, "faces")):
        edit.setText(text)
    panel.start_recording()
    run(1.0)
    client = MarkerClient(panel.job.snapshot.markers, sender_id="stimulus")
    client.send("protocol_start", protocol="Infant face rating", trials=48)
    events = ["fixation_onset", "face_onset", "rating_onset", "response"]
    for trial in range(1, 8):
        client.send("trial_start", number=trial)
        for event in events:
            run(0.9)
            client.send(event, number=trial)
        run(0.6)
    run(1.0)
    panel.grab().save(str(out / "panel_recording.png"))

    panel.lab.threads[1].stop()  # the GSR sensor goes quiet
    run(3.5)
    panel.grab().save(str(out / "panel_dropped.png"))
    client.close()
    panel.job.stop()
    run(1.5)
    recorded = panel.job.snapshot.path
    panel.shutdown()  # the devices go: the replay publishes the same streams again

    # the replayed task markers and clock estimates (source_id ...@replay) join the devices' streams
    replay = ControlPanel(root=tmp / "recordings", marker_endpoint="tcp://127.0.0.1:*", devices=devices,
                         queries=[f"contains(source_id,'{tag}')", "starts-with(source_id,'attune-marker')"])
    replay.resize(1600, 980)
    replay.show()
    replay.replay.open_file(recorded)
    while replay.replay.player is None:
        run(0.1)
    replay.replay.seek(2.0)
    replay.replay.toggle_play()
    run(26.0)
    replay.grab().save(str(out / "panel_replay.png"))
    replay.shutdown()
    shots = ("idle", "recording", "dropped", "replay")
    print(f"wrote {', '.join(str(out / f'panel_{s}.png') for s in shots)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
