"""Log context beyond the turn's own task: tasks a turn spawns, records the runtime writes
about an agent outside its turns (its crash), and no context leaking from a turn into the
node's shared workers (another actor's records must not name the turn's agent)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.agents import Helper, fast_config

from agentrt.actor import Actor, Node, NodeConfig
from agentrt.runtime import Runtime
from agentrt.telemetry import JsonFormatter, LogContextFilter
from agentrt.telemetry._logs import turn_context

_TEST_LOGGER = "tests.log-context"


@pytest.fixture
def records() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Reads the JSON records of the test's logger and of ``agentrt`` so far (through
    ``LogContextFilter`` and ``JsonFormatter``)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(_TEST_LOGGER), logging.getLogger("agentrt")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


_log = logging.getLogger(_TEST_LOGGER)


async def test_a_task_the_turn_spawns_logs_with_the_turn(
    records: Callable[[], list[dict[str, Any]]],
) -> None:
    done = asyncio.Event()

    class Spawning(Helper):
        async def respond(self, turn: Any) -> Any:
            async def later() -> None:
                await asyncio.sleep(0.01)  # after the turn has ended
                _log.info("background work")
                done.set()

            self.background = asyncio.ensure_future(later())
            return await super().respond(turn)

    async with Runtime(fast_config()) as rt:
        await rt.spawn(Spawning, id="spawner")
        await rt.ask("spawner", "hi")
        async with asyncio.timeout(10):
            await done.wait()
    (record,) = [r for r in records() if r["message"] == "background work"]
    assert record["agent_id"] == "spawner"
    assert record["turn_id"]
    assert record["model"]


async def test_an_agents_crash_is_logged_with_its_id(
    records: Callable[[], list[dict[str, Any]]],
) -> None:
    class Crashing(Helper):
        async def respond(self, turn: Any) -> Any:
            raise RuntimeError("a bug in the agent")

    async with Runtime(fast_config()) as rt:
        await rt.spawn(Crashing, id="crasher")
        with pytest.raises(Exception, match="a bug in the agent"):
            await rt.ask("crasher", "hi")
    crashes = [r for r in records() if "crashed" in r["message"] and "a bug" in r["message"]]
    assert crashes, records()
    assert crashes[0]["agent_id"] == "crasher"
    assert crashes[0]["model"] == Crashing.model
    assert crashes[0]["logger"] == "agentrt.actor"


async def test_a_turns_context_does_not_leak_into_the_nodes_workers(
    records: Callable[[], list[dict[str, Any]]],
) -> None:
    handled = asyncio.Event()

    class Listener(Actor):
        async def handle_cast(self, msg: Any) -> None:
            _log.info("listener got %s", msg)
            handled.set()

    async with Node(NodeConfig(watchdog=False, shutdown_timeout=1.0)) as node:
        listener = await node.spawn(Listener)
        await asyncio.sleep(0)  # the node idle: the cast below starts a worker
        token = turn_context.set(("agent-a", "t1", "m"))
        try:
            listener.cast_nowait("ping")  # from inside agent-a's turn
        finally:
            turn_context.reset(token)
        async with asyncio.timeout(10):
            await handled.wait()
    (record,) = [r for r in records() if r["message"] == "listener got ping"]
    assert "agent_id" not in record  # not agent-a's: the listener is no agent
    assert "turn_id" not in record
