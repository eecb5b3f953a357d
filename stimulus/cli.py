"""Command-line sub-commands of the stimulus side (``main.py stimulus ...``)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to ``main.py``."""
