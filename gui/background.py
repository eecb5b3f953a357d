"""Run a slow call off the GUI thread and get its result back on it.

Starting devices, asking a remote computer or joining threads can take
seconds; the window must keep drawing meanwhile. ``Background.run(fn,
then)`` calls ``fn`` in a plain thread and ``then(result)`` on the GUI
thread (a queued signal), where ``result`` is the value or the exception.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

log = logging.getLogger(__name__)


class Background(QObject):
    _done = pyqtSignal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._done.connect(self._deliver)
        self.running = 0

    def run(self, fn: Callable[[], Any], then: Callable[[Any], None] | None = None, name: str = "panel-work") -> None:
        self.running += 1

        def work() -> None:
            try:
                result: Any = fn()
            except Exception as exc:  # handed to ``then``: the panel shows it
                log.exception("%s failed", name)
                result = exc
            self._done.emit(then, result)

        threading.Thread(target=work, name=name, daemon=True).start()

    def _deliver(self, then: Callable[[Any], None] | None, result: Any) -> None:
        self.running -= 1
        if then is not None:
            then(result)
