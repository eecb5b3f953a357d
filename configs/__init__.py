"""Lab, device and protocol configuration: YAML files validated on load.

Every error names the file and the field (``devices.yaml: eyetracker.rate``)
so a technician can fix a config without reading code. This package is also
the one place that knows where the loopback-only LSL config lives, because
every entry point (CLI, tests, benchmarks) must set it before pylsl loads.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent
LOOPBACK_LSL_CONFIG = CONFIG_DIR / "lsl_loopback.cfg"


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names file and field."""

    def __init__(self, source: str | os.PathLike, field: str, problem: str) -> None:
        self.source = str(source)
        self.field = field
        self.problem = problem
        where = f"{self.source}: {field}" if field else self.source
        super().__init__(f"{where}: {problem}")


def use_lsl_config(path: str | os.PathLike | None = None) -> str:
    """Point liblsl at an API config before pylsl is imported.

    An explicit ``path`` wins; otherwise a ``LSLAPICFG`` the user already set
    is kept; otherwise the loopback-only config is used, so nothing is sent
    off this machine unless someone asks for the lab network on purpose.
    """
    if path is not None:
        os.environ["LSLAPICFG"] = str(Path(path).resolve())
    else:
        os.environ.setdefault("LSLAPICFG", str(LOOPBACK_LSL_CONFIG))
    return os.environ["LSLAPICFG"]


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping, turning every failure into a ConfigError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError(path, f"line {line}", f"not UTF-8 text (byte {exc.start}); "
                                                "save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except DuplicateKey as exc:
        raise ConfigError(path, f"line {exc.line}", f"the key {exc.key!r} is given twice in one mapping "
                                                    "(YAML would silently keep the last); keep one") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(path, where, f"not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", "the top level must be a mapping of names to settings")
    return data


class DuplicateKey(yaml.YAMLError):
    """A mapping names the same key twice (YAML would keep the last one silently)."""

    def __init__(self, key: Any, line: int) -> None:
        self.key, self.line = key, line
        super().__init__(f"{key!r} is given twice")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last, silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`; its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class names it
                break
            if duplicate:
                raise DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class Fields:
    """Typed, checked access to one mapping of a config file.

    ``Fields(data, "devices.yaml", "eyetracker").number("rate", 300, lo=1, hi=1200)``
    returns the value or raises a ConfigError naming ``eyetracker.rate``.
    Unknown keys are errors too: a misspelt setting must not be ignored.
    """

    def __init__(self, data: Any, source: str | os.PathLike, prefix: str = "") -> None:
        self.source = str(source)
        self.prefix = prefix
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(self.source, prefix or "(top level)", "must be a mapping")
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self.path(key), problem)

    def _get(self, key: str, default: Any, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, "is required")
            return default
        return self.data[key]

    def number(self, key: str, default: float | None = None, *, lo: float | None = None,
               hi: float | None = None, integer: bool = False, required: bool = False) -> Any:
        value = self._get(key, default, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"must be a number, got {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int too large for a float
            finite = False
        if not finite:
            raise self.error(key, f"must be a finite number, got {value!r}")
        if integer and not float(value).is_integer():
            raise self.error(key, f"must be a whole number, got {value!r}")
        if lo is not None and value < lo:
            raise self.error(key, f"must be at least {lo}, got {value!r}")
        if hi is not None and value > hi:
            raise self.error(key, f"must be at most {hi}, got {value!r}")
        return int(value) if integer else float(value)

    def text(self, key: str, default: str | None = None, *, choices: list[str] | None = None,
             required: bool = False) -> Any:
        value = self._get(key, default, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"must be text, got {value!r}")
        if choices is not None and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key, default, False)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def items(self, key: str, check: Callable[[Any, str], Any], default: list | None = None,
              required: bool = False) -> list:
        """A list whose items are each checked by ``check(item, field_path)``."""
        value = self._get(key, default if default is not None else [], required)
        if not isinstance(value, list):
            raise self.error(key, f"must be a list, got {value!r}")
        return [check(item, f"{self.path(key)}[{i}]") for i, item in enumerate(value)]

    def section(self, key: str, required: bool = False) -> Fields:
        value = self._get(key, {}, required)
        return Fields(value, self.source, self.path(key))

    def finish(self) -> None:
        """Reject keys nobody asked for (typos such as ``rat: 300``)."""
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            known = ", ".join(sorted(self.seen)) or "none"
            raise self.error(unknown[0], f"unknown setting (known here: {known})")
