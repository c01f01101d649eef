"""The load-test agent and the tools a scenario gives it.

:class:`LoadAgent` is a support agent with a cached knowledge-base tool (``lookup``) and
an uncached calculator (``calc``), both named: the runner registers the scenario's own
versions in the runtime's tool registry (:func:`scenario_tools`), with the scenario's
latency and slow-tool fault. A scenario may name any other ``Agent`` subclass; tools it
names ``lookup`` or ``calc`` get the same.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Literal

from agentrt.agent import Agent
from agentrt.loadtest._sections import FaultsSpec, ToolsSpec
from agentrt.tools import CachePolicy, Tool, ToolPolicy, tool

__all__ = ["LoadAgent", "ToolCounters", "arithmetic", "scenario_tools"]


def arithmetic(a: float, b: float, op: str) -> float:
    """``a op b`` for ``op`` in ``+ - * /`` (the calculator tools' work)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "/":
        return a / b
    return a * b


class LoadAgent(Agent):
    """A support agent: knowledge-base lookups (cached) and arithmetic."""

    system_prompt = (
        "You are a support agent. Use the lookup tool for product questions and the "
        "calculator for arithmetic. Answer briefly."
    )
    tools = ("lookup", "calc")


@dataclass
class ToolCounters:
    """Executions of the scenario's tools (cache hits do not execute) and slow ones."""

    executions: dict[str, int] = field(default_factory=lambda: {"lookup": 0, "calc": 0})
    slow: int = 0


def scenario_tools(
    spec: ToolsSpec, faults: FaultsSpec, rng: random.Random, counters: ToolCounters
) -> tuple[Tool, Tool]:
    """``lookup`` (``spec.latency``, cached for ``spec.cache_ttl``) and ``calc``; a
    ``faults.slow_tool_rate`` fraction of executions take ``slow_tool_latency`` longer."""
    latency = float(spec.latency)
    slow_extra = float(faults.slow_tool_latency)
    timeout = max(10.0, 2 * (latency + slow_extra))

    async def delay(name: str) -> None:
        counters.executions[name] += 1
        extra = 0.0
        if faults.slow_tool_rate and rng.random() < faults.slow_tool_rate:
            counters.slow += 1
            extra = slow_extra
        if latency + extra > 0:
            await asyncio.sleep(latency + extra)

    async def lookup(topic: str) -> dict[str, str]:
        """Look a topic up in the knowledge base.

        Args:
            topic: The topic, e.g. "key-3".
        """
        await delay("lookup")
        return {"topic": topic, "article": f"Everything about {topic}.", "updated": "2026-11-01"}

    async def calc(a: float, b: float, op: Literal["+", "-", "*", "/"] = "*") -> float:
        """Arithmetic on two numbers."""
        await delay("calc")
        return arithmetic(a, b, op)

    cached = ToolPolicy(timeout=timeout, cache=CachePolicy(ttl=float(spec.cache_ttl)))
    return tool(policy=cached)(lookup), tool(policy=ToolPolicy(timeout=timeout))(calc)
