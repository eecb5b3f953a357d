"""The command line's own description stays true to its sub-commands."""
from __future__ import annotations

import argparse

import main


def test_the_docstring_lists_every_sub_command():
    parser = main.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    listed = {line.split()[2] for line in main.__doc__.splitlines() if line.strip().startswith("python main.py")}
    assert listed == set(sub.choices)


def test_every_product_module_imports():
    """A renamed class or a moved helper shows up here, not in a user's traceback."""
    import importlib
    from pathlib import Path

    root = Path(main.__file__).resolve().parent
    failed = []
    for path in sorted(root.glob("*/*.py")) + sorted(root.glob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in ("tests", "bench", "tools", "build", ".venv") or path.name == "__init__.py":
            continue
        name = ".".join(rel.with_suffix("").parts)
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {exc!r}")
    assert failed == []


FORBIDDEN = {  # package -> packages it must never import (docs/architecture.md)
    "acquisition": {"gui"},
    "devices": {"gui"},
    "stimulus": {"gui", "acquisition"},
    "sync": {"gui", "acquisition", "stimulus", "devices", "analysis"},
    "configs": {"gui", "acquisition", "stimulus", "devices", "analysis", "sync"},
}


def test_packages_keep_the_one_way_import_rules():
    """The design's rules, read from every product module's import statements (lazy ones included)."""
    import ast
    from pathlib import Path

    root = Path(main.__file__).resolve().parent
    broken = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((root / package).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                broken += [f"{package}/{path.name}: imports {n}" for n in names if n.split(".")[0] in forbidden]
    assert broken == []


def test_every_pylsl_name_the_product_uses_exists():
    """``pylsl.X`` in an except clause only fails when that path runs (pylsl keeps its errors in pylsl.util)."""
    import ast
    from pathlib import Path

    import pylsl

    root = Path(main.__file__).resolve().parent
    missing = []
    for path in sorted(root.glob("*/*.py")) + sorted(root.glob("*.py")):
        if path.relative_to(root).parts[0] in ("build", ".venv"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "pylsl"
                    and not hasattr(pylsl, node.attr)):
                missing.append(f"{path.relative_to(root)}:{node.lineno}: pylsl.{node.attr}")
    assert missing == []
