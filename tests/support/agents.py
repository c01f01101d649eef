"""Agents and tools shared by the agent and runtime tests."""

from __future__ import annotations

import asyncio
from typing import Any

from agentrt.actor import Caller
from agentrt.agent import Agent, Reply, TurnError
from agentrt.runtime import RuntimeConfig
from agentrt.tools import tool

CALLS: list[str] = []


@tool
async def weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    CALLS.append(city)
    return {"city": city, "temp_c": 18}


@tool
async def slow(seconds: float) -> str:
    """Sleeps, then answers."""
    await asyncio.sleep(seconds)
    return "done"


@tool
async def broken(x: int) -> str:
    """Always fails."""
    raise RuntimeError(f"broken tool got {x}")


class Helper(Agent):
    system_prompt = "You are terse."
    tools = (weather, slow, broken)


class Chatty(Agent):
    """Answers plain messages and collects replies of ``tell``."""

    async def setup(self, *, greeting: str = "hi") -> None:
        self.greeting = greeting
        self.received: list[Reply | TurnError] = []

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if msg == "received":
            return list(self.received)
        if msg == "history":
            return await self.conversation.history()
        if isinstance(msg, str):
            return f"{self.greeting} {msg}"
        return await super().handle_call(msg, caller)  # turns, passivation

    async def handle_info(self, msg: Any) -> None:
        if isinstance(msg, (Reply, TurnError)):
            self.received.append(msg)
        else:
            await super().handle_info(msg)


def fast_config(**agents: Any) -> RuntimeConfig:
    """A config for tests: no watchdog thread, quick shutdown."""
    from agentrt.actor import NodeConfig
    from agentrt.runtime import AgentsConfig

    return RuntimeConfig(
        node=NodeConfig(watchdog=False, shutdown_timeout=2.0),
        agents=AgentsConfig(**agents) if agents else AgentsConfig(idle_timeout_s=None),
    )


def say(rng: object, agent: int, turn: int) -> str:
    """A conversation generator for load scenarios (tests name it by import path)."""
    return f"generated {agent}/{turn}"


def mute(rng: object, agent: int, turn: int) -> str:
    """A broken conversation generator: returns nothing."""
    return ""


class ToolGate:
    """A tool that holds a turn until the test opens the gate.

    ``tool`` (named ``held``, no arguments; ask for it with ``[[tool:held {}]]``) sets
    ``entered`` once a turn is inside it, then waits for ``opened``. A test waits for
    ``entered`` instead of sleeping "long enough" for a turn to reach its tool.
    """

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

        @tool
        async def held() -> str:
            """Holds the turn until the test opens the gate."""
            self.entered.set()
            await self.opened.wait()
            return "released"

        self.tool = held
