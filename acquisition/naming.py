"""Recording file names: LabRecorder's BIDS template, and never overwriting a file.

LabRecorder's template ``sub-%p/ses-%s/%m/sub-%p_ses-%s_task-%b[_acq-%a]_run-%r_%m.xdf``
is the default, so lab scripts and folder layouts carry over. A bracketed
part is dropped when its field is empty. An existing file is refused (or,
LabRecorder's way, renamed aside to ``*_oldN``): a recording is never lost.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("attune.naming")  # a renamed file is said out loud, by every caller

BIDS_TEMPLATE = "sub-%p/ses-%s/%m/sub-%p_ses-%s_task-%b[_acq-%a]_run-%r_%m.xdf"
SAFE_LABEL = re.compile(r"^[A-Za-z0-9]+$")


class NamingError(ValueError):
    """A field or template cannot make a safe file name; the message names it."""


@dataclass
class SessionFields:
    participant: str = "P001"
    session: str = "01"
    task: str = "rest"
    run: str = "1"
    acquisition: str = ""
    modality: str = "physio"

    def check(self) -> None:
        """BIDS labels are alphanumeric: no separators that would break the path."""
        for name in ("participant", "session", "task", "run", "acquisition", "modality"):
            value = getattr(self, name)
            if name == "acquisition" and not value:
                continue
            if not SAFE_LABEL.match(str(value)):
                raise NamingError(f"{name} {value!r}: use letters and digits only (BIDS label)")


def render(template: str, fields: SessionFields) -> str:
    """Fill %p %s %b %a %r %m; drop [optional parts] whose fields are empty."""
    values = {"p": fields.participant, "s": fields.session, "b": fields.task,
              "a": fields.acquisition, "r": str(fields.run), "m": fields.modality}

    def optional(match: re.Match) -> str:
        part = match.group(1)
        used = re.findall(r"%([psbarm])", part)
        return part if all(values[k] for k in used) else ""

    text = re.sub(r"\[([^\]]*)\]", optional, template)
    unknown = re.findall(r"%([^psbarm])", text)
    if unknown:
        raise NamingError(f"template {template!r}: unknown field %{unknown[0]} (use %p %s %b %a %r %m)")
    return re.sub(r"%([psbarm])", lambda m: values[m.group(1)], text)


def bids_path(root: str | os.PathLike, fields: SessionFields, template: str = BIDS_TEMPLATE) -> Path:
    fields.check()
    return Path(root) / render(template, fields)


def events_tsv_path(recording: str | os.PathLike) -> Path:
    """The task's events TSV beside a recording: BIDS swaps the suffix, other names append one.

    ``sub-X_ses-Y_task-Z_run-1_physio.xdf`` -> ``sub-X_ses-Y_task-Z_run-1_events.tsv``;
    ``session.xdf`` -> ``session_events.tsv``.
    """
    recording = Path(recording)
    head, sep, suffix = recording.stem.rpartition("_")
    bids = recording.stem.startswith("sub-") and sep and "-" not in suffix
    return recording.with_name(f"{head if bids else recording.stem}_events.tsv")


def next_free_run(root: str | os.PathLike, fields: SessionFields, template: str = BIDS_TEMPLATE) -> SessionFields:
    """The same fields with the first run number whose file does not exist yet."""
    run = int(fields.run) if str(fields.run).isdigit() else 1
    while True:
        candidate = SessionFields(**{**fields.__dict__, "run": str(run)})
        if not bids_path(root, candidate, template).exists():
            return candidate
        run += 1


def prepare_output(path: str | os.PathLike, on_exists: str = "refuse") -> Path:
    """Make the folders and clear the way for a new file, without losing an old one.

    ``refuse`` raises FileExistsError; ``rename`` moves the old file to
    ``name_oldN.xdf`` as LabRecorder does.
    """
    path = Path(path)
    if path.suffix.lower() != ".xdf":
        raise NamingError(f"{path}: the output file must end in .xdf")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NamingError(f"{path.parent}: cannot create the output folder ({exc.strerror})") from exc
    if path.exists():
        if on_exists != "rename":
            raise FileExistsError(f"{path} already exists; choose another run or --on-exists rename")
        n = 1
        while (aside := path.with_name(f"{path.stem}_old{n}{path.suffix}")).exists():
            n += 1
        path.rename(aside)
        log.warning("%s already existed: moved it aside to %s (nothing is overwritten)", path, aside.name)
    if not os.access(path.parent, os.W_OK):
        raise NamingError(f"{path.parent}: the output folder is not writable")
    return path
