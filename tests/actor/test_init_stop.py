"""``init`` returning ``Stop(reason)``: OTP's ``{stop, Reason}`` (issue 13, section 8)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentrt.actor import Actor, Exit, InitError, Node, Stop


class Refuses(Actor):
    terminated = False

    async def init(self, reason: Any) -> Any:
        return Stop(reason)

    async def terminate(self, reason: Any) -> None:
        Refuses.terminated = True


class Watcher(Actor):
    trap_exits = True

    async def init(self, seen: list[Any], reason: Any, name: str) -> None:
        self.seen = seen
        try:
            await self.node.spawn(Refuses, reason, link=self.ref, name=name)
        except InitError as exc:
            seen.append(("init_error", exc.reason))

    async def handle_info(self, msg: Any) -> None:
        self.seen.append(("info", msg))


async def test_stop_exits_with_the_reason_without_a_crash(node: Node) -> None:
    before = node.stats().crashes
    with pytest.raises(InitError) as info:
        await node.spawn(Refuses, ("shutdown", "no_config"), name="r")
    assert info.value.reason == ("shutdown", "no_config")
    assert node.stats().crashes == before
    assert not Refuses.terminated
    assert node.whereis("r") is None  # its name is free at once
    assert len(node) == 0


async def test_links_see_the_stop_reason(node: Node) -> None:
    seen: list[Any] = []
    await node.spawn(Watcher, seen, "bad_config", "r2")
    for _ in range(2000):  # the Exit is queued behind the watcher's init
        if len(seen) >= 2:
            break
        await asyncio.sleep(0.001)
    assert seen[0] == ("init_error", "bad_config")
    kind, exit_msg = seen[1]
    assert kind == "info"
    assert isinstance(exit_msg, Exit)
    assert exit_msg.reason == "bad_config"


async def test_stop_normal_is_allowed(node: Node) -> None:
    with pytest.raises(InitError) as info:
        await node.spawn(Refuses, "normal")
    assert info.value.reason == "normal"
