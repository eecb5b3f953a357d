"""Before a window opens: every library Qt's X11 plugin needs is checked, and a missing one is named."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gui.display_check import XCB_LIBRARIES, library_loads, missing_xcb_libraries, packages_for, window_problem

X11 = {"DISPLAY": ":0"}


def test_every_missing_library_is_named_with_its_package():
    missing = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    problem = window_problem(X11, "linux", missing)
    assert problem is not None and not problem.off_screen
    assert problem.packages == ["libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"]
    for name in missing + ["apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"]:
        assert name in problem.reason


def test_nothing_missing_means_a_window_can_open():
    assert window_problem(X11, "linux", []) is None


def test_the_check_asks_the_loader_about_every_library_and_reports_only_the_failures():
    asked = []
    absent = {"libxcb-keysyms.so.1", "libglib-2.0.so.0", "libgthread-2.0.so.0"}

    def loads(soname: str) -> bool:
        asked.append(soname)
        return soname not in absent

    missing = missing_xcb_libraries(loads)
    assert asked == list(XCB_LIBRARIES)
    assert sorted(missing) == sorted(absent)
    assert packages_for(missing) == ["libxcb-keysyms1", "libglib2.0-0"]  # one package, two libraries


def test_off_screen_no_display_and_other_systems():
    off = window_problem({"QT_QPA_PLATFORM": "offscreen", **X11}, "linux", ["libxcb.so.1"])
    assert off is not None and off.off_screen and not off.packages
    headless = window_problem({}, "linux", [])
    assert headless is not None and not headless.off_screen and "DISPLAY" in headless.reason
    assert window_problem({}, "win32", ["libxcb.so.1"]) is None
    assert window_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", ["libxcb.so.1"]) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sonames are Linux's")
def test_the_loader_check_is_real():
    assert library_loads("libc.so.6")
    assert not library_loads("libattune-no-such-library.so.7")


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils' readelf")
def test_the_table_covers_what_the_installed_xcb_plugin_links():
    import PyQt6

    qt = Path(PyQt6.__file__).parent / "Qt6"
    plugin, qpa = qt / "plugins/platforms/libqxcb.so", qt / "lib/libQt6XcbQpa.so.6"
    if not plugin.exists() or not qpa.exists():
        pytest.skip("no xcb plugin in this PyQt6")
    needed = set()
    for lib in (plugin, qpa):
        out = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
        needed |= set(re.findall(r"\(NEEDED\).*\[(.+?)\]", out))
    system = {n for n in needed if not n.startswith(("libQt6", "libc.so", "libm.so", "libstdc++", "libgcc_s"))}
    assert system, "readelf found no dependencies"
    assert system <= set(XCB_LIBRARIES), f"not checked: {sorted(system - set(XCB_LIBRARIES))}"
