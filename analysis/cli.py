"""Command-line sub-command for analysis of recordings (``main.py analyze``)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
