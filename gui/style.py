"""Colours and text formats shared by the panel's parts, so states look the same everywhere.

The trace colours are the Okabe-Ito palette (readable with the common
colour-vision deficiencies); states use the same hues: green is fine,
amber needs a look, red needs action.
"""
from __future__ import annotations

from acquisition.live_status import LOST, MISSING, RECEIVING, STALLED, WAITING
from acquisition.service import format_size  # noqa: F401 - the panel shows sizes as the CLI does

BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
RED = "#D55E00"
PURPLE = "#CC79A7"
SKY = "#56B4E9"
GREY = "#6B7280"
INK = "#1F2933"
MARKER = "#7A4EAB"

STATUS_COLOURS = {RECEIVING: GREEN, WAITING: SKY, STALLED: ORANGE, LOST: RED, MISSING: RED}
STATUS_TEXT = {
    RECEIVING: "receiving",
    WAITING: "waiting for data",
    STALLED: "stalled: no data",
    LOST: "lost",
    MISSING: "MISSING (required)",
}

BANNER_ALARM = f"background:{RED}; color:white; font-weight:bold; padding:8px; border-radius:4px;"
BANNER_WARN = f"background:#FFF4D6; color:{INK}; border:1px solid {ORANGE}; padding:6px; border-radius:4px;"
BANNER_OK = f"background:#E7F6F0; color:{INK}; border:1px solid {GREEN}; padding:6px; border-radius:4px;"

APP_STYLE = """
QGroupBox { font-weight: bold; border: 1px solid #C9CED6; border-radius: 6px; margin-top: 10px; padding: 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
QPushButton#start { background: #009E73; color: white; font-weight: bold; padding: 8px; border-radius: 4px; }
QPushButton#start:disabled { background: #B8C2BF; color: #F4F6F5; }
QPushButton#stop { background: #D55E00; color: white; font-weight: bold; padding: 8px; border-radius: 4px; }
QPushButton#stop:disabled { background: #D9C3B5; color: #F7F1ED; }
QLabel#path { font-family: monospace; }
QLabel#elapsed { font-size: 20px; font-weight: bold; font-family: monospace; }
"""


def format_rate(rate: float) -> str:
    return "irregular" if rate <= 0 else f"{rate:g}"


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
