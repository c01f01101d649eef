"""The scheduler survives stray cancellations of its worker tasks (nothing stranded)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.actors import Recorder
from support.waiting import eventually

from agentrt.actor import Actor, ActorDead, ActorRef, Caller, Node, NodeConfig

PATIENCE = 10.0  # a bound for a hang, never a verdict on speed


class Waiter(Actor):
    """Answers ``"wait"`` once ``gate`` is set, suspending its worker meanwhile; the worker
    task running the handler is handed to ``running``."""

    async def init(self, gate: asyncio.Event, running: asyncio.Future[asyncio.Task[Any]]) -> None:
        self.gate = gate
        self.running = running

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        task = asyncio.current_task()
        assert task is not None
        self.running.set_result(task)
        await self.gate.wait()
        return msg


def workers() -> list[asyncio.Task[Any]]:
    """The node's worker tasks (the scheduler names them)."""
    return [t for t in asyncio.all_tasks() if t.get_name() == "agentrt-worker"]


async def one_parked_worker(node: Node, rec: ActorRef) -> asyncio.Task[Any]:
    """Leave ``node`` with exactly one worker, parked; return its task."""
    await rec.call(("sleep", 0))  # the handler suspends once, then its worker parks
    await eventually(
        lambda: node.stats().parked_workers == 1 and node.stats().workers == 1,
        what="one parked",
    )
    (task,) = workers()
    return task


async def test_parked_worker_cancelled_after_being_handed_the_role(node: Node) -> None:
    rec = await node.spawn(Recorder)
    worker = await one_parked_worker(node, rec)
    rec.cast_nowait("a")  # wakes the parked worker: it now holds the runner role...
    assert node.stats().parked_workers == 0
    assert node.stats().run_queue == 1
    worker.cancel()  # ...and a stray cancel lands before it resumes
    assert await asyncio.wait_for(rec.call("b"), PATIENCE) == "b"
    assert await rec.call("log") == [("cast", "a"), ("call", "b")]
    assert worker.done()
    assert not worker.cancelled()
    assert node.stats().stray_cancels == 1


async def test_parked_worker_cancelled_while_waiting(node: Node) -> None:
    rec = await node.spawn(Recorder)
    worker = await one_parked_worker(node, rec)
    worker.cancel()
    await asyncio.wait_for(asyncio.gather(worker, return_exceptions=True), PATIENCE)
    assert node.stats().parked_workers == 0
    assert node.stats().workers == 0
    assert await asyncio.wait_for(rec.call("b"), PATIENCE) == "b"  # a new worker runs it
    assert node.stats().stray_cancels == 1


async def test_stray_cancel_of_a_suspended_handler_crashes_only_that_actor(node: Node) -> None:
    gate = asyncio.Event()
    running: asyncio.Future[asyncio.Task[Any]] = asyncio.get_running_loop().create_future()
    waiter = await node.spawn(Waiter, gate, running)
    rec = await node.spawn(Recorder)
    pending = asyncio.ensure_future(waiter.call("x", timeout=None))
    worker = await asyncio.wait_for(running, PATIENCE)
    await eventually(lambda: node.info(waiter).state == "running", what="handler suspended")
    assert worker.get_name() == "agentrt-worker"
    worker.cancel()
    with pytest.raises(ActorDead) as dead:
        await asyncio.wait_for(pending, PATIENCE)
    assert isinstance(dead.value.reason, asyncio.CancelledError)
    assert node.stats().stray_cancels == 1
    assert worker.cancelling() == 0  # the cancel ended with the handler it reached
    assert await asyncio.wait_for(rec.call("y"), PATIENCE) == "y"


async def test_stray_cancel_of_the_runner_while_it_yields_passes_the_role() -> None:
    async with Node(NodeConfig(watchdog=False, shutdown_timeout=1.0, yield_every=1)) as node:
        a = await node.spawn(Recorder)
        b = await node.spawn(Recorder)
        a.cast_nowait("1")  # starts the runner...
        b.cast_nowait("2")
        await asyncio.sleep(0)  # ...which handles a's cast, then yields to the loop
        (worker,) = workers()
        assert node.stats().run_queue == 1  # b's turn comes after the yield
        worker.cancel()  # a stray cancel lands while the runner yields
        assert await asyncio.wait_for(b.call("log"), PATIENCE) == [("cast", "2")]
        assert await a.call("log") == [("cast", "1")]
        assert worker.done()
        assert node.stats().stray_cancels == 1
