"""The scheduler survives stray cancellations of its worker tasks (nothing stranded)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.actors import Recorder
from support.waiting import eventually

from agentrt.actor import Actor, ActorDead, ActorRef, Caller, Node

PATIENCE = 10.0  # a bound for a hang, never a verdict on speed


class Waiter(Actor):
    """Answers ``"wait"`` once ``gate`` is set, suspending its worker meanwhile."""

    async def init(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        await self.gate.wait()
        return msg


async def one_parked_worker(node: Node, rec: ActorRef) -> asyncio.Task[None]:
    """Leave ``node`` with exactly one worker, parked; return its task."""
    await rec.call(("sleep", 0))  # the handler suspends once, then its worker parks
    sched = node._sched
    await eventually(lambda: len(sched._parked) == 1 and not sched.runner, what="one parked")
    assert len(sched.workers) == 1
    (task,) = sched.workers
    return task


async def test_parked_worker_cancelled_after_being_handed_the_role(node: Node) -> None:
    sched = node._sched
    rec = await node.spawn(Recorder)
    worker = await one_parked_worker(node, rec)
    rec.cast_nowait("a")  # wakes the parked worker: it now holds the runner role...
    assert sched.runner
    assert not sched._parked
    worker.cancel()  # ...and a stray cancel lands before it resumes
    assert await asyncio.wait_for(rec.call("b"), PATIENCE) == "b"
    assert await rec.call("log") == [("cast", "a"), ("call", "b")]
    assert worker.done()
    assert not worker.cancelled()
    assert sched.stray_cancels == 1


async def test_parked_worker_cancelled_while_waiting(node: Node) -> None:
    sched = node._sched
    rec = await node.spawn(Recorder)
    worker = await one_parked_worker(node, rec)
    worker.cancel()
    await asyncio.wait_for(asyncio.gather(worker, return_exceptions=True), PATIENCE)
    assert sched._parked == []
    assert not sched.runner
    assert await asyncio.wait_for(rec.call("b"), PATIENCE) == "b"  # a new worker runs it
    assert sched.stray_cancels == 1


async def test_stray_cancel_of_a_suspended_handler_crashes_only_that_actor(node: Node) -> None:
    sched = node._sched
    gate = asyncio.Event()
    waiter = await node.spawn(Waiter, gate)
    rec = await node.spawn(Recorder)
    pending = asyncio.ensure_future(waiter.call("x", timeout=None))
    await eventually(lambda: node._procs[waiter.pid].task is not None, what="handler suspended")
    worker = node._procs[waiter.pid].task
    assert worker is not None
    worker.cancel()
    with pytest.raises(ActorDead) as dead:
        await asyncio.wait_for(pending, PATIENCE)
    assert isinstance(dead.value.reason, asyncio.CancelledError)
    assert sched.stray_cancels == 1
    assert worker.cancelling() == 0  # the cancel ended with the handler it reached
    assert await asyncio.wait_for(rec.call("y"), PATIENCE) == "y"
