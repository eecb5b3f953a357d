"""Shimmer3 GSR+ over its serial port, through ``pyshimmer``, converted to microsiemens.

pyshimmer speaks the LogAndStream firmware's Bluetooth protocol (RFCOMM, or
the USB dock's serial port) and hands us raw GSR words. The conversion is
Shimmer's own (SensorGSR in the Shimmer Java/C# APIs): the top two bits are
the range, whose feedback resistor is 40.2 k, 287 k, 1 M or 3.3 M ohm; the
low 12 bits are the ADC code on a 3.0 V reference; skin resistance is
R_f / (V / 0.5 V - 1). Codes at or below the 0.5 V amplifier reference
(open electrodes) give NaN rather than a made-up conductance.

Stamps come from the Shimmer's own 32768 Hz tick counter (24 bits, unwrapped),
mapped onto the LSL clock by the smallest arrival delay seen in the last
10 s: Bluetooth delivers packets in bursts, the crystal does not, and the
sliding minimum follows the drift between the two clocks. A packet lost on
the air therefore shows as a gap, not as a squeezed interval.

pyshimmer waits forever for answers and ends its reader thread on the first
byte it cannot place, so the handshake runs with a deadline and the reader's
failure is kept and turned into a clear message; SerialGSRDevice then
reconnects.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable

import numpy as np
import pylsl

from devices.serial_gsr import DeviceGone, SerialGSRDevice

REF_RESISTORS_KOHM = np.array([40.2, 287.0, 1000.0, 3300.0])  # Shimmer3 GSR+ ranges 0..3
ADC_VREF = 3.0
AMPLIFIER_VREF = 0.5
HANDSHAKE_SECONDS = 5.0
TICKS_PER_SECOND = 32768.0
TICK_WRAP = 1 << 24
OFFSET_WINDOW = 10.0  # seconds of arrivals the device-to-LSL offset is the minimum over
STOP_STREAMING = 0x20  # LogAndStream command: stop a stream a previous connection left running


def gsr_raw_to_microsiemens(raw: np.ndarray | int) -> np.ndarray:
    """Shimmer3 GSR+ raw words (range in bits 14-15, ADC in bits 0-11) to microsiemens."""
    raw = np.asarray(raw, dtype=np.int64)
    gsr_range = (raw >> 14) & 0x3
    volts = (raw & 0x0FFF) * ADC_VREF / 4095.0
    ratio = volts / AMPLIFIER_VREF - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        us = np.where(ratio > 0, 1000.0 * ratio / REF_RESISTORS_KOHM[gsr_range], np.nan)
    return us


def microsiemens_to_gsr_raw(us: float, gsr_range: int) -> int:
    """The raw word a Shimmer sends for ``us`` on ``gsr_range`` (the inverse; used to play a device)."""
    ratio = us * REF_RESISTORS_KOHM[gsr_range] / 1000.0
    adc = int(round((ratio + 1.0) * AMPLIFIER_VREF * 4095.0 / ADC_VREF))
    return (gsr_range << 14) | min(adc, 0x0FFF)


class DeviceClock:
    """Maps the Shimmer's wrapping tick counter onto the LSL clock (smallest recent delay)."""

    def __init__(self) -> None:
        self.wraps = 0
        self.last_ticks: int | None = None
        self.best: deque[tuple[float, float]] = deque()  # monotonic queue of the window's minimum

    def stamp(self, arrival: float, ticks: int) -> float:
        if self.last_ticks is not None and ticks < self.last_ticks:
            self.wraps += 1
        self.last_ticks = ticks
        seconds = (ticks + self.wraps * TICK_WRAP) / TICKS_PER_SECOND
        offset = arrival - seconds
        while self.best and self.best[-1][1] >= offset:
            self.best.pop()
        self.best.append((arrival, offset))
        while self.best[0][0] < arrival - OFFSET_WINDOW:
            self.best.popleft()
        return seconds + self.best[0][1]


def _shimmer_class():
    from pyshimmer.bluetooth.bt_api import ShimmerBluetooth

    class WatchedShimmer(ShimmerBluetooth):
        """pyshimmer's API, keeping the reason its reader thread ended."""

        failure: BaseException | None = None

        def _run_readloop(self) -> None:
            try:
                super()._run_readloop()
            except BaseException as exc:
                self.failure = exc

        def reader_alive(self) -> bool:
            return self._thread.is_alive()

    return WatchedShimmer


class ShimmerSession:
    """One connection to a Shimmer: handshake, stream GSR, publish, notice loss."""

    def __init__(self, device: SerialGSRDevice) -> None:
        self.device = device
        self.cfg = device.cfg
        self.incoming: queue.Queue[tuple[float, int, int]] = queue.Queue(maxsize=100_000)
        self.shimmer = None
        self.clock = DeviceClock()

    def open(self) -> Callable[[], None]:
        import serial
        from pyshimmer.dev.channels import EChannelType, ESensorGroup
        try:
            port = serial.Serial(self.cfg.port, 115200, timeout=None)  # pyshimmer requires blocking reads
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceGone(str(exc)) from exc
        try:
            port.write(bytes([STOP_STREAMING]))  # a stream left running would interleave with the handshake
            port.flush()
            self.device.stop_event.wait(0.2)
            port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            port.close()
            raise DeviceGone(str(exc)) from exc
        self.shimmer = _shimmer_class()(port, disable_status_ack=True)
        done = threading.Event()
        problem: list[BaseException] = []

        def handshake() -> None:
            try:
                self.shimmer.initialize()
                self.shimmer.set_sampling_rate(self.cfg.rate)
                self.shimmer.set_sensors([ESensorGroup.GSR])
                self.shimmer.add_stream_callback(
                    lambda packet: self._take(packet[EChannelType.TIMESTAMP], packet[EChannelType.GSR_RAW]))
                self.shimmer.start_streaming()
            except BaseException as exc:
                problem.append(exc)
            done.set()

        threading.Thread(target=handshake, daemon=True, name="shimmer-handshake").start()
        if not done.wait(HANDSHAKE_SECONDS) or problem or self.shimmer.failure is not None:
            reason = problem[0] if problem else self.shimmer.failure
            self._close()
            raise DeviceGone(f"did not answer the Shimmer handshake ({reason or 'no reply'}); "
                             "is it a Shimmer3 with LogAndStream firmware, switched on and paired?")
        return self.loop

    def _take(self, ticks: int, raw: int) -> None:
        try:
            self.incoming.put_nowait((pylsl.local_clock(), int(ticks), int(raw)))
        except queue.Full:
            pass  # the publisher is gone; the stall check reports it

    def loop(self) -> None:
        device = self.device
        try:
            while not device.stop_event.is_set():
                batch: list[tuple[float, int, int]] = []
                try:
                    batch.append(self.incoming.get(timeout=0.1))
                    while len(batch) < 10_000:
                        batch.append(self.incoming.get_nowait())
                except queue.Empty:
                    pass
                now = pylsl.local_clock()
                if batch:
                    values = gsr_raw_to_microsiemens(np.array([raw for _, _, raw in batch]))
                    stamps = [self.clock.stamp(arrival, ticks) for arrival, ticks, _ in batch]
                    device.push_stamped([float(v) for v in values], np.array(stamps), batch[-1][0])
                device.check_stall(now)
                if not self.shimmer.reader_alive():
                    failure = self.shimmer.failure
                    if isinstance(failure, (OSError, EOFError)) or type(failure).__name__ == "SerialException":
                        raise DeviceGone(f"stopped answering ({failure})")
                    device.report(f"garbage bytes from {self.cfg.port}: the Shimmer sent data pyshimmer cannot "
                                  f"place ({failure!r}); reconnecting")
                    raise DeviceGone("lost the packet stream", unplugged=False)
        finally:
            self._close()

    def _close(self) -> None:
        if self.shimmer is None:
            return
        try:
            self.shimmer.shutdown()
        except Exception:
            pass
        self.shimmer = None
