"""Recorder benchmark: Attune and LabRecorderCLI record the same sources at the same time.

    .venv/bin/python bench/bench_recorder.py [--seconds 30] [--scenario lab|heavy|all]

Per scenario, one source process publishes synthetic LSL streams with known
per-sample stamps and logs every push (bench/recorder_sources.py). Attune
(``main.py record``) and LabRecorderCLI are started side by side on the
same streams, run for ``--seconds`` once both are recording, and are asked
to stop at the same moment (SIGINT and a newline on stdin). Then:

- CPU: user+sys of the recorder process and its reaped children (wait4),
  per recorded second, for the whole process and for the recording alone
  (CPU read from /proc when the recorder reports that it records);
- peak RSS (ru_maxrss);
- samples lost inside the recorded window and at the tail (XDF read with
  pyxdf against the sources' push log, bench/recorder_losses.py);
- exit time: stop request to process exit.

Ratios are Attune / LabRecorderCLI. Files go to bench/out/ (git-ignored);
recordings are deleted after the analysis unless --keep is given.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from configs import LOOPBACK_LSL_CONFIG, use_lsl_config  # noqa: E402

use_lsl_config(LOOPBACK_LSL_CONFIG)

import pylsl  # noqa: E402
from recorder_labrecorder import LabRecorderMissing, prepare  # noqa: E402
from recorder_losses import StreamLoss, load_push_logs, losses  # noqa: E402
from recorder_sources import SCENARIOS, stream_names  # noqa: E402

OUT_DIR = REPO / "bench" / "out"
SOURCES_SCRIPT = REPO / "bench" / "recorder_sources.py"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 20.0
EXIT_TIMEOUT = 30.0


# -- processes -------------------------------------------------------------
def lsl_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every LSL process here: loopback-only discovery."""
    env = dict(os.environ, LSLAPICFG=str(LOOPBACK_LSL_CONFIG), PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def proc_cpu_seconds(pid: int) -> float | None:
    """user+sys of a live process and its reaped children, from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / CLOCK_TICK


@dataclass
class Usage:
    """What a recorder process cost and how it ended."""

    exit_code: int | None = None
    cpu_total: float = 0.0
    cpu_at_start: float = 0.0
    peak_rss_mb: float = 0.0


class RecorderProcess:
    """One recorder subprocess: output lines, start/stop/exit times and resource use."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], start_marker: str,
                 stop_action: Callable[[subprocess.Popen], None]) -> None:
        self.label = label
        self.argv = argv
        self.env = env
        self.start_marker = start_marker
        self.stop_action = stop_action
        self.lines: list[str] = []
        self.launched_at = 0.0
        self.started_at: float | None = None
        self.stop_at: float | None = None
        self.exited_at: float | None = None
        self.usage = Usage()
        self.started = threading.Event()
        self.exited = threading.Event()
        self.proc: subprocess.Popen | None = None

    def launch(self) -> None:
        self.launched_at = pylsl.local_clock()
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for pipe in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._read, args=(pipe,), daemon=True).start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _read(self, pipe) -> None:
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if self.start_marker in line and not self.started.is_set():
                self.started_at = pylsl.local_clock()
                self.usage.cpu_at_start = proc_cpu_seconds(self.proc.pid) or 0.0
                self.started.set()

    def _wait(self) -> None:
        """Reap the process with wait4, which gives its exact CPU time and peak RSS."""
        _, status, rusage = os.wait4(self.proc.pid, 0)
        self.exited_at = pylsl.local_clock()
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.usage.exit_code = self.proc.returncode
        self.usage.cpu_total = rusage.ru_utime + rusage.ru_stime
        self.usage.peak_rss_mb = rusage.ru_maxrss / 1024
        self.exited.set()

    def request_stop(self) -> None:
        self.stop_at = pylsl.local_clock()
        self.stop_action(self.proc)

    def kill(self) -> None:
        if not self.exited.is_set():
            self.proc.kill()
            self.exited.wait(5.0)

    def tail_output(self, n: int = 15) -> str:
        return "\n".join(f"    {line}" for line in self.lines[-n:])


def send_sigint(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)


def send_newline(proc: subprocess.Popen) -> None:
    proc.stdin.write(b"\n")
    proc.stdin.flush()


def attune_process(xdf: Path, names: list[str]) -> RecorderProcess:
    argv = [sys.executable, str(REPO / "main.py"), "record", "--out", str(xdf), "--markers", "off"]
    for name in names:
        argv += ["--query", f"name='{name}'", "--require", f"name='{name}'"]
    return RecorderProcess("Attune", argv, lsl_env(), "recording to", send_sigint)


def labrecorder_process(binary: Path, env_extra: dict[str, str], xdf: Path, names: list[str]) -> RecorderProcess:
    argv = [str(binary), str(xdf), *(f"name='{name}'" for name in names)]
    return RecorderProcess("LabRecorderCLI", argv, lsl_env(env_extra), "Starting the recording", send_newline)


class Sources:
    """The source process of one scenario."""

    def __init__(self, scenario: str, prefix: str, log: Path) -> None:
        argv = [sys.executable, str(SOURCES_SCRIPT), "--scenario", scenario, "--prefix", prefix, "--log", str(log)]
        self.log = log
        self.proc = subprocess.Popen(argv, cwd=REPO, env=lsl_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def wait_ready(self) -> None:
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"sources did not start: {line!r}")

    def stop(self) -> None:
        """Stop pushing and wait for the push log."""
        self.proc.stdin.close()
        self.proc.wait(30)
        if self.proc.returncode != 0 or not self.log.exists():
            raise RuntimeError(f"sources exited with {self.proc.returncode}, no push log")


# -- one run ---------------------------------------------------------------
@dataclass
class RecorderResult:
    label: str
    recorded_seconds: float
    cpu_total: float
    cpu_recording: float
    peak_rss_mb: float
    exit_seconds: float
    exit_code: int | None
    streams: list[StreamLoss] = field(default_factory=list)
    error: str | None = None

    @property
    def cpu_per_s_total(self) -> float:
        return self.cpu_total / self.recorded_seconds if self.recorded_seconds else float("nan")

    @property
    def cpu_per_s_recording(self) -> float:
        return self.cpu_recording / self.recorded_seconds if self.recorded_seconds else float("nan")

    @property
    def lost_inside(self) -> int:
        return sum(s.inside for s in self.streams)

    @property
    def lost_tail(self) -> int:
        return sum(s.tail for s in self.streams)

    @property
    def tail_seconds(self) -> float:
        return max((s.tail_seconds for s in self.streams), default=0.0)

    @property
    def extra(self) -> int:
        return sum(s.extra for s in self.streams)


def wait_both_started(recorders: list[RecorderProcess]) -> None:
    """Until every recorder reports that it records; a recorder that exits first is an error."""
    deadline = time.monotonic() + START_TIMEOUT
    for rec in recorders:
        while not rec.started.wait(0.05):
            if rec.exited.is_set() or time.monotonic() > deadline:
                raise RuntimeError(f"{rec.label} did not start recording "
                                   f"(exit code {rec.usage.exit_code}):\n{rec.tail_output()}")


def record_side_by_side(recorders: list[RecorderProcess], seconds: float) -> None:
    """Start all recorders, record ``seconds`` once all record, stop them at the same moment."""
    try:
        for rec in recorders:
            rec.launch()
        wait_both_started(recorders)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            for rec in recorders:
                if rec.exited.is_set():
                    raise RuntimeError(f"{rec.label} exited while recording:\n{rec.tail_output()}")
        for rec in recorders:
            rec.request_stop()
        for rec in recorders:
            if not rec.exited.wait(EXIT_TIMEOUT):
                rec.lines.append(f"(killed: no exit {EXIT_TIMEOUT:.0f} s after stop)")
    finally:
        for rec in recorders:
            if rec.proc is not None:
                rec.kill()


def result_of(rec: RecorderProcess, xdf: Path, logs, prefix: str) -> RecorderResult:
    """Figures of one recorder after the run."""
    start = rec.started_at or rec.launched_at
    stop = rec.stop_at or start
    result = RecorderResult(
        rec.label, stop - start, rec.usage.cpu_total, rec.usage.cpu_total - rec.usage.cpu_at_start,
        rec.usage.peak_rss_mb, (rec.exited_at or stop) - stop, rec.usage.exit_code)
    try:
        result.streams = losses(xdf, logs, prefix, start, stop)
    except Exception as exc:  # a damaged file is a result, not a crash of the benchmark
        result.error = f"cannot read {xdf.name}: {type(exc).__name__}: {exc}"
    if rec.usage.exit_code not in (0, None):
        result.error = (result.error or "") + f" exit code {rec.usage.exit_code}"
    return result


def run_scenario(scenario: str, seconds: float, labrecorder: tuple[Path, dict[str, str]],
                 keep: bool) -> list[RecorderResult]:
    """Sources, then both recorders side by side; returns [Attune, LabRecorderCLI]."""
    prefix = f"bench{secrets.token_hex(4)}"
    names = stream_names(scenario, prefix)
    files = {label: OUT_DIR / f"{prefix}_{label}.xdf" for label in ("attune", "labrecorder")}
    log = OUT_DIR / f"{prefix}_sources.npz"
    recorders = [attune_process(files["attune"], names),
                 labrecorder_process(labrecorder[0], labrecorder[1], files["labrecorder"], names)]
    sources = Sources(scenario, prefix, log)
    try:
        sources.wait_ready()
        record_side_by_side(recorders, seconds)
    finally:
        sources.stop()
    logs = load_push_logs(log)
    results = [result_of(rec, files[key], logs, prefix) for rec, key in zip(recorders, files)]
    if not keep:
        for path in (*files.values(), log):
            path.unlink(missing_ok=True)
    return results


# -- report ----------------------------------------------------------------
def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def report(scenario: str, seconds: float, results: list[RecorderResult], verbose: bool) -> str:
    """A side-by-side table of both recorders and the Attune/LabRecorderCLI ratios."""
    att, lr = results
    rows = [
        ("recorded s", f"{att.recorded_seconds:.1f}", f"{lr.recorded_seconds:.1f}", ""),
        ("CPU s/s, whole process", f"{att.cpu_per_s_total:.4f}", f"{lr.cpu_per_s_total:.4f}",
         ratio(att.cpu_per_s_total, lr.cpu_per_s_total)),
        ("CPU s/s, while recording", f"{att.cpu_per_s_recording:.4f}", f"{lr.cpu_per_s_recording:.4f}",
         ratio(att.cpu_per_s_recording, lr.cpu_per_s_recording)),
        ("peak RSS MB", f"{att.peak_rss_mb:.1f}", f"{lr.peak_rss_mb:.1f}", ratio(att.peak_rss_mb, lr.peak_rss_mb)),
        ("lost inside (samples)", str(att.lost_inside), str(lr.lost_inside), ""),
        ("lost at tail (samples)", str(att.lost_tail), str(lr.lost_tail), ""),
        ("lost at tail (s, worst stream)", f"{att.tail_seconds:.3f}", f"{lr.tail_seconds:.3f}", ""),
        ("extra or duplicate samples", str(att.extra), str(lr.extra), ""),
        ("exit after stop (s)", f"{att.exit_seconds:.2f}", f"{lr.exit_seconds:.2f}", ""),
    ]
    lines = [f"== {scenario}: {len(SCENARIOS[scenario])} streams, {seconds:g} s",
             f"{'':32}{'Attune':>12}{'LabRecorder':>13}{'ratio':>8}"]
    lines += [f"{name:32}{a:>12}{b:>13}{r:>8}" for name, a, b, r in rows]
    for res in results:
        if res.error:
            lines.append(f"  {res.label}: ERROR {res.error}")
        for s in res.streams:
            if verbose or s.inside or s.tail or s.extra or s.missing:
                lines.append(f"  {res.label:15} {s.name:28} recorded {s.recorded:7} inside {s.inside:5} "
                             f"tail {s.tail:5} extra {s.extra:3}" + ("  MISSING" if s.missing else ""))
    return "\n".join(lines)


def as_json(scenario: str, seconds: float, results: list[RecorderResult]) -> dict:
    """The figures of one scenario, for --json."""
    out = {"scenario": scenario, "seconds": seconds, "recorders": []}
    for res in results:
        item = asdict(res)
        item.update(cpu_per_s_total=res.cpu_per_s_total, cpu_per_s_recording=res.cpu_per_s_recording,
                    lost_inside=res.lost_inside, lost_tail=res.lost_tail, tail_seconds=res.tail_seconds)
        out["recorders"].append(item)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Attune vs LabRecorderCLI, side by side on the same LSL sources")
    parser.add_argument("--seconds", type=float, default=30.0, help="recording length per scenario (default 30)")
    parser.add_argument("--scenario", choices=["lab", "heavy", "all"], default="all")
    parser.add_argument("--keep", action="store_true", help="keep the XDF files and push logs in bench/out/")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--verbose", "-v", action="store_true", help="per-stream figures for every stream")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    try:
        labrecorder = prepare(OUT_DIR)
    except LabRecorderMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scenarios = ["lab", "heavy"] if args.scenario == "all" else [args.scenario]
    print(f"liblsl {pylsl.library_version()} (Attune, via pylsl {pylsl.__version__}); "
          f"LSLAPICFG={LOOPBACK_LSL_CONFIG}", flush=True)
    collected = []
    for scenario in scenarios:
        results = run_scenario(scenario, args.seconds, labrecorder, args.keep)
        print(report(scenario, args.seconds, results, args.verbose), flush=True)
        collected.append(as_json(scenario, args.seconds, results))
    if args.json:
        args.json.write_text(json.dumps(collected, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
