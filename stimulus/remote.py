"""Start a stimulus protocol on this computer when the control panel asks over ZeroMQ.

    main.py stimulus-control --bind tcp://127.0.0.1:5570      (or python -m stimulus.remote)

A REP socket takes one JSON request at a time and answers at once:

    {"cmd": "protocols"}                       -> {"ok": true, "protocols": [...]}
    {"cmd": "start", "protocol": "infant_face_rating", "endpoint": "tcp://HOST:5556",
     "speed": 1, "simulate": false, "windowed": false}
                                               -> {"ok": true, "pid": 1234}
    {"cmd": "status"}                          -> {"ok": true, "running": true, "returncode": null, ...}
    {"cmd": "stop"}                            -> {"ok": true}

The task itself is ``main.py stimulus`` in a child process, exactly as an
experimenter would start it here, so its markers go to the marker server at
``endpoint`` and the panel follows its progress from those markers. Only one
task runs at a time. Binding anything but loopback needs ``--allow-network``.

Requests come from the network, so they are bounded: a request is at most
``MAX_REQUEST`` bytes, JSON nested at most ``MAX_DEPTH`` deep, a protocol
is a name (no path), and ``events_tsv`` must lie inside an ``--events-root``
folder. No request can stop the serving thread. SIGTERM, like Ctrl-C, ends
the running task before this process exits, so no task is left orphaned.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zmq

from configs.paths import confine
from sync.protocol import check_endpoint

log = logging.getLogger(__name__)

DEFAULT_CONTROL = "tcp://127.0.0.1:5570"
MAIN = Path(__file__).resolve().parents[1] / "main.py"
DEFAULT_EVENTS_ROOT = Path("recordings")  # where the control panel puts recordings and their events
MAX_REQUEST = 64 * 1024  # bytes; a start request is a few hundred
MAX_DEPTH = 8  # a request is a flat object; deeper nesting is refused before parsing


def json_depth(raw: bytes) -> int:
    """How deeply ``raw`` nests arrays and objects (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_request(raw: bytes) -> dict[str, Any]:
    """One request, bounded in size and nesting; ValueError says what is wrong."""
    if len(raw) > MAX_REQUEST:
        raise ValueError(f"request of {len(raw)} bytes refused (at most {MAX_REQUEST})")
    if json_depth(raw) > MAX_DEPTH:
        raise ValueError(f"request nested deeper than {MAX_DEPTH} levels refused")
    request = json.loads(raw)
    if not isinstance(request, dict):
        raise ValueError("a request must be a JSON object")
    return request


def task_command(request: dict[str, Any], events_roots: Sequence[Path] = (DEFAULT_EVENTS_ROOT,)) -> list[str]:
    """The ``main.py stimulus`` command line for a start request (raises ValueError on bad fields)."""
    protocol = request.get("protocol")
    if not isinstance(protocol, str) or not protocol:
        raise ValueError("start: 'protocol' must name a protocol")
    if protocol.startswith("-") or any(c in protocol for c in "/\\\0:"):
        raise ValueError(f"start: 'protocol' must be a protocol name, not a path or option: {protocol[:80]!r}")
    endpoint = request.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("tcp://"):
        raise ValueError("start: 'endpoint' must be the marker server's tcp:// address")
    speed = request.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed > 0:
        raise ValueError(f"start: 'speed' must be a number above 0, got {speed!r}")
    cmd = [sys.executable, str(MAIN), "stimulus", f"--protocol={protocol}", f"--endpoint={endpoint}",
           "--speed", repr(float(speed))]
    if request.get("windowed", False):
        cmd.append("--windowed")
    if request.get("simulate", False):
        cmd.append("--simulate-participant")
    events = request.get("events_tsv")
    if isinstance(events, str) and events:
        if not events.lower().endswith(".tsv"):
            raise ValueError(f"start: 'events_tsv' must end in .tsv, got {events[:200]!r}")
        cmd.append(f"--events-tsv={confine(events, events_roots, 'start: events_tsv')}")
    elif events not in (None, ""):
        raise ValueError("start: 'events_tsv' must be a path")
    return cmd


class StimulusControl:
    """The control endpoint: one thread owns the socket and the task's child process."""

    def __init__(self, endpoint: str = DEFAULT_CONTROL, *, allow_network: bool = False,
                 events_roots: Sequence[Path] = (DEFAULT_EVENTS_ROOT,)) -> None:
        self.requested = check_endpoint(endpoint, allow_network)
        self.events_roots = [Path(r) for r in events_roots]
        self.endpoint = ""
        self.process: subprocess.Popen | None = None
        self.protocol = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)

    def start(self) -> StimulusControl:
        self._sock.bind(self.requested)
        self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._thread = threading.Thread(target=self._serve, name="stimulus-control", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and end a running task."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self._end_task()
        self._ctx.term()

    def _serve(self) -> None:
        sock = self._sock
        try:
            while not self._stop.is_set():
                if not sock.poll(100):
                    continue
                raw = sock.recv()
                try:
                    reply = self.handle(parse_request(raw))
                except ValueError as exc:
                    reply = {"ok": False, "error": str(exc)}
                except Exception as exc:  # whatever a request does, the endpoint keeps answering
                    log.exception("stimulus control: a request failed")
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                sock.send(json.dumps(reply).encode())
        finally:
            sock.close()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "protocols":
            from stimulus.protocol import available_protocols
            return {"ok": True, "protocols": available_protocols()}
        if cmd == "status":
            p = self.process
            return {"ok": True, "protocol": self.protocol, "running": p is not None and p.poll() is None,
                    "returncode": None if p is None else p.poll()}
        if cmd == "start":
            if self.process is not None and self.process.poll() is None:
                return {"ok": False, "error": f"a task is already running ({self.protocol})"}
            command = task_command(request, self.events_roots)
            log.info("starting %s", " ".join(command))
            self.process = subprocess.Popen(command, cwd=MAIN.parent, stdin=subprocess.DEVNULL)
            self.protocol = request["protocol"]
            return {"ok": True, "pid": self.process.pid}
        if cmd == "stop":
            self._end_task()
            return {"ok": True}
        raise ValueError(f"unknown cmd {cmd!r} (protocols, start, status, stop)")

    def _end_task(self) -> None:
        p = self.process
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5.0)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(2.0)


def request(endpoint: str, message: dict[str, Any], timeout: float = 3.0) -> dict[str, Any]:
    """Send one request to a control endpoint; raises TimeoutError if nobody answers."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send(json.dumps(message).encode())
        if not sock.poll(int(timeout * 1000)):
            raise TimeoutError(f"no answer from the stimulus computer at {endpoint} within {timeout:g} s")
        return json.loads(sock.recv())
    finally:
        sock.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default=DEFAULT_CONTROL, help=f"control endpoint (default {DEFAULT_CONTROL})")
    parser.add_argument("--allow-network", action="store_true", help="allow a non-loopback --bind")
    parser.add_argument("--events-root", type=Path, action="append", default=[],
                        help=f"folder a request may write its events TSV into (repeatable; default "
                             f"{DEFAULT_EVENTS_ROOT}/)")


def run(args: argparse.Namespace) -> int:
    """Serve start/stop requests until Ctrl-C."""
    from configs import use_lsl_config

    use_lsl_config()
    logging.getLogger(__name__).setLevel(logging.INFO)
    roots = args.events_root or [DEFAULT_EVENTS_ROOT]
    try:
        control = StimulusControl(args.bind, allow_network=args.allow_network, events_roots=roots).start()
    except (ValueError, zmq.ZMQError) as exc:
        print(f"stimulus control: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()

    def end(signum, frame) -> None:
        done.set()

    signal.signal(signal.SIGINT, end)
    signal.signal(signal.SIGTERM, end)  # a service manager's stop must not orphan the task
    print(f"stimulus control listening on {control.endpoint}; Ctrl-C ends", file=sys.stderr, flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        control.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stimulus.remote", description=__doc__.splitlines()[0])
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
