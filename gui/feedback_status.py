"""The training's live feedback as the experimenter sees it: one line per concern, from the markers.

The stimulus side (possibly another computer) sends a marker for every
feedback event (stimulus/feedback.py), so the panel needs no connection of
its own: streams checked, paused or resumed; the cue on screen now; smiles
mirrored; the calm cue. A paused feed turns the box amber until it resumes.
"""
from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import QLabel

from gui.style import BANNER_OK, BANNER_WARN

FEEDS = ("gaze", "expression", "gsr")


class FeedbackStatus(QLabel):
    """Hidden until a training with feedback starts; then updated by ``take(marker)``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setVisible(False)
        self.feeds: dict[str, str] = {}
        self.cue: str = ""
        self.mirrored = self.mirror_faces = 0
        self.calm = False
        self.last_face: dict[str, Any] = {}

    def take(self, marker: Any) -> None:
        """One marker from the hub (``label`` is the event, ``fields`` its fields)."""
        event, f = marker.label, marker.fields
        if event == "feedback_check":
            self.feeds = {k: f.get(k, "off") for k in FEEDS}
            self.cue, self.mirrored, self.mirror_faces, self.calm = "", 0, 0, False
        elif event == "feedback_paused":
            self.feeds[f.get("feed", "?")] = f"paused ({f.get('reason', '')})"
        elif event == "feedback_resumed":
            self.feeds[f.get("feed", "?")] = "ok"
        elif event == "feedback_cue_on":
            self.cue = f"cue shown on the {' and '.join(f.get('regions') or [])} (trial {f.get('trial')})"
        elif event == "feedback_cue_off" and self.cue:
            self.cue = "" if f.get("reason") != "looked" else f"she looked at the {f.get('region')} after the cue"
        elif event == "feedback_mirroring":
            self.mirrored += 1
        elif event == "feedback_face":
            self.mirror_faces += bool(f.get("mirroring_face"))
            self.last_face = dict(f)
        elif event == "feedback_calm_on":
            self.calm = True
        elif event == "feedback_calm_off":
            self.calm = False
        elif event == "protocol_end":
            self.cue, self.calm = "", False
        else:
            return
        self.render()

    def render(self) -> None:
        if not self.feeds:
            return
        marks = {"ok": "✓", "unknown": "not readable"}
        parts = [f"{k} {marks.get(v, v)}" for k, v in self.feeds.items()]
        lines = ["<b>Live feedback</b> · " + " · ".join(parts)]
        now = [self.cue] if self.cue else []
        if self.mirror_faces or self.mirrored:
            now.append(f"mirroring detected on {self.mirrored} of {self.mirror_faces} happy faces")
        if self.calm:
            now.append("breathing cue shown")
        if now:
            lines.append(" · ".join(now))
        paused = any(v.startswith("paused") for v in self.feeds.values())
        self.setStyleSheet(BANNER_WARN if paused else BANNER_OK)
        self.setText("<br>".join(lines))
        self.setVisible(True)

    @property
    def plain(self) -> str:
        return self.text().replace("<b>", "").replace("</b>", "").replace("<br>", "\n")
