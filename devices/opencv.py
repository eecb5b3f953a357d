"""The one place that imports OpenCV (and mediapipe, which imports it too).

mediapipe requires ``opencv-contrib-python``, the GUI build of OpenCV. On
Linux its ``cv2/__init__`` points ``QT_QPA_PLATFORM_PLUGIN_PATH``,
``QT_QPA_FONTDIR`` and ``LD_LIBRARY_PATH`` at the Qt 5 it bundles; a PyQt6
application created afterwards in the same process would then load Qt 5
plugins and fail. Importing through here puts the environment back as it was,
so the control panel, the stimulus window and the webcam share one process.
"""
from __future__ import annotations

import os
from types import ModuleType

_QT_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR", "LD_LIBRARY_PATH")


def _keeping_environment(import_it):
    saved = {name: os.environ.get(name) for name in _QT_VARIABLES}
    try:
        return import_it()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cv2() -> ModuleType:
    """OpenCV, imported without leaving its Qt settings in the environment."""
    def load() -> ModuleType:
        import cv2 as module
        return module
    return _keeping_environment(load)


def face_mesh_module() -> ModuleType | None:
    """mediapipe's face mesh solution, or None where mediapipe is not installed."""
    def load() -> ModuleType | None:
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError:
            return None
        return face_mesh
    return _keeping_environment(load)
