"""Command-line sub-command for replay of XDF recordings (``main.py replay``)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
