"""The streams table: every stream on the network and whether it is healthy.

Rows come from ``LiveHub.rows()`` (a snapshot built by worker threads), so
refreshing never waits on the network. Cells are only rewritten when their
text changes: a calm table that does not flicker twice a second.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from acquisition.live_status import MISSING, StreamRow
from gui.style import GREY, RED, STATUS_COLOURS, STATUS_TEXT, format_rate

COLUMNS = ["Status", "Stream", "Type", "Host", "Ch", "Nominal Hz", "Measured Hz", "Required", "Check"]
CHECK_COLUMN = COLUMNS.index("Check")


def status_icon(colour: str, size: int = 12) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pix)


def check_cell(check: str) -> str:
    """``FAIL: rate, gaps`` from the check's one-line failures (details go to the tooltip)."""
    if not check.startswith("FAIL: "):
        return check
    return "FAIL: " + ", ".join(part.split(" ")[0] for part in check[6:].split("; "))


class StreamsView(QTableWidget):
    """Name, type, host, channels, nominal and measured rate and a status colour per stream."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self._icons = {status: status_icon(colour) for status, colour in STATUS_COLOURS.items()}
        self.rows: list[StreamRow] = []

    def status_of(self, name: str) -> str | None:
        """The status shown for a stream (or a missing requirement) by its name."""
        for row in self.rows:
            if row.name == name:
                return row.status
        return None

    def show_rows(self, rows: list[StreamRow]) -> None:
        self.rows = rows
        if self.rowCount() != len(rows):
            self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            measured = "" if row.status == MISSING else f"{row.measured_srate:.1f}"
            cells = [
                STATUS_TEXT.get(row.status, row.status),
                row.name,
                row.type,
                row.hostname,
                str(row.channel_count) if row.channel_count else "",
                "" if row.status == MISSING else format_rate(row.nominal_srate),
                measured,
                "yes" if row.required else "",
                check_cell(row.check),
            ]
            for c, text in enumerate(cells):
                item = self.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if 4 <= c < CHECK_COLUMN:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
            status_item = self.item(r, 0)
            if status_item.data(Qt.ItemDataRole.UserRole) != row.status:
                status_item.setData(Qt.ItemDataRole.UserRole, row.status)
                status_item.setIcon(self._icons.get(row.status, QIcon()))
                colour = QColor(STATUS_COLOURS.get(row.status, "#000000"))
                status_item.setForeground(QBrush(colour.darker(130)))
                font = QFont(status_item.font())
                font.setBold(row.status == MISSING)
                status_item.setFont(font)
            self._show_check(self.item(r, CHECK_COLUMN), row.check)
            tip = row.detail or (f"{row.samples} samples received" if row.key else "")
            if row.check.startswith("FAIL"):
                tip += f"\ndevice check on the last seconds: {row.check[6:]}"
            if status_item.toolTip() != tip:
                for c in range(len(COLUMNS)):
                    self.item(r, c).setToolTip(tip)

    @staticmethod
    def _show_check(item: QTableWidgetItem, check: str) -> None:
        """A failed device check in bold red, its failed rows in the tooltip (devices check's criteria)."""
        failed = check.startswith("FAIL")
        if item.data(Qt.ItemDataRole.UserRole) == check:
            return
        item.setData(Qt.ItemDataRole.UserRole, check)
        item.setForeground(QBrush(QColor(RED).darker(130) if failed else QColor(GREY)))
        font = QFont(item.font())
        font.setBold(failed)
        item.setFont(font)
