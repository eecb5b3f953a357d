"""Where the task's markers go: anything with ``send(event, timestamp=None, **fields)``.

The task is written against this small protocol so the same code runs with
the ZeroMQ ``sync.client.MarkerClient`` (markers into the recording), with a
``ListSink`` (markers kept for the events TSV and for tests), or both at once
through a ``TeeSink``, which stamps a marker once so every copy carries the
same time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from stimulus.clock import local_clock


class MarkerOutput(Protocol):
    """Anything the task sends its markers through (MarkerClient, ListSink, TeeSink, a simulated body)."""

    def send(self, event: str, timestamp: float | None = None, **fields: Any) -> None: ...


@dataclass(frozen=True)
class SentMarker:
    """One sent marker: its name, LSL-clock time, order of sending, and fields."""

    event: str
    timestamp: float
    seq: int
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


class ListSink:
    """Keeps every marker in memory, in sending order."""

    def __init__(self) -> None:
        self.markers: list[SentMarker] = []

    def send(self, event: str, timestamp: float | None = None, **fields: Any) -> None:
        stamp = local_clock() if timestamp is None else float(timestamp)
        self.markers.append(SentMarker(event, stamp, len(self.markers) + 1, dict(fields)))

    def events(self, name: str) -> list[SentMarker]:
        return [m for m in self.markers if m.event == name]


class TeeSink:
    """Sends each marker to several sinks with one timestamp; one failing sink does not stop the rest."""

    def __init__(self, *sinks: MarkerOutput) -> None:
        self.sinks = [s for s in sinks if s is not None]
        self.errors: list[str] = []

    def send(self, event: str, timestamp: float | None = None, **fields: Any) -> None:
        stamp = local_clock() if timestamp is None else float(timestamp)
        for sink in self.sinks:
            try:
                sink.send(event, timestamp=stamp, **fields)
            except Exception as exc:  # a broken bus must not end a session mid-trial
                self.errors.append(f"{type(sink).__name__}: {event}: {exc}")
