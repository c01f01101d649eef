"""``spawn_swarm``'s agents (issue 23 §1): registered, linked and restarted by the agents'
supervisor as a spawned agent is; each loads its conversation when its first message
arrives, before handling it, messages kept in order; shutdown flushes the loaded ones; a
swarm whose agents partly fail to start names the failed ids."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.agents import Chatty, fast_config
from support.waiting import eventually

from agentrt.actor import Caller
from agentrt.agent import Agent
from agentrt.runtime import Runtime, StoreConfig
from supervisors import MaxChildren


class Plain(Agent):
    """An agent without a ``setup`` of its own: a swarm of it loads lazily."""

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if msg == "history":
            return [m.content for m in await self.conversation.history()]
        return await super().handle_call(msg, caller)


def loaded(rt: Runtime, agent_id: str) -> bool:
    """Whether agent ``agent_id`` has opened its conversation (its stats read its size)."""
    return rt.telemetry.agent_stats(agent_id, "Plain").memory_source is not None


async def test_swarm_agents_load_on_their_first_message_in_order() -> None:
    async with Runtime(fast_config()) as rt:
        ids = await rt.spawn_swarm(Plain, 300)  # more than one batch
        assert len(ids) == 300
        assert all(rt.directory.local(i) is not None for i in ids)  # registered, live
        for _ in range(5):
            await asyncio.sleep(0)
        assert not loaded(rt, "agent-7")
        turn = asyncio.ensure_future(rt.ask("agent-7", "first"))
        history = asyncio.ensure_future(rt.call("agent-7", "history"))
        assert (await turn).text == "echo: first"
        assert "first" in await history  # queued behind the turn, handled after it
        assert loaded(rt, "agent-7")
        assert not loaded(rt, "agent-8")


async def test_a_crashed_swarm_agent_is_restarted() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn_swarm(Plain, 10)
        await rt.ask("agent-3", "remember 42")
        for agent_id in ("agent-3", "agent-4"):  # loaded, and never addressed
            old = rt.directory.local(agent_id)
            assert await rt.inject_crash(agent_id)

            def restarted(agent_id: str = agent_id, old: Any = old) -> Any:
                ref = rt.directory.local(agent_id)
                return ref if ref is not None and ref != old else None

            await eventually(restarted, what=f"{agent_id} restarted")
        assert "remember 42" in await rt.call("agent-3", "history")
        assert (await rt.ask("agent-4", "hello")).text == "echo: hello"
        assert rt.stats()["agents"]["restarts"] == 2


async def test_shutdown_flushes_the_loaded_agents_and_stops_all(tmp_path: Path) -> None:
    cfg = replace(fast_config(), store=StoreConfig(kind="sqlite", path=str(tmp_path / "s.db")))
    rt = Runtime(cfg)
    async with rt:
        await rt.spawn_swarm(Plain, 500)
        await asyncio.gather(*(rt.ask(f"agent-{i}", f"note {i}") for i in range(0, 500, 50)))
    assert len(rt.node) == 0
    assert "shutdown_error" not in rt.supervision.stats().reports  # none had to be killed
    async with Runtime(cfg) as again:
        await again.spawn_swarm(Plain, 500)
        assert "note 250" in await again.call("agent-250", "history")
        assert await again.call("agent-251", "history") == []


async def test_a_swarm_partly_failing_names_the_failed_ids() -> None:
    async with Runtime(fast_config(max_agents=100, idle_timeout_s=None)) as rt:
        with pytest.raises(MaxChildren) as info:
            await rt.spawn_swarm(Plain, 300, prefix="p-")
        note = "\n".join(info.value.__notes__)
        assert "156 agents failed to start (p-100, p-101," in note
        assert "and 136 more" in note
        assert "100 started" in note
        assert rt.directory.local("p-99") is not None  # started: keeps running
        assert "p-100" not in rt
        assert "p-299" not in rt
        assert (await rt.ask("p-0", "still here")).text == "echo: still here"


async def test_an_agent_class_with_its_own_setup_loads_at_once() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn_swarm(Chatty, 3, greeting="yo")
        await eventually(
            lambda: rt.telemetry.agent_stats("agent-2", "Chatty").memory_source is not None,
            what="agent-2 loaded without a message",
        )
        assert await rt.call("agent-2", "there") == "yo there"
