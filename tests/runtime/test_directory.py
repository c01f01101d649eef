"""The local ``Directory``: registration all-or-none, one activation per agent."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from agentrt.actor import Actor, ActorRef, Node
from agentrt.agent import AgentContext, AgentExists, AgentNotFound, Services
from agentrt.agent._context import AgentSlot
from agentrt.runtime._directory import Directory, DirectoryCounts, LocalDirectory


class Idle(Actor):
    pass


async def test_register_is_all_or_none_and_resolve_activates_once() -> None:
    async with Node() as node:
        started: list[str] = []
        gate = asyncio.Event()

        async def activate(agent_id: str, slot: AgentSlot) -> ActorRef:
            started.append(agent_id)
            await gate.wait()  # every resolver is waiting on the same activation now
            ref = await node.spawn(Idle)
            slot.bind(ref)
            return ref

        directory = LocalDirectory(activate=activate, restart_grace_s=0.5)
        routed: Directory = directory  # mypy checks it meets the protocol routing uses
        await directory.register(["a", "b"], Idle, {}, passive=True)
        with pytest.raises(AgentExists, match="'b'"):
            await directory.register(["c", "b"], Idle, {}, passive=True)
        assert "c" not in directory  # nothing of a refused batch was claimed
        with pytest.raises(AgentNotFound):
            await routed.resolve("nobody")

        resolvers = [asyncio.ensure_future(directory.resolve("a")) for _ in range(5)]
        await asyncio.sleep(0)
        gate.set()
        refs = await asyncio.gather(*resolvers)
        assert started == ["a"]
        assert len(set(refs)) == 1
        assert directory.local("a") == refs[0]
        assert directory.local("b") is None
        assert directory.counts() == DirectoryCounts(total=2, live=1, passivated=1, restarts=0)

        await directory.unregister(["a", "b"])  # a is live: it stays
        assert list(directory.ids()) == ["a"]


def test_agent_context_is_frozen() -> None:
    ctx = AgentContext(services=Services(), peers=Any)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.peers = None  # type: ignore[misc,assignment]
