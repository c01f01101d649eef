"""The ramp: how many agents should be talking at each moment of a run.

Three shapes, from ``[agents]``:

- no ramp: all ``count`` agents start at once;
- ``spawn_rate``: one more agent every ``1 / spawn_rate`` seconds up to ``count``;
- ``stages`` (k6-style): the number of active agents moves linearly from the previous
  stage's target (0 at the start) to each stage's ``target`` over its ``duration``;
  lowering it retires users (each after its current turn).

With ``turns`` per agent the run ends when every agent has had its turns; otherwise it
ends at ``duration`` (or the end of the last stage).

Example::

    ramp = Ramp(AgentsSpec(count=100, spawn_rate=50, turns=5))
    ramp.target(1.0)   # 51 agents started by t = 1 s
"""

from __future__ import annotations

import math

from agentrt.loadtest._sections import AgentsSpec

__all__ = ["Ramp"]


class Ramp:
    """Targets over time for one ``AgentsSpec`` (see the module docs)."""

    tick = 0.05  # seconds between adjustments

    def __init__(self, spec: AgentsSpec) -> None:
        self.spec = spec
        self.by_turns = spec.turns is not None
        self._stages = [(float(s.duration), s.target) for s in spec.stages]
        if spec.stages:
            self.length: float | None = sum(d for d, _ in self._stages)
        else:
            self.length = None if spec.duration is None else float(spec.duration)

    def target(self, now: float) -> int:
        """Agents that should be active (stages) or started (otherwise) at ``now``."""
        spec = self.spec
        if self._stages:
            return self._staged(now)
        if spec.spawn_rate is None:
            return spec.count
        return min(spec.count, math.floor(now * spec.spawn_rate) + 1)

    def _staged(self, now: float) -> int:
        start_t, level = 0.0, 0
        for duration, target in self._stages:
            if now < start_t + duration:
                return round(level + (target - level) * (now - start_t) / duration)
            start_t, level = start_t + duration, target
        return level

    def full(self, now: float) -> bool:
        """True once the ramp has reached its peak (for steady-state figures)."""
        spec = self.spec
        if self._stages:
            peak = max(t for _, t in self._stages)
            return self._staged(now) >= peak
        return spec.spawn_rate is None or now * spec.spawn_rate + 1 >= spec.count

    def over(self, now: float, spawned: int) -> bool:
        """True when the ramp has nothing left to do: every agent started (by turns), or
        the run's length reached."""
        if self.by_turns:
            return spawned >= self.spec.count
        return self.length is not None and now >= self.length
