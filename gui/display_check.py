"""Can Qt open a window here? Checked before Qt is imported, because Qt cannot say.

On Linux/X11, Qt's xcb platform plugin (``PyQt6/Qt6/plugins/platforms/libqxcb.so``
and the ``libQt6XcbQpa`` it links) needs a set of system libraries that a
fresh Debian may lack; without one of them Qt aborts the whole process,
naming only xcb-cursor. So before any window opens, every library the
plugin links is loaded by its soname, and a missing one is reported with
its Debian package. No Qt import here: the check must run where Qt would crash.
"""
from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# The shared libraries libqxcb.so and libQt6XcbQpa.so.6 link (besides Qt's own, libc and libstdc++),
# read with ldd from PyQt6-Qt6 6.x, each with the Debian 12 package that ships it.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}


def library_loads(soname: str) -> bool:
    """True if the dynamic loader finds ``soname`` (as Qt's plugin loader would)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_xcb_libraries(loads: Callable[[str], bool] = library_loads) -> list[str]:
    """The sonames of XCB_LIBRARIES that do not load."""
    return [soname for soname in XCB_LIBRARIES if not loads(soname)]


def packages_for(missing: list[str]) -> list[str]:
    """Debian packages to install for these sonames, each once, in table order."""
    return list(dict.fromkeys(XCB_LIBRARIES[soname] for soname in missing))


@dataclass(frozen=True)
class NoWindow:
    """Why no window can open: ``reason`` for the user, ``packages`` to install (empty if none helps).

    ``off_screen`` is the deliberate case (tests, screenshots): Qt works, it just draws nowhere.
    """

    reason: str
    packages: list[str] = field(default_factory=list)
    off_screen: bool = False


def window_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                   missing: list[str] | None = None) -> NoWindow | None:
    """Why no window can open here, or None when one can.

    ``environ``, ``platform`` and ``missing`` default to this process, this
    OS and the libraries that really fail to load; tests pass their own.
    """
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa.startswith(("offscreen", "minimal")):
        return NoWindow(f"QT_QPA_PLATFORM={qpa} draws off screen", off_screen=True)
    if not platform.startswith("linux"):
        return None  # Windows and macOS plugins ship with PyQt6
    if qpa.startswith("wayland") or (not qpa and env.get("WAYLAND_DISPLAY")):
        return None
    if not env.get("DISPLAY"):
        return NoWindow("no display (DISPLAY is not set)")
    if missing is None:
        missing = missing_xcb_libraries()
    if missing:
        packages = packages_for(missing)
        return NoWindow(f"Qt's X11 (xcb) plugin needs {', '.join(missing)}, not installed here; "
                        f"on Debian/Ubuntu: sudo apt install {' '.join(packages)}", packages)
    return None
