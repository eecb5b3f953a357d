"""The command line's own description stays true to its sub-commands."""
from __future__ import annotations

import argparse

import main


def test_the_docstring_lists_every_sub_command():
    parser = main.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    listed = {line.split()[2] for line in main.__doc__.splitlines() if line.strip().startswith("python main.py")}
    assert listed == set(sub.choices)
