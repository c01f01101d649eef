"""Helpers for tests of ``agentrt serve``: the project's mock LLM over HTTP, a runtime on it, a
server on a real loopback port, and agents that hold a turn at a gate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

__all__ = ["GATE", "Gate", "Held", "Serving", "llm_config", "make_serving"]

from support.agents import fast_config

from agentrt import Agent, Message, Reply
from agentrt.agent import Turn
from agentrt.llm import PoolConfig, ProviderConfig
from agentrt.runtime import Runtime, RuntimeConfig
from agentrt.serve import ServeConfig, Server
from agentrt.testing import MockServerConfig, serve_mock_llm


class Gate:
    """Holds the turns of ``Held`` agents: ``entered`` is set once a turn is inside
    (after its first streamed delta), ``opened`` lets them finish."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()


GATE: list[Gate] = []


class Held(Agent):
    """Stores the user message, then answers (and stores) ``held: <text>`` once its gate
    opens; a streamed turn sends ``held:`` first, then waits."""

    async def respond(self, turn: Turn) -> Reply:
        gate = GATE[-1]
        await self.remember(Message.user(turn.content, name=turn.sender))
        if turn.stream is not None:
            await turn.stream.put("held:")
        gate.entered.set()
        await gate.opened.wait()
        if turn.stream is not None:
            await turn.stream.put(f" {turn.text}")
        await self.remember(Message.assistant(f"held: {turn.text}"))
        return self.make_reply(turn, f"held: {turn.text}")


def llm_config(url: str, **provider: Any) -> PoolConfig:
    return PoolConfig(
        providers=(
            ProviderConfig(name="mock-http", base_urls=(url,), models=("mock",), **provider),
        )
    )


Serving = Callable[..., Any]


def make_serving() -> Serving:
    """``async with serving(ServeConfig(...), runtime=RuntimeConfig(...), llm=MockServerConfig(...),
    provider={...}) as (server, rt, llm):`` a server on a free port over a runtime whose
    LLM is the mock server over HTTP; models ``assistant`` (Agent) and ``held`` (Held)."""

    @asynccontextmanager
    async def serve(
        config: ServeConfig | None = None,
        *,
        runtime: RuntimeConfig | None = None,
        llm: MockServerConfig | None = None,
        provider: dict[str, Any] | None = None,
    ) -> AsyncIterator[tuple[Server, Runtime, Any]]:
        async with serve_mock_llm(llm) as mock:
            cfg = replace(runtime or fast_config(), llm=llm_config(mock.url, **(provider or {})))
            async with Runtime(cfg) as rt:
                server = Server(rt, config or ServeConfig(port=0))
                server.expose("assistant", Agent)
                server.expose("held", Held)
                async with server:
                    yield server, rt, mock

    return serve
