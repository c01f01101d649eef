"""Links, exit signals, trap_exits and kill, as OTP defines them."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from support.actors import Recorder
from support.waiting import eventually

from agentrt.actor import Actor, ActorDead, Caller, Exit, Node


class Sleeper(Actor):
    """Its handler suspends forever; terminate is recorded."""

    async def init(self, log: list[Any]) -> None:
        self.log = log

    async def handle_cast(self, msg: Any) -> None:
        self.log.append("handler started")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.log.append("handler cancelled")
            raise

    async def terminate(self, reason: Any) -> None:
        self.log.append(("terminate", reason))


async def test_normal_exit_does_not_propagate(node: Node) -> None:
    a = await node.spawn(Recorder)
    b = await node.spawn(Recorder)
    node.link(a, b)
    await node.stop(a, "normal")
    assert b.alive


async def test_abnormal_exit_kills_linked_actor_with_same_reason_and_cascades(node: Node) -> None:
    a = await node.spawn(Recorder)
    b = await node.spawn(Recorder)
    c = await node.spawn(Recorder)
    node.link(a, b)
    node.link(b, c)
    waits = [asyncio.ensure_future(node.wait(r)) for r in (b, c)]
    await asyncio.sleep(0)
    a.cast_nowait("crash")
    rb, rc = await asyncio.gather(*waits)
    assert isinstance(rb, RuntimeError)
    assert rc is rb


async def test_linked_actor_dies_at_once_mid_handler_without_terminate(node: Node) -> None:
    log: list[Any] = []
    a = await node.spawn(Recorder)
    s = await node.spawn(Sleeper, log)
    node.link(a, s)
    s.cast_nowait("sleep")
    await eventually(lambda: log == ["handler started"])
    node.exit(a, "boom")  # a dies with "boom", s follows at once
    assert not s.alive
    await eventually(lambda: len(log) > 1, what="the handler cancelled")
    await asyncio.sleep(0.01)  # time for a terminate that must not run
    assert log == ["handler started", "handler cancelled"]  # terminate did not run


async def test_trap_exits_turns_signal_into_exit_message_in_order(node: Node) -> None:
    log: list[Any] = []
    trapper = await node.spawn(Recorder, log, True)
    other = await node.spawn(Recorder)
    node.link(trapper, other)
    trapper.cast_nowait("before")
    node.exit(other, "boom")
    await trapper.call("sync")
    assert trapper.alive
    assert log[0] == ("cast", "before")
    kind, msg = log[1]
    assert kind == "info"
    assert isinstance(msg, Exit)
    assert msg.sender == other
    assert msg.reason == "boom"


async def test_trapping_actor_receives_normal_exits_too(node: Node) -> None:
    log: list[Any] = []
    trapper = await node.spawn(Recorder, log, True)
    other = await node.spawn(Recorder)
    node.link(trapper, other)
    await node.stop(other, "normal")
    await trapper.call("sync")
    assert ("info", Exit(other, "normal")) in log


async def test_kill_cannot_be_trapped_and_links_see_killed(node: Node) -> None:
    log: list[Any] = []
    victim = await node.spawn(Recorder, [], True)
    watcher = await node.spawn(Recorder, log, True)
    node.link(victim, watcher)
    node.kill(victim)
    assert not victim.alive
    await watcher.call("sync")
    assert ("info", Exit(victim, "killed")) in log


async def test_killed_reason_propagates_and_kills_non_trapping(node: Node) -> None:
    a = await node.spawn(Recorder)
    b = await node.spawn(Recorder)
    node.link(a, b)
    wait_b = asyncio.ensure_future(node.wait(b))
    await asyncio.sleep(0)
    node.kill(a)
    assert await wait_b == "killed"


async def test_shutdown_from_non_parent_is_just_a_message(node: Node) -> None:
    log: list[Any] = []
    trapper = await node.spawn(Recorder, log, True)
    stranger = await node.spawn(Recorder)
    node.exit(trapper, "shutdown", sender=stranger)
    await trapper.call("sync")
    assert trapper.alive
    assert ("info", Exit(stranger, "shutdown")) in log


async def test_parent_shutdown_makes_trapping_child_terminate(node: Node) -> None:
    log: list[Any] = []
    parent = await node.spawn(Recorder, [], True)
    child = await node.spawn(Recorder, log, True, link=parent)
    node.exit(child, "shutdown", sender=parent)
    assert await node.wait(child) == "shutdown"
    assert log == [("terminate", "shutdown")]


async def test_non_trapping_child_exits_on_shutdown_without_terminate(node: Node) -> None:
    log: list[Any] = []
    parent = await node.spawn(Recorder, [], True)
    child = await node.spawn(Recorder, log, link=parent)
    node.exit(child, "shutdown", sender=parent)
    assert not child.alive
    assert log == []


async def test_kill_during_terminate(node: Node) -> None:
    log: list[Any] = []
    s = await node.spawn(Sleeper, log)

    class SlowTerminate(Sleeper):
        async def terminate(self, reason: Any) -> None:
            log.append("terminate started")
            await asyncio.sleep(60)
            log.append("terminate finished")

    t = await node.spawn(SlowTerminate, log)
    stopping = asyncio.ensure_future(node.stop(t, timeout=None))
    await eventually(lambda: log == ["terminate started"])
    node.kill(t)
    await stopping  # the stop waiter is released by the death
    assert log == ["terminate started"]
    assert s.alive


async def test_actor_killing_itself_through_a_link_stops_at_once(node: Node) -> None:
    log: list[Any] = []

    class Suicidal(Actor):
        async def handle_cast(self, other: Any) -> None:
            self.link(other)
            self.node.kill(other)  # the link brings "killed" straight back to us
            log.append("not reached")

        async def terminate(self, reason: Any) -> None:
            log.append("terminate")

    s = await node.spawn(Suicidal)
    other = await node.spawn(Recorder)
    wait = asyncio.ensure_future(node.wait(s))
    await asyncio.sleep(0)
    s.cast_nowait(other)
    assert await wait == "killed"
    assert log == []


async def test_link_to_dead_actor_raises(node: Node) -> None:
    a = await node.spawn(Recorder)
    b = await node.spawn(Recorder)
    await node.stop(b)
    with pytest.raises(ActorDead):
        node.link(a, b)


async def test_unlink(node: Node) -> None:
    a = await node.spawn(Recorder)
    b = await node.spawn(Recorder)
    node.link(a, b)
    node.unlink(a, b)
    node.kill(a)
    assert b.alive


async def test_init_failure_propagates_to_linked_parent(node: Node) -> None:
    log: list[Any] = []
    parent = await node.spawn(Recorder, log, True)

    class Bad(Actor):
        async def init(self) -> None:
            raise ValueError("bad")

    from agentrt.actor import InitError

    with pytest.raises(InitError):
        await node.spawn(Bad, link=parent)
    await parent.call("sync")
    exits = [m for k, m in log if k == "info"]
    assert len(exits) == 1
    assert isinstance(exits[0].reason, ValueError)


async def test_deep_link_chain_does_not_recurse(node: Node) -> None:
    refs = [await node.spawn(Recorder) for _ in range(3000)]
    for a, b in itertools.pairwise(refs):
        node.link(a, b)
    node.exit(refs[0], "boom")
    assert len(node) == 0


async def test_caller_in_a_call_chain_sees_crash(node: Node) -> None:
    class Front(Actor):
        async def handle_call(self, back: Any, caller: Caller) -> Any:
            return await back.call("crash")

    back = await node.spawn(Recorder)
    front = await node.spawn(Front)
    with pytest.raises(ActorDead) as info:
        await front.call(back)
    # front crashed because its call raised; the caller sees front's crash reason,
    # which is back's ActorDead carrying back's own crash reason
    assert isinstance(info.value.reason, ActorDead)
    assert isinstance(info.value.reason.reason, RuntimeError)
