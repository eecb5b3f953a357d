"""Command-line sub-command for the control panel (``main.py gui``)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
