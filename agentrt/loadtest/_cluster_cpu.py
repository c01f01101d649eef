"""CPU used by the processes of a ``[cluster]`` run, over its load window.

:class:`CpuSampler` reads each named process's CPU time (user + system, from
``/proc/PID/stat``: Linux only; elsewhere every reading is None) every ``interval``
seconds while the run goes on, so that the CPU of a window (the load, not the node start
or the duplicate check after it) can be read afterwards with :meth:`CpuSampler.cores`:
the CPU seconds between the last sample at or before the window's start and the last at
or before its end, divided by the time between those samples. A process that is gone
(killed by a fault, or the load generator once it exited) keeps its last reading.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

__all__ = ["CpuSampler", "process_cpu_seconds"]

try:
    _TICK = float(os.sysconf("SC_CLK_TCK"))
except (ValueError, OSError, AttributeError):  # not a POSIX system
    _TICK = 100.0


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (its threads included, not its
    children), or None when it is gone or ``/proc`` cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces: the fields after it follow its ")"
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (IndexError, ValueError):
        return None


class CpuSampler:
    """Samples the CPU seconds of the processes ``pids()`` names ({group: [pid, ...]}:
    ``"nodes"``, ``"loadgen"``, ``"redis"``) every ``interval`` seconds (module docs)."""

    def __init__(self, pids: Callable[[], dict[str, list[int]]], interval: float = 0.5) -> None:
        self._pids = pids
        self.interval = interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._last: dict[int, float] = {}

    def sample(self) -> None:
        """Take one sample now (wall time, CPU seconds per group)."""
        groups: dict[str, float] = {}
        for group, pids in self._pids().items():
            total = 0.0
            for pid in pids:
                value = process_cpu_seconds(pid)
                if value is not None:
                    self._last[pid] = value
                total += self._last.get(pid, 0.0)
            groups[group] = total
        self.samples.append((time.time(), groups))

    async def run(self) -> None:
        """Sample every ``interval`` seconds until cancelled."""
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def cores(self, start: float, end: float) -> dict[str, float]:
        """Cores each group used (CPU seconds per second) between the samples nearest
        ``start`` and ``end`` (wall times) at or before them; ``{}`` with fewer than two
        samples in between."""
        before = [s for s in self.samples if s[0] <= start] or self.samples[:1]
        upto = [s for s in self.samples if s[0] <= end]
        if not before or not upto:
            return {}
        (t0, a), (t1, b) = before[-1], upto[-1]
        if t1 - t0 <= 0:
            return {}
        return {group: max(0.0, b.get(group, 0.0) - a.get(group, 0.0)) / (t1 - t0) for group in b}
