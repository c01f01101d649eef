"""DynamicSupervisor: limits, restart types, concurrent shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.waiting import eventually
from support.workers import Worker

from agentrt.actor import Actor, Node
from agentrt.errors import ConfigError
from supervisors import ChildNotFound, ChildSpec, DynamicSupervisor, MaxChildren, StartChildError


async def test_start_children_and_max_children(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node, max_children=2)
    a = await DynamicSupervisor.start_child(sup, ChildSpec.worker("a", Worker, log, "a"))
    b = await DynamicSupervisor.start_child(sup, ChildSpec.worker("b", Worker, log, "b"))
    with pytest.raises(MaxChildren) as info:
        await DynamicSupervisor.start_child(sup, ChildSpec.worker("c", Worker, log, "c"))
    assert info.value.reason == "max_children"
    assert [e for e in log if e[0] == "start"] == [("start", "a"), ("start", "b")]
    assert [c.ref for c in await DynamicSupervisor.which_children(sup)] == [b, a]
    assert (await DynamicSupervisor.count_children(sup)).active == 2


async def test_start_children_in_one_request(node: Node) -> None:
    """A batch starts in order; a child that fails or does not fit is an error value and
    the others still start (beyond OTP: one round trip for a swarm's batch)."""
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node, max_children=3)
    specs = [
        ChildSpec.worker("a", Worker, log, "a"),
        ChildSpec.worker("bad", Worker, log, "bad", False, ["boom"]),
        ChildSpec.worker("b", Worker, log, "b"),
        ChildSpec.worker("c", Worker, log, "c"),
        ChildSpec.worker("d", Worker, log, "d"),
    ]
    a, bad, b, c, full = await DynamicSupervisor.start_children(sup, specs)
    assert isinstance(bad, StartChildError)
    assert isinstance(full, MaxChildren)
    assert [e for e in log if e[0] == "start"] == [("start", "a"), ("start", "b"), ("start", "c")]
    assert [x.ref for x in await DynamicSupervisor.which_children(sup)] == [c, b, a]
    with pytest.raises(ConfigError, match="child"):
        await DynamicSupervisor.start_children(sup, ["not a spec"])  # type: ignore[list-item]


async def test_adopt_child_started_by_the_caller(node: Node) -> None:
    """Beyond OTP: a child the caller started (linked to the supervisor) is registered by
    the adoption it queued; its exit, queued after it, is handled as any child's."""
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node)
    spec = ChildSpec.worker("a", Worker, log, "a", restart="transient")
    ref = await spec.start(node, sup)
    await DynamicSupervisor.adopt_child(sup, spec, ref)
    node.kill(ref)  # before the supervisor has read the adoption

    async def restarted() -> Any:
        children = await DynamicSupervisor.which_children(sup)
        return children if children and children[0].ref != ref else None

    [child] = await eventually(restarted, what="the adopted child restarted")
    assert child.ref is not None
    assert child.ref.alive
    assert (await DynamicSupervisor.stats(sup)).restarts == 1
    with pytest.raises(ConfigError, match="child"):
        await DynamicSupervisor.adopt_child(sup, "not a spec", ref)  # type: ignore[arg-type]


async def test_permanent_child_restarted_with_new_ref(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node)
    spec = ChildSpec.worker("a", Worker, log, "a", name="dyn-a")
    a = await DynamicSupervisor.start_child(sup, spec)
    assert a is not None
    a.cast_nowait("crash")
    await node.wait(a)
    await eventually(lambda: node.whereis("dyn-a") not in (None, a), what="a restarted")
    new = node.whereis("dyn-a")
    assert new is not None
    assert new != a
    assert [c.ref for c in await DynamicSupervisor.which_children(sup)] == [new]


async def test_transient_normal_exit_and_temporary_are_removed(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node)
    t = await DynamicSupervisor.start_child(
        sup, ChildSpec.worker("t", Worker, log, "t", restart="transient")
    )
    tmp = await DynamicSupervisor.start_child(
        sup, ChildSpec.worker("tmp", Worker, log, "tmp", restart="temporary")
    )
    assert t is not None
    assert tmp is not None
    t.cast_nowait("normal")
    tmp.cast_nowait("crash")
    await node.wait(t)
    await node.wait(tmp)
    assert await DynamicSupervisor.which_children(sup) == []


async def test_terminate_child_and_errors(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node)
    a = await DynamicSupervisor.start_child(sup, ChildSpec.worker("a", Worker, log, "a"))
    assert a is not None
    await DynamicSupervisor.terminate_child(sup, a)
    assert not a.alive
    with pytest.raises(ChildNotFound):
        await DynamicSupervisor.terminate_child(sup, a)
    with pytest.raises(StartChildError):
        await DynamicSupervisor.start_child(
            sup, ChildSpec.worker("x", Worker, log, "x", False, ["boom"])
        )
    ignored = ChildSpec.worker("i", Worker, log, "i", False, None, 0.0, True)
    assert await DynamicSupervisor.start_child(sup, ignored) is None
    assert await DynamicSupervisor.which_children(sup) == []
    with pytest.raises(ConfigError, match="max_children"):
        await DynamicSupervisor.start(node, max_children=-1)


async def test_children_are_shut_down_concurrently(node: Node) -> None:
    """Every child's terminate waits until all children have begun terminating: only a
    concurrent shutdown lets them all finish (a sequential one kills them at 1 s)."""
    n = 5
    started: list[int] = []
    all_started = asyncio.Event()
    finished: list[int] = []

    class Barrier(Actor):
        async def init(self, i: int) -> None:
            self.i = i
            self.set_trap_exits(True)

        async def terminate(self, reason: Any) -> None:
            started.append(self.i)
            if len(started) == n:
                all_started.set()
            await all_started.wait()
            finished.append(self.i)

    sup = await DynamicSupervisor.start(node)
    for i in range(n):
        await DynamicSupervisor.start_child(sup, ChildSpec.worker(i, Barrier, i, shutdown=1.0))
    await node.stop(sup, "shutdown")
    assert sorted(finished) == list(range(n))


async def test_intensity_applies(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node, max_restarts=1, max_seconds=60)
    a = await DynamicSupervisor.start_child(sup, ChildSpec.worker("a", Worker, log, "a"))
    assert a is not None
    done = node.watch(sup)
    a.cast_nowait("crash")
    await node.wait(a)
    while True:
        kids = await DynamicSupervisor.which_children(sup)
        if kids:
            break
    assert kids[0].ref is not None
    kids[0].ref.cast_nowait("crash")
    assert await done == "shutdown"
