"""A device's one-line state for technicians: each change logged once, kept, and handed on."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class ReportsStatus:
    """``status`` is the state now ("connected to ...", "unplugged: ..."); ``events`` every change.

    Real devices come and go (a cable, a Bluetooth link, a vendor app): each
    change is reported once, not once per failed read, and ``on_status`` (the
    panel, a CLI) hears it. Mixed into the device threads; call ``init_status``.
    """

    def init_status(self, name: str, on_status: Callable[[str], None] | None = None) -> None:
        self.status = "starting"
        self.events: list[str] = []
        self.on_status = on_status
        self._status_name = name
        self._status_lock = threading.Lock()

    def report(self, message: str) -> None:
        with self._status_lock:
            if message == self.status:
                return
            self.status = message
            self.events.append(message)
        log.warning("%s: %s", self._status_name, message)
        if self.on_status is not None:
            self.on_status(message)
