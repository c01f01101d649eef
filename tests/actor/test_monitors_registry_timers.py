"""Monitors, the registry, timers, and the blocked-loop watchdog."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support.actors import Recorder
from support.waiting import eventually

from agentrt.actor import Actor, ActorDead, Caller, Down, NameTaken, Node, NodeConfig


async def test_monitor_delivers_down(node: Node) -> None:
    log: list[Any] = []
    watcher = await node.spawn(Recorder, log)
    target = await node.spawn(Recorder)
    mref = node.monitor(watcher, target)
    target.cast_nowait("crash")
    await node.wait(target)
    await watcher.call("sync")
    downs = [m for k, m in log if k == "info"]
    assert len(downs) == 1
    assert isinstance(downs[0], Down)
    assert downs[0].monitor is mref
    assert downs[0].actor == target
    assert isinstance(downs[0].reason, RuntimeError)
    assert watcher.alive  # monitors are one-way


async def test_monitor_of_dead_actor_gives_noproc_at_once(node: Node) -> None:
    log: list[Any] = []
    watcher = await node.spawn(Recorder, log)
    target = await node.spawn(Recorder)
    await node.stop(target)
    mref = node.monitor(watcher, target)
    await watcher.call("sync")
    assert ("info", Down(mref, target, "noproc")) in log


async def test_demonitor(node: Node) -> None:
    log: list[Any] = []
    watcher = await node.spawn(Recorder, log)
    target = await node.spawn(Recorder)
    mref = node.monitor(watcher, target)
    node.demonitor(mref)
    await node.stop(target)
    await watcher.call("sync")
    assert not [m for k, m in log if k == "info"]


async def test_watcher_death_removes_its_monitors(node: Node) -> None:
    watcher = await node.spawn(Recorder)
    target = await node.spawn(Recorder)
    node.monitor(watcher, target)
    await node.stop(watcher)
    await node.stop(target)  # no Down to deliver, nothing raised
    assert len(node) == 0


async def test_registry_unique_names(node: Node) -> None:
    a = await node.spawn(Recorder, name="svc")
    with pytest.raises(NameTaken) as info:
        await node.spawn(Recorder, name="svc")
    assert info.value.owner == a
    assert len(node) == 1  # the loser was never started
    assert node.whereis("svc") == a
    await node.stop(a)
    assert node.whereis("svc") is None
    b = await node.spawn(Recorder, name="svc")
    assert node.whereis("svc") == b
    assert node.registry.unregister("svc") is True
    assert node.whereis("svc") is None
    node.registry.register("again", b)
    assert node.registry.names() == ["again"]


async def test_registry_groups(node: Node) -> None:
    workers = [await node.spawn(Recorder) for _ in range(3)]
    for w in workers:
        node.registry.join("pool", w)
        node.registry.join("pool", w)  # idempotent
    assert node.registry.members("pool") == workers
    node.kill(workers[1])
    assert node.registry.members("pool") == [workers[0], workers[2]]
    assert node.registry.leave("pool", workers[0]) is True
    assert node.registry.members("pool") == [workers[2]]
    await node.stop(workers[2])
    assert node.registry.groups() == []


async def test_registry_rejects_dead_refs(node: Node) -> None:
    a = await node.spawn(Recorder)
    await node.stop(a)
    with pytest.raises(ActorDead):
        node.registry.register("x", a)


async def test_send_after_and_cancel(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Recorder, log)
    t1 = node.send_after(ref, "fired", 0.01)
    t2 = node.send_after(ref, "cancelled", 0.01)
    assert t2.cancel() is True
    assert t2.cancel() is False
    await eventually(lambda: ("info", "fired") in log)
    await asyncio.sleep(0.02)  # past the cancelled timer's due time
    log_now = await ref.call("log")  # and past anything it could have queued
    assert ("info", "cancelled") not in log_now
    assert not t1.active


async def test_send_interval_repeats_until_cancelled(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Recorder, log)
    timer = node.send_interval(ref, "tick", 0.01)
    await eventually(lambda: log.count(("info", "tick")) >= 3, what="three ticks")
    timer.cancel()
    count = len(await ref.call("log"))  # ticks queued before the cancel are handled
    await asyncio.sleep(0.03)  # three intervals: a live timer would have ticked
    assert len(await ref.call("log")) == count


async def test_timers_cancelled_when_owner_dies(node: Node) -> None:
    class Ticker(Actor):
        async def init(self) -> None:
            self.timer = self.send_interval("tick", 0.01)

        async def handle_info(self, msg: Any) -> None:
            pass

        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            return self.timer

    ref = await node.spawn(Ticker)
    timer = await ref.call("timer")
    assert timer.active
    node.kill(ref)
    assert not timer.active


async def test_timer_arguments_validated(node: Node) -> None:
    ref = await node.spawn(Recorder)
    with pytest.raises(ValueError, match="delay"):
        node.send_after(ref, "x", -1)
    with pytest.raises(ValueError, match="interval"):
        node.send_interval(ref, "x", 0)


async def test_watchdog_names_the_actor_blocking_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Any] = []

    class Blocker(Actor):
        async def handle_cast(self, msg: Any) -> None:
            # A blocking call (the bug the watchdog exists to reveal) that lasts until the
            # watchdog thread has reported it, however long a loaded machine makes it
            # wait for the CPU (at least 0.3 s; at most 60 s).
            started = time.monotonic()
            while time.monotonic() - started < 60:
                last = self.node.stats().loop.last_blocked
                if time.monotonic() - started >= 0.3 and last and "Blocker" in last.actor:
                    seen.append(last)
                    return
                time.sleep(0.01)

    cfg = NodeConfig(watchdog=True, slow_handler_threshold=0.1, lag_interval=0.02)
    async with Node(cfg) as node:
        ref = await node.spawn(Blocker)
        ref.cast_nowait(b"payload")
        await eventually(lambda: seen, what="the watchdog reported the Blocker")
        stats = node.stats().loop
    assert stats.blocked_episodes >= 1  # a loaded machine may stall the loop elsewhere too
    assert seen[0].message_type == "bytes"
    assert seen[0].seconds > 0.1
    assert stats.lag_max >= 0.2  # the loop's own timer saw the 0.3 s block
    assert any("Blocker" in r.getMessage() and "blocked" in r.getMessage() for r in caplog.records)
