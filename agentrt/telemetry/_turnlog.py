"""``TurnLog``: the last few turns of the most recently active agents, with their steps.

The dashboard's agent page shows an agent's recent turns and, in each, its LLM and tool
steps with their timings. ``AgentStats`` keeps only aggregates (a record per agent must
stay small at 100,000 agents), so the turns themselves are kept here, bounded twice:
``per_agent`` turns per agent (default 8; older ones fall off) for the ``agents`` agents
that finished a turn most recently (default 1,024; the least recently active agent's
turns are dropped first). At the defaults that is at most ~8,000 small records, however
many agents run: a passivated or quiet agent's turns age out.

A turn is a ``TurnRecord``; its ``steps`` are ``("llm", model, seconds, input_tokens,
output_tokens)`` and ``("tool", name, seconds, ok)`` tuples in the order they ran (tools
run together in one step share its seconds). The agent's turn loop records them (only
while ``Telemetry.stats`` is on); nothing here is allocated for an agent that never
finishes a turn.

Example::

    rt.telemetry.turn_log.recent("agent-7")     # newest first, as dicts
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Any

from agentrt.errors import InvalidArgument

__all__ = ["TurnLog", "TurnRecord"]

#: One step of a turn: ``("llm", model, seconds, input_tokens, output_tokens)`` or
#: ``("tool", name, seconds, ok)``.
Step = tuple[Any, ...]


class TurnRecord:
    """One finished turn: when it ``ended`` (wall clock, seconds), how long it took,
    whether it was ``ok`` (else ``error``: the error type's name) and its ``steps``."""

    __slots__ = ("ended", "error", "ok", "seconds", "steps")

    def __init__(
        self, seconds: float, ok: bool, steps: tuple[Step, ...], error: str | None
    ) -> None:
        self.ended = time.time()
        self.seconds = seconds
        self.ok = ok
        self.steps = steps
        self.error = error

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable: times in milliseconds, each step a dict."""
        steps: list[dict[str, Any]] = []
        for step in self.steps:
            if step[0] == "llm":
                _, model, seconds, tokens_in, tokens_out = step
                steps.append(
                    {
                        "kind": "llm",
                        "name": model,
                        "ms": round(seconds * 1000, 3),
                        "input_tokens": tokens_in,
                        "output_tokens": tokens_out,
                    }
                )
            else:
                _, name, seconds, ok = step
                steps.append(
                    {"kind": "tool", "name": name, "ms": round(seconds * 1000, 3), "ok": ok}
                )
        return {
            "ended": self.ended,
            "ms": round(self.seconds * 1000, 3),
            "ok": self.ok,
            "error": self.error,
            "steps": steps,
        }


class TurnLog:
    """The recent turns of the most recently active agents (see the module docs).
    ``InvalidArgument`` for a bound below 1."""

    __slots__ = ("_turns", "agents", "per_agent")

    def __init__(self, *, agents: int = 1024, per_agent: int = 8) -> None:
        for name, value in (("agents", agents), ("per_agent", per_agent)):
            if value < 1:
                raise InvalidArgument(name, f"TurnLog: {name} must be >= 1, got {value!r}")
        self.agents = agents
        self.per_agent = per_agent
        self._turns: OrderedDict[str, deque[TurnRecord]] = OrderedDict()

    def record(
        self,
        agent_id: str,
        seconds: float,
        ok: bool,
        steps: tuple[Step, ...] = (),
        error: str | None = None,
    ) -> None:
        """Keep one finished turn of ``agent_id`` (dropping its oldest beyond
        ``per_agent``, and the least recently active agent's beyond ``agents``)."""
        turns = self._turns
        kept = turns.get(agent_id)
        if kept is None:
            kept = turns[agent_id] = deque(maxlen=self.per_agent)
            if len(turns) > self.agents:
                turns.popitem(last=False)
        else:
            turns.move_to_end(agent_id)
        kept.append(TurnRecord(seconds, ok, steps, error))

    def recent(self, agent_id: str) -> list[dict[str, Any]]:
        """``agent_id``'s kept turns, newest first ([] when none are kept)."""
        kept = self._turns.get(agent_id)
        return [t.as_dict() for t in reversed(kept)] if kept else []

    def __len__(self) -> int:
        """How many agents have turns kept."""
        return len(self._turns)
