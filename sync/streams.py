"""Names and stream headers of what the marker server records, per sender.

The marker stream's shape is a fixed contract that analysis code parses:
one string channel, type "Markers", irregular rate, each sample a compact
JSON object with "event", "seq" and the sender's fields, stamped on the
sender's own LSL clock, with ClockOffset chunks mapping it onto the
recorder's clock. A second small string stream per sender records every
clock estimate with its uncertainty, so the quality of the mapping travels
with the data. Headers are built here (not from acquisition/) because sync/
must stand alone on the stimulus computer.
"""
from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from typing import Any

from .protocol import VERSION

MARKER_TYPE = "Markers"
CLOCK_TYPE = "AttuneClockSync"


def marker_stream_name(sender: str) -> str:
    return f"AttuneMarkers-{sender}"


def marker_source_id(sender: str) -> str:
    return f"attune-markers-{sender}"


def clock_stream_name(sender: str) -> str:
    return f"AttuneMarkerClock-{sender}"


def clock_source_id(sender: str) -> str:
    return f"attune-marker-clock-{sender}"


def relay_stream_name(sender: str) -> str:
    """The live LSL copy has its own name so a recorder never stores markers twice."""
    return f"AttuneMarkerRelay-{sender}"


def relay_source_id(sender: str) -> str:
    return f"attune-marker-relay-{sender}"


# LSL predicate for every relay outlet: a recorder fed by its own server leaves these out.
RELAY_PREDICATE = "starts-with(source_id,'attune-marker-relay-')"


def _add(parent: ET.Element, tag: str, value: Any = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if value is not None:
        child.text = str(value)
    return child


def _add_tree(parent: ET.Element, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict):
            _add_tree(_add(parent, key), value)
        else:
            _add(parent, key, value)


def info_xml(name: str, type_: str, source_id: str, channel: dict[str, str], desc: dict[str, Any],
             created_at: float = 0.0) -> str:
    """LSL-style stream header (what pyxdf reads as ``stream['info']``): one string channel, irregular."""
    root = ET.Element("info")
    for tag, value in (("name", name), ("type", type_), ("channel_count", 1),
                       ("channel_format", "string"), ("source_id", source_id),
                       ("nominal_srate", 0.0), ("version", 1.1), ("created_at", repr(created_at)),
                       ("hostname", socket.gethostname())):
        _add(root, tag, value)
    desc_el = _add(root, "desc")
    _add_tree(_add(_add(desc_el, "channels"), "channel"), channel)
    _add_tree(desc_el, desc)
    return '<?xml version="1.0"?>' + ET.tostring(root, encoding="unicode")


def marker_info_xml(sender: str, created_at: float = 0.0) -> str:
    return info_xml(
        marker_stream_name(sender), MARKER_TYPE, marker_source_id(sender),
        {"label": "marker", "type": "Marker", "format": "json"},
        {"attune": {"sender": sender, "protocol_version": VERSION,
                    "value": "JSON object: event, seq, and the sender's fields",
                    "timestamps": "sender pylsl.local_clock(); ClockOffset chunks map them "
                                  "to the recorder's clock",
                    "clock_stream": clock_source_id(sender)}},
        created_at)


def clock_info_xml(sender: str, created_at: float = 0.0) -> str:
    return info_xml(
        clock_stream_name(sender), CLOCK_TYPE, clock_source_id(sender),
        {"label": "clock_estimate", "type": "ClockSync", "format": "json"},
        {"attune": {"sender": sender, "protocol_version": VERSION,
                    "value": "JSON object: offset (s, add to sender stamps), uncertainty "
                             "(s, half the round trip), rtt (s), drift_ppm, exchanges",
                    "timestamps": "sender pylsl.local_clock() at which the estimate holds",
                    "marker_stream": marker_source_id(sender)}},
        created_at)
