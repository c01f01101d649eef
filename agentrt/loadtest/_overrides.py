"""Command-line overrides of a scenario: each replaces what the scenario sets.

``agentrt loadtest run NAME --agents N --duration D --turns T --seed S`` lays these over
the scenario's TOML table before it is validated:

- ``--agents N``: ``agents.count = N``; a ramp's stage targets are scaled by
  ``N / count`` (a stage holding all 1,000 agents holds all N);
- ``--duration D``: the run's length. With ``[[agents.stages]]`` the stages are scaled
  so that they last ``D`` in all (ramp shape kept); otherwise ``agents.duration = D``
  and any ``turns`` is dropped;
- ``--turns T``: each agent's turns; replaces ``duration`` and the stages (a ramp sets
  the run's length, turns end it instead), keeping the ramp's first slope as
  ``spawn_rate``;
- ``--seed S``: ``seed``.

``--duration`` and ``--turns`` together are refused (each replaces the other). Every
problem raises ``ConfigError`` naming the flag.

Example::

    data = apply_overrides(data, Overrides(agents=200, duration=20.0))
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from agentrt.errors import ConfigError
from agentrt.loadtest._quantity import parse_duration

__all__ = ["Overrides", "apply_overrides"]


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """What the command line replaces (None: keep the scenario's)."""

    agents: int | None = None
    duration: float | None = None
    turns: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.duration is not None and self.turns is not None:
            raise ConfigError("--turns", "give --turns or --duration, not both")

    @property
    def empty(self) -> bool:
        return self == Overrides()


def _stage_seconds(stage: Any, index: int) -> float:
    key = f"agents.stages[{index}].duration"
    if not isinstance(stage, dict):
        raise ConfigError(f"agents.stages[{index}]", "expected a table")
    return parse_duration(stage.get("duration"), key=key, allow_zero=False)


def apply_overrides(data: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    """A copy of the scenario table ``data`` with ``overrides`` laid over it."""
    if overrides.empty:
        return data
    out = copy.deepcopy(data)
    agents = out.setdefault("agents", {})
    if not isinstance(agents, dict):
        raise ConfigError("agents", "expected a table")
    stages = agents.get("stages") or []
    if overrides.agents is not None:
        old = agents.get("count", 100)
        agents["count"] = overrides.agents
        if isinstance(old, int) and old > 0:
            for stage in stages:
                if isinstance(stage, dict) and isinstance(stage.get("target"), int):
                    stage["target"] = round(stage["target"] * overrides.agents / old)
    if overrides.duration is not None:
        if stages:
            total = sum(_stage_seconds(s, i) for i, s in enumerate(stages))
            for i, stage in enumerate(stages):
                stage["duration"] = _stage_seconds(stage, i) * overrides.duration / total
        else:
            agents["duration"] = overrides.duration
            agents.pop("turns", None)
    if overrides.turns is not None:
        if stages:
            first = stages[0]
            rate = first.get("target", 0) / _stage_seconds(first, 0)
            if rate > 0 and "spawn_rate" not in agents:
                agents["spawn_rate"] = rate
            agents.pop("stages")
        agents["turns"] = overrides.turns
        agents.pop("duration", None)
    if overrides.seed is not None:
        out["seed"] = overrides.seed
    return out
