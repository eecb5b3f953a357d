"""The marker log: every marker as it arrives, with the clock time the experimenter notes down.

New rows are appended from the hub's marker buffer ("what is new since
row N"); the view follows the newest row unless the experimenter has
scrolled up to read, and keeps the last few thousand rows.
"""
from __future__ import annotations

import time

import pylsl
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from acquisition.live_buffers import LiveMarker, MarkerBuffer

MAX_ROWS = 5000
MAX_COLUMN_CHARS = 80  # a column grows to fit texts up to this long; longer ones end in … (tooltip: all)
CELL_PADDING = 16


class MarkerLog(QTableWidget):
    def __init__(self, markers: MarkerBuffer, parent=None) -> None:
        super().__init__(0, 4, parent)
        self.markers = markers
        self.seen = markers.count
        self.setHorizontalHeaderLabels(["Time", "Event", "Details", "Stream"])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # the rest; full text in the tooltip
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        self.setColumnWidth(1, 110)
        self.setColumnWidth(3, 150)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

    @staticmethod
    def clock_text(stamp: float) -> str:
        """Wall-clock time of an LSL stamp, for display only (never stored)."""
        wall = time.time() - (pylsl.local_clock() - stamp)
        return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall * 10) % 10}"

    def refresh(self) -> int:
        """Append markers that arrived since the last call; returns how many."""
        new: list[LiveMarker] = self.markers.after(self.seen)
        if not new:
            return 0
        self.seen += len(new)
        bar = self.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2
        start = self.rowCount()
        self.setRowCount(start + len(new))
        widest = [0, 0, 0, 0]
        metrics = self.fontMetrics()
        for i, m in enumerate(new):
            for c, text in enumerate((self.clock_text(m.stamp), m.label, m.details, m.stream)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.setItem(start + i, c, item)
                widest[c] = max(widest[c], metrics.horizontalAdvance(text[:MAX_COLUMN_CHARS]) + CELL_PADDING)
        for c in (1, 3):  # event and stream grow to their longest text: a name is never cut off
            if widest[c] > self.columnWidth(c):
                self.setColumnWidth(c, widest[c])
        excess = self.rowCount() - MAX_ROWS
        for _ in range(max(0, excess)):
            self.removeRow(0)
        if follow:
            self.scrollToBottom()
        return len(new)

    def events(self) -> list[str]:
        """The event column, top to bottom (what tests and the status line read)."""
        return [self.item(r, 1).text() for r in range(self.rowCount())]
