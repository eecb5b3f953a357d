"""Finding LSL streams: predicates, identity, and the required-stream check.

Queries are LSL XPath 1.0 predicates, as LabRecorderCLI takes them
(``type='GSR'``, ``starts-with(source_id,'lab-')``). liblsl silently matches
nothing for a malformed predicate, so every predicate is compiled with lxml
first and a typo is reported instead of recording an empty file.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pylsl
from lxml import etree


class QueryError(ValueError):
    """A stream predicate is not valid XPath; the message quotes it."""


def check_predicate(predicate: str) -> etree.XPath:
    try:
        return etree.XPath(f"/info[{predicate}]")
    except etree.XPathError as exc:
        raise QueryError(f"bad stream query {predicate!r}: {exc}") from exc


def combine(queries: list[str]) -> str | None:
    """One predicate matching any of the queries (None: every stream)."""
    for query in queries:
        check_predicate(query)
    if not queries:
        return None
    return " or ".join(f"({q})" for q in queries)


def selection(queries: list[str], exclude: list[str] | None = None) -> str | None:
    """One predicate: any of ``queries`` and none of ``exclude`` (None: every stream)."""
    include = combine(queries)
    for predicate in exclude or []:
        check_predicate(predicate)
    parts = ([f"({include})"] if include else []) + [f"not({p})" for p in exclude or []]
    return " and ".join(parts) or None


def matches(info_xml: str, predicate: str) -> bool:
    """Whether a stream's info XML satisfies a predicate (evaluated here, not by liblsl)."""
    root = etree.fromstring(info_xml.encode("utf-8"))
    return bool(check_predicate(predicate)(root))


@dataclass(frozen=True)
class StreamKey:
    """Identity of a stream across restarts of its source.

    A stream with a source_id is the same stream when its source restarts on
    the same host (liblsl's inlet recovers it); without one, each run of
    the source is a new stream. Two hosts with same-named streams stay apart.
    """

    hostname: str
    source_id: str
    uid: str

    @classmethod
    def of(cls, info: pylsl.StreamInfo) -> StreamKey:
        source_id = info.source_id()
        return cls(info.hostname(), source_id, "" if source_id else info.uid())


def shared_source_ids(infos: list[pylsl.StreamInfo]) -> dict[StreamKey, list[pylsl.StreamInfo]]:
    """Different outlets that claim one identity (same host and source_id): only one can be recorded."""
    by_key: dict[StreamKey, dict[str, pylsl.StreamInfo]] = {}
    for info in infos:
        key = StreamKey.of(info)
        if key.source_id:
            by_key.setdefault(key, {})[info.uid()] = info
    return {key: list(outlets.values()) for key, outlets in by_key.items() if len(outlets) > 1}


def shared_warning(key: StreamKey, infos: list[pylsl.StreamInfo]) -> str:
    names = ", ".join(sorted(info.name() for info in infos))
    return (f"{len(infos)} streams share source_id {key.source_id!r} on {key.hostname} ({names}): only one of them "
            "is recorded. Give each source its own source_id (devices.yaml), or stop one of them.")


def describe(info: pylsl.StreamInfo) -> str:
    return f"{info.name()} ({info.type()}, {info.channel_count()} ch @ {info.nominal_srate():g} Hz, {info.hostname()})"


def resolve(queries: list[str], wait: float = 1.0, stop: threading.Event | None = None) -> list[pylsl.StreamInfo]:
    """Streams visible now that match any query; a set ``stop`` cuts the wait short (Ctrl-C)."""
    predicate = combine(queries)
    if stop is not None:
        resolver = pylsl.ContinuousResolver(pred=predicate) if predicate else pylsl.ContinuousResolver()
        deadline = time.monotonic() + wait
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            # short waits: a signal that lands on one of liblsl's threads is only handled when
            # the main thread wakes up, so Ctrl-C takes effect within 0.1 s
            stop.wait(min(0.1, left))
        return resolver.results()
    if predicate is None:
        return pylsl.resolve_streams(wait)
    return pylsl.resolve_bypred(predicate, 0, wait)


def missing_required(found: list[pylsl.StreamInfo], required: list[str]) -> list[str]:
    """The required predicates that no found stream satisfies."""
    xmls = [info.as_xml() for info in found]
    return [req for req in required if not any(matches(xml, req) for xml in xmls)]
