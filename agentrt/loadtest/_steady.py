"""Steady state of a load run: a confidence rule that ends a run once its figures are
stable, the steady figures themselves, and a probe of what a passivated agent costs.

:class:`SteadyWatch` is a :class:`~agentrt.loadtest._engine.LoadRun` ``on_sample``
hook. It records the process's CPU time at each sample and, with a ``tolerance``, stops
the run as soon as (after ``min_s``) the 95 % confidence intervals of the mean per-sample
throughput and of the mean per-sample response p95, over the steady samples, are both
within ``tolerance`` of their means. Steady samples are those after the ramp reached
its target with at least 95 % of the peak number of active agents, the first one after
the ramp left out (it mixes ramp and steady state). ``summary`` is the report's
``steady`` block::

    {"samples": 12, "from_t": 3.0, "to_t": 15.0, "stable": true, "stopped_early": true,
     "tolerance": 0.1, "agents": 400, "turns_per_s": {"mean": 61.2, "ci": 2.1},
     "response_p95": {"mean": 0.31, "ci": 0.02}, "cpu_cores": 0.42,
     "llm_waiting": 0.0, "loop_lag_max": 0.004}

(``ci`` is the half-width of the 95 % interval; ``None`` with fewer than two samples.)

:func:`passivation_probe` passivates every agent of a finished run and reads the RSS
before and after (both after a full collection and ``malloc_trim``): the report's
``passivation`` block.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentrt.loadtest._stats import mean_ci
from agentrt.runtime._trim import malloc_trim
from agentrt.telemetry._process import rss_bytes

if TYPE_CHECKING:
    from agentrt.loadtest._collect import Sample
    from agentrt.loadtest._engine import LoadRun

__all__ = ["SteadyWatch", "passivation_probe", "steady_samples"]

MIN_STEADY_SAMPLES = 5
"""Fewest steady samples the confidence rule judges."""


def steady_samples(samples: list[Sample], ramp_done_at: float | None) -> list[Sample]:
    """The samples of the steady part of a run (see the module docs); none before the
    ramp is done."""
    if ramp_done_at is None:
        return []
    after = [s for s in samples if s.t > ramp_done_at]
    if not after:
        return []
    peak = max(s.active_agents for s in after)
    return [s for s in after[1:] if s.active_agents >= 0.95 * peak]


def _ci(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "ci": None}
    ci = mean_ci(values)
    return {"mean": ci.mean, "ci": None if math.isinf(ci.half_width) else ci.half_width}


def _stable(values: list[float], tolerance: float) -> bool:
    return len(values) >= MIN_STEADY_SAMPLES and mean_ci(values).relative <= tolerance


@dataclass
class SteadyWatch:
    """The ``on_sample`` hook of the module docs. ``tolerance``: relative CI half-width
    that counts as stable (None: never stop early, only measure); ``min_s``: the run's
    shortest length when stopped early."""

    tolerance: float | None = None
    min_s: float = 5.0
    cpu: list[tuple[float, float]] = field(default_factory=list)
    stopped_early: bool = False

    def __call__(self, run: LoadRun) -> None:
        self.cpu.append((run.elapsed, time.process_time()))
        if self.tolerance is None or self.stopped_early or run.elapsed < self.min_s:
            return
        if self.is_stable(run):
            self.stopped_early = True
            run.stop()

    def is_stable(self, run: LoadRun) -> bool:
        """Whether throughput and p95 are both within the tolerance (see module docs)."""
        assert self.tolerance is not None
        steady = steady_samples(run.series.samples, run.ramp_done_at)
        rates = [s.turns_per_s for s in steady]
        p95s = [s.response_p95 for s in steady if s.response_p95 is not None]
        return _stable(rates, self.tolerance) and _stable(p95s, self.tolerance)

    def cpu_cores(self, since: float, until: float) -> float | None:
        """CPU seconds per second this process used between two sample times."""
        marks = [(t, c) for t, c in self.cpu if since - 1e-9 <= t <= until + 1e-9]
        if len(marks) < 2 or marks[-1][0] <= marks[0][0]:
            return None
        return (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])

    def summary(self, run: LoadRun) -> dict[str, Any]:
        """The report's ``steady`` block (see the module docs)."""
        steady = steady_samples(run.series.samples, run.ramp_done_at)
        rates = [s.turns_per_s for s in steady]
        p95s = [s.response_p95 for s in steady if s.response_p95 is not None]
        out: dict[str, Any] = {
            "samples": len(steady),
            "from_t": steady[0].t if steady else None,
            "to_t": steady[-1].t if steady else None,
            "tolerance": self.tolerance,
            "stable": self.tolerance is not None
            and _stable(rates, self.tolerance)
            and _stable(p95s, self.tolerance),
            "stopped_early": self.stopped_early,
            "agents": max((s.active_agents for s in steady), default=None),
            "turns_per_s": _ci(rates),
            "response_p95": _ci(p95s),
            "cpu_cores": None,
            "llm_waiting": None,
            "loop_lag_max": None,
        }
        if steady:
            # the CPU mark of the sample before the first steady one starts the interval
            before = [s.t for s in run.series.samples if s.t < steady[0].t]
            start = before[-1] if before else steady[0].t
            out["cpu_cores"] = self.cpu_cores(start, steady[-1].t)
            out["llm_waiting"] = math.fsum(s.llm_waiting for s in steady) / len(steady)
            out["loop_lag_max"] = max(s.loop_lag for s in steady)
        return out


def _trimmed_rss() -> int:
    gc.collect()
    trim = malloc_trim()
    if trim is not None:
        trim(0)
    return rss_bytes()


async def passivation_probe(run: LoadRun, *, batch: int = 200) -> dict[str, Any]:
    """Passivate every agent of ``run`` (after its drain) and measure what they cost live
    and passivated: ``rss_live``, ``rss_passivated`` and ``base_rss`` (before the run),
    all after a full collection and ``malloc_trim``; ``bytes_per_live`` and
    ``bytes_per_passivated`` are the RSS above the base over the agents. With the memory
    store a passivated agent's conversation stays in this process, and counts."""
    assert run.rt is not None
    rt = run.rt
    ids = [u.agent_id for u in run.users.values()]
    live = _trimmed_rss()
    done = 0
    for i in range(0, len(ids), batch):
        results = await asyncio.gather(
            *(rt.passivate(agent_id, force=True) for agent_id in ids[i : i + batch]),
            return_exceptions=True,
        )
        done += sum(1 for r in results if r is True)
    after = _trimmed_rss()
    base = run.base_rss
    agents = max(1, len(ids))
    return {
        "agents": len(ids),
        "passivated": done,
        "base_rss": base,
        "rss_live": live,
        "rss_passivated": after,
        "bytes_per_live": None if base is None else max(0, live - base) / agents,
        "bytes_per_passivated": None if base is None else max(0, after - base) / agents,
    }
