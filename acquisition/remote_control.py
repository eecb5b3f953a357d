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

Attune is stricter than LabRecorder where a network client could do harm:
every file a command names must lie inside ``--root`` (or an
``--allow-root`` folder); ``..``, absolute templates and other roots are
refused. A line is at most ``MAX_LINE`` bytes. Listening beyond loopback
needs a shared token: the client's first line is then ``auth <token>``.
Recording goes through ``acquisition.service``, so a busy marker port is
a failed ``start`` (``ERROR: ...``, nothing recorded) and a disk fault
stops the recording and is reported by ``status`` and ``stop``.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import socket
import socketserver
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from acquisition.discovery import resolve
from acquisition.naming import BIDS_TEMPLATE, NamingError, SessionFields, render
from acquisition.service import FAILED, RecordingError, RecordingService
from configs.paths import PathError, confine, relative_parts

log = logging.getLogger(__name__)

DEFAULT_PORT = 22345
MAX_LINE = 8192  # bytes; LabRecorder's commands are a few hundred at most
FIELD_RE = re.compile(r"\{(\w+):([^}]*)\}")
SESSION_KEYS = {"participant": "participant", "session": "session", "task": "task", "run": "run",
                "acquisition": "acquisition", "modality": "modality"}


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # a restarted server takes its port back at once
    daemon_threads = True


class CommandError(ValueError):
    """A command that cannot be carried out; its message is the reply."""


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def shown(line: str, limit: int = 80) -> str:
    """A command as quoted in a reply or log: never the whole of a huge line."""
    return repr(line if len(line) <= limit else line[:limit] + "...")


@dataclass
class RecorderState:
    """What the next ``start`` will record."""

    root: Path
    template: str = BIDS_TEMPLATE
    fields: SessionFields = field(default_factory=SessionFields)
    select_all: bool = True


class RemoteControl:
    """Runs recordings on command; one command at a time, from any number of clients."""

    def __init__(self, root: Path, marker_endpoint: str | None = "tcp://127.0.0.1:5556",
                 host: str = "127.0.0.1", port: int = DEFAULT_PORT, wait: float = 1.0, *,
                 allow_roots: Sequence[Path] = (), token: str | None = None) -> None:
        if not is_loopback(host) and not token:
            raise ValueError(f"--host {host} lets other computers send commands: give a shared token "
                             "(--token-file) so only your scripts can")
        self.state = RecorderState(Path(root))
        self.roots = [Path(root), *map(Path, allow_roots)]
        self.service = RecordingService(marker_endpoint)
        self.token = token
        self.wait = wait
        self._lock = threading.Lock()
        control = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                trusted = not control.token
                while True:
                    raw = self.rfile.readline(MAX_LINE + 1)
                    if not raw:
                        return
                    if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                        self.wfile.write(f"ERROR: line longer than {MAX_LINE} bytes; closing\n".encode())
                        log.warning("remote control: a line over %d bytes from %s; connection closed",
                                    MAX_LINE, self.client_address[0])
                        return
                    line = raw.decode("utf-8", errors="replace").strip()
                    if not trusted:
                        trusted, reply = control.authenticate(line)
                    else:
                        reply = control.execute(line)
                    self.wfile.write((reply + "\n").encode())

        self.server = _Server((host, port), Handler)
        self.address = self.server.server_address
        self._thread: threading.Thread | None = None

    def start(self) -> RemoteControl:
        self._thread = threading.Thread(target=self.server.serve_forever, name="remote-control", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening; a recording in progress is finished properly first."""
        if self._thread is not None:
            self.server.shutdown()
        self.server.server_close()
        with self._lock:
            if self.service.recording:
                self.service.stop()

    def authenticate(self, line: str) -> tuple[bool, str]:
        """The first line of a connection to a networked server: ``auth <token>``."""
        verb, _, token = line.partition(" ")
        if verb.lower() == "auth" and self.token and hmac.compare_digest(token.strip().encode(),
                                                                         self.token.encode()):
            return True, "OK"
        log.warning("remote control: a command without the token was refused")
        return False, "ERROR: authenticate first: auth <token>"

    # -- commands --------------------------------------------------------
    def execute(self, line: str) -> str:
        """Carry out one command line and return the reply."""
        words = line.split(None, 1)
        if not words:
            return "ERROR: empty command (select all|none, update, filename, start, stop, status)"
        verb, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
        with self._lock:
            try:
                if "\0" in line:
                    raise CommandError("a command must not contain NUL bytes")
                if verb == "auth":
                    return "OK"  # already trusted (or no token needed)
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
                raise CommandError(f"unknown command {shown(line)} (select all|none, update, filename, "
                                   "start, stop, status)")
            except (CommandError, NamingError, PathError, RecordingError, OSError) as exc:
                log.warning("remote control: %s: %s", shown(line), exc)
                return f"ERROR: {exc}"

    def _filename(self, rest: str) -> None:
        pairs = FIELD_RE.findall(rest)
        if not pairs or FIELD_RE.sub("", rest).strip():
            raise CommandError(f"filename: expected {{key:value}} pairs, got {shown(rest)}")
        state = self.state
        root, template, fields = state.root, state.template, state.fields
        for key, value in pairs:
            if key == "root":
                root = confine(value, self.roots, "filename {root}")
            elif key == "template":
                template = "/".join(relative_parts(value, "filename {template}")).replace("%n", "%r")
            elif key in SESSION_KEYS:
                fields = replace(fields, **{SESSION_KEYS[key]: value})
            else:
                raise CommandError(f"filename: unknown field {shown(key)} (root, template, participant, "
                                   "session, task, run, acquisition, modality)")
        fields.check()
        self._target(root, template, fields)  # refused now, not at start
        state.root, state.template, state.fields = root, template, fields

    def _target(self, root: Path, template: str, fields: SessionFields) -> Path:
        """The file these settings name, which must lie inside the allowed folders."""
        name = render(template, fields)
        return confine(Path(root) / Path(*relative_parts(name, "file name")), self.roots, "recording file")

    def _start(self) -> Path:
        state = self.state
        if self.service.recording:
            raise CommandError(f"already recording to {self.service.recorder.path}")
        if not state.select_all:
            raise CommandError("no streams selected ('select all' first)")
        path = self._target(state.root, state.template, state.fields)
        return self.service.start(path, [], resolve([], self.wait), on_exists="rename")

    def _stop(self) -> Path:
        result = self.service.stop()
        if result.error:
            raise CommandError(result.error)
        return result.path

    def _status(self) -> str:
        status = self.service.status()
        if status.state == FAILED and self.service.uncollected:
            raise CommandError(status.error)
        if status.state != "recording":
            return "idle"
        reply = f"recording {status.path} {status.elapsed:.1f} s {len(status.rows)} streams"
        return reply + (f" (warning: {status.warning})" if status.warning else "")


def send(command: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout: float = 10.0) -> str:
    """One command and its reply (what a lab script does with a socket)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(command.encode() + b"\n")
        return sock.makefile("r").readline().strip()
