"""An agent's start (issue 23 §1): a cheap ``init`` (the spawn waits only for the agent to
be registered), then its conversation and ``setup`` in ``handle_continue`` before the
first message; messages sent meanwhile wait, in order; a failed start reaches callers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from support.agents import Chatty, fast_config
from support.waiting import eventually

from agentrt.actor import Caller
from agentrt.agent import Agent
from agentrt.errors import ArgumentTypeError
from agentrt.memory import StoreError
from agentrt.runtime import Runtime


class Gated(Agent):
    """``setup`` waits for a gate: everything sent meanwhile must wait behind it."""

    async def setup(self, *, gate: asyncio.Event, log: list[Any]) -> None:
        self.log = log
        log.append(("setup", len(self.conversation)))
        await gate.wait()
        log.append("ready")

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if isinstance(msg, str):
            self.log.append(msg)
            return msg
        return await super().handle_call(msg, caller)

    async def handle_cast(self, msg: Any) -> None:
        if isinstance(msg, str):
            self.log.append(msg)
        else:
            await super().handle_cast(msg)


async def test_spawn_returns_before_setup_and_messages_wait_in_order() -> None:
    gate = asyncio.Event()
    log: list[Any] = []
    async with Runtime(fast_config()) as rt:
        await rt.spawn(Gated, id="g", gate=gate, log=log)
        await eventually(lambda: log, what="setup started")
        assert log == [("setup", 0)]  # the conversation was loaded first
        await rt.cast("g", "one")
        turn = asyncio.ensure_future(rt.ask("g", "a turn"))
        second = asyncio.ensure_future(rt.call("g", "two"))
        ref = rt.directory.local("g")
        assert ref is not None
        await eventually(lambda: ref.stats().depth == 3, what="three messages waiting")
        assert log == [("setup", 0)]
        gate.set()
        assert (await turn).text == "echo: a turn"
        assert await second == "two"
        assert log == [("setup", 0), "ready", "one", "two"]


async def test_setup_keywords_are_checked_at_spawn() -> None:
    async with Runtime(fast_config()) as rt:
        before = rt.node.actors()
        with pytest.raises(ArgumentTypeError, match=r"Chatty got options its setup\(\)"):
            await rt.spawn(Chatty, id="c", greting="hello")  # a typo
        with pytest.raises(ArgumentTypeError, match=r"Agent got unknown options: \['colour'\]"):
            await rt.spawn(Agent, id="a", colour="blue")
        with pytest.raises(ArgumentTypeError, match="gate"):
            await rt.spawn(Gated, id="g", log=[])  # a keyword setup requires is missing
        with pytest.raises(ArgumentTypeError, match="Chatty got options"):
            await rt.spawn_swarm(Chatty, 300, greting="hello")  # more than one batch
        assert rt.agent_ids() == []  # nothing registered
        assert len(rt.node) == len(before)  # nothing started
        await rt.spawn(Chatty, id="c", greeting="hello")
        assert await rt.call("c", "there") == "hello there"


class FailingSetup(Agent):
    async def setup(self, *, fail: list[bool]) -> None:
        if fail[0]:
            raise RuntimeError("setup failed")


async def test_a_failed_setup_reaches_the_callers_and_is_not_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agentrt.agent")
    fail = [True]
    async with Runtime(fast_config()) as rt:
        await rt.spawn(FailingSetup, id="f", fail=fail)
        with pytest.raises(RuntimeError, match="setup failed"):
            await rt.ask("f", "hello")
        # a bug in setup is an error with its traceback
        (record,) = [r for r in caplog.records if "failed to start" in r.getMessage()]
        assert record.levelno == logging.ERROR
        assert record.exc_info is not None
        agents = await rt.supervision.agents_stats()
        assert agents is not None
        assert agents.restarts == 0
        fail[0] = False
        assert (await rt.ask("f", "hello again")).text == "echo: hello again"
        assert rt.stats()["agents"]["live"] == 1


class DownStore:
    """A store whose reads fail, as during an outage (the rest is the real store's)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.down = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get(self, key: str) -> bytes | None:
        if self.down:
            raise StoreError("outage", "get", key, "store down")
        result: bytes | None = await self._store.get(key)
        return result


async def test_a_store_outage_at_load_reaches_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agentrt.agent")
    async with Runtime(fast_config()) as rt:
        real = rt.services.get("store")
        down = DownStore(real)
        rt.services.publish("store", down)
        await rt.spawn(Chatty, id="c")
        with pytest.raises(StoreError):
            await rt.ask("c", "hello")
        # the store being down is expected: one warning line, no traceback (a Redis
        # outage in the chaos scenario printed ~100 tracebacks)
        (record,) = [r for r in caplog.records if "failed to start" in r.getMessage()]
        assert record.levelno == logging.WARNING
        assert record.exc_info is None
        assert "store down" in record.getMessage()
        down.down = False
        assert (await rt.ask("c", "hello")).text == "echo: hello"
        assert rt.supervision.stats().shutdowns == 0
