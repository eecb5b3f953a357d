"""Where a remote request may write: inside the folders the operator chose, nowhere else.

``serve`` (LabRecorder's remote control) and the stimulus-control endpoint
take file names from the network. Every such path is resolved (``..``,
symlinks, absolute paths, Windows drive letters) and must land inside one
of the allowed roots; anything else is refused with a message naming it.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath


class PathError(ValueError):
    """A path from a request that would leave the allowed folders; the message names it."""


def relative_parts(text: str, what: str) -> tuple[str, ...]:
    """The parts of a relative path written with / or \\ (LabRecorder's Windows templates use \\).

    Absolute paths, drive letters, ``..`` and NUL bytes are refused.
    """
    if "\0" in text:
        raise PathError(f"{what}: contains a NUL byte")
    posix, windows = PurePosixPath(text.replace("\\", "/")), PureWindowsPath(text)
    if posix.is_absolute() or windows.drive or windows.root or text.startswith(("/", "\\")):
        raise PathError(f"{what} {text!r}: must be relative to the recording folder")
    if ".." in posix.parts:
        raise PathError(f"{what} {text!r}: must not leave the recording folder ('..')")
    return tuple(p for p in posix.parts if p not in ("", "."))


def confine(path: str | os.PathLike, roots: Iterable[str | os.PathLike], what: str) -> Path:
    """``path`` resolved, if it lies inside one of ``roots``; otherwise PathError naming it."""
    text = os.fspath(path)
    if "\0" in text:
        raise PathError(f"{what}: contains a NUL byte")
    resolved = Path(text).resolve()
    allowed = [Path(r).resolve() for r in roots]
    if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
        names = ", ".join(str(r) for r in allowed)
        raise PathError(f"{what} {text!r} is outside the allowed folder(s) {names}")
    return resolved
