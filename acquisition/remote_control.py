"""LabRecorder's remote control, so experiment scripts written for it drive Attune unchanged.

LabRecorder listens on TCP port 22345 for one command per line:

    select all | select none | update | start | stop
    filename {root:C:\\data} {template:exp%n\\%p_%b.xdf} {participant:P01} {session:1}
             {task:rating} {run:2} {acquisition:a} {modality:eeg}

Attune takes the same lines. Where LabRecorder answers "OK" to anything,
Attune answers "OK" when the command did what it says and
"ERROR: <reason>" when it did not (bad field, nothing selected, already
recording), so a script that reads the reply learns of the problem and a
script that ignores it still works. ``status`` (an Attune addition)
answers "recording <file> <seconds> s <streams> streams" or "idle". As in
LabRecorder, an existing file is renamed aside (``*_oldN.xdf``), never
overwritten, and a recording records every selected stream, including
streams that appear after ``start``.
"""
from __future__ import annotations

import logging
import re
import socket
import socketserver
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from acquisition.discovery import resolve
from acquisition.naming import BIDS_TEMPLATE, NamingError, SessionFields, bids_path, prepare_output
from acquisition.recorder import Recorder
from sync.protocol import DEFAULT_ENDPOINT
from sync.server import MarkerServer
from sync.streams import RELAY_PREDICATE

log = logging.getLogger(__name__)

DEFAULT_PORT = 22345
FIELD_RE = re.compile(r"\{(\w+):([^}]*)\}")
SESSION_KEYS = {"participant": "participant", "session": "session", "task": "task", "run": "run",
                "acquisition": "acquisition", "modality": "modality"}


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # a restarted server takes its port back at once
    daemon_threads = True


class CommandError(ValueError):
    """A command that cannot be carried out; its message is the reply."""


@dataclass
class RecorderState:
    """What the next ``start`` will record, and the recording in progress."""

    root: Path
    template: str = BIDS_TEMPLATE
    fields: SessionFields = field(default_factory=SessionFields)
    select_all: bool = True
    recorder: Recorder | None = None
    markers: MarkerServer | None = None


class RemoteControl:
    """Runs recordings on command; one command at a time, from any number of clients."""

    def __init__(self, root: Path, marker_endpoint: str | None = DEFAULT_ENDPOINT,
                 host: str = "127.0.0.1", port: int = DEFAULT_PORT, wait: float = 1.0) -> None:
        self.state = RecorderState(Path(root))
        self.marker_endpoint = marker_endpoint
        self.wait = wait
        self._lock = threading.Lock()
        control = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for raw in self.rfile:
                    line = raw.decode("utf-8", errors="replace").strip()
                    if line:
                        self.wfile.write((control.execute(line) + "\n").encode())

        self.server = _Server((host, port), Handler)
        self.address = self.server.server_address
        self._thread: threading.Thread | None = None

    def start(self) -> RemoteControl:
        self._thread = threading.Thread(target=self.server.serve_forever, name="remote-control", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening; a recording in progress is finished properly first."""
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            if self.state.recorder is not None:
                self._stop()

    # -- commands --------------------------------------------------------
    def execute(self, line: str) -> str:
        """Carry out one command line and return the reply."""
        words = line.split(None, 1)
        verb, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
        with self._lock:
            try:
                if verb == "select" and rest.strip().lower() in ("all", "none"):
                    self.state.select_all = rest.strip().lower() == "all"
                    return "OK"
                if verb == "update":
                    return "OK"  # streams are found continuously; nothing to refresh
                if verb == "filename":
                    self._filename(rest)
                    return "OK"
                if verb == "start":
                    self._start()
                    return "OK"
                if verb == "stop":
                    self._stop()
                    return "OK"
                if verb == "status":
                    return self._status()
                raise CommandError(f"unknown command {line!r} (select all|none, update, filename, "
                                   "start, stop, status)")
            except (CommandError, NamingError, OSError) as exc:
                log.warning("remote control: %s: %s", line, exc)
                return f"ERROR: {exc}"

    def _filename(self, rest: str) -> None:
        pairs = FIELD_RE.findall(rest)
        if not pairs or FIELD_RE.sub("", rest).strip():
            raise CommandError(f"filename: expected {{key:value}} pairs, got {rest!r}")
        state, fields = self.state, self.state.fields
        for key, value in pairs:
            if key == "root":
                state.root = Path(value)
            elif key == "template":
                state.template = value.replace("\\", "/").replace("%n", "%r")
            elif key in SESSION_KEYS:
                fields = replace(fields, **{SESSION_KEYS[key]: value})
            else:
                raise CommandError(f"filename: unknown field {key!r} (root, template, participant, "
                                   "session, task, run, acquisition, modality)")
        fields.check()
        state.fields = fields

    def _start(self) -> Path:
        state = self.state
        if state.recorder is not None:
            raise CommandError(f"already recording to {state.recorder.path}")
        if not state.select_all:
            raise CommandError("no streams selected ('select all' first)")
        path = prepare_output(bids_path(state.root, state.fields, state.template), on_exists="rename")
        exclude = [RELAY_PREDICATE] if self.marker_endpoint else []
        recorder = Recorder(path, [], exclude=exclude)
        recorder.start(resolve([], self.wait))
        if self.marker_endpoint:
            try:
                state.markers = MarkerServer(recorder, self.marker_endpoint).start()
            except Exception as exc:  # the signals still record; say that markers do not
                log.error("markers will not be recorded: %s", exc)
        state.recorder = recorder
        log.info("recording to %s", path)
        return path

    def _stop(self) -> Path:
        state = self.state
        if state.recorder is None:
            raise CommandError("not recording")
        if state.markers is not None:
            state.markers.close()
            state.markers = None
        state.recorder.stop()
        path, state.recorder = state.recorder.path, None
        log.info("saved %s", path)
        return path

    def _status(self) -> str:
        recorder = self.state.recorder
        if recorder is None:
            return "idle"
        return f"recording {recorder.path} {recorder.elapsed:.1f} s {len(recorder.status())} streams"


def send(command: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout: float = 10.0) -> str:
    """One command and its reply (what a lab script does with a socket)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(command.encode() + b"\n")
        return sock.makefile("r").readline().strip()
