"""``init`` returning ``Continue(arg)``: OTP's ``handle_continue`` (issue 23 §1).

The start is acknowledged as soon as ``init`` returns; ``handle_continue`` runs before any
message; messages sent meanwhile wait, in order; a crash in it is a crash like any other.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.waiting import eventually

from agentrt.actor import (
    IGNORE,
    ActorDead,
    Caller,
    Continue,
    Down,
    Ignored,
    InitError,
    Node,
    NodeConfig,
    Stop,
)
from agentrt.actor import Actor as _Actor
from supervisors import ChildSpec, Supervisor


class Loader(_Actor):
    """Chains ``steps`` continues, each waiting for ``gate``, then logs every message."""

    trap_exits = True

    async def init(self, log: list[Any], gate: asyncio.Event, steps: int = 1) -> Any:
        self.log = log
        self.gate = gate
        log.append("init")
        return Continue(steps)

    async def handle_continue(self, arg: int) -> Any:
        await self.gate.wait()
        self.gate.clear()
        self.log.append(("continue", arg))
        if arg == "boom":
            raise RuntimeError("load failed")
        if arg == "stop":
            return Stop(("shutdown", "no_data"))
        return Continue(arg - 1) if arg > 1 else None

    async def handle_cast(self, msg: Any) -> None:
        self.log.append(msg)

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        self.log.append(msg)
        return msg

    async def terminate(self, reason: Any) -> None:
        self.log.append(("terminate", reason))


async def _queued(node: Node, ref: Any) -> None:
    """Wait until the continue runs (blocked on its gate) with one message queued."""
    await eventually(lambda: node.info(ref).current_message is not None, what="continue")
    await eventually(lambda: ref.stats().depth == 1, what="the call queued")


async def test_spawn_returns_before_handle_continue_and_messages_wait_in_order(
    node: Node,
) -> None:
    log: list[Any] = []
    gate = asyncio.Event()
    ref = await node.spawn(Loader, log, gate)
    assert log == ["init"]  # acknowledged: handle_continue has not run
    await ref.cast("a")
    call = asyncio.ensure_future(ref.call("b"))
    ref.send("c")  # an info: handle_info is not overridden, but it must wait too
    await asyncio.sleep(0.01)
    assert log == ["init"]
    assert not call.done()
    assert ref.stats().depth == 3  # the continue is running: the three messages wait
    gate.set()
    assert await call == "b"
    assert log == ["init", ("continue", 1), "a", "b"]


async def test_a_chain_of_continues_runs_before_any_message(node: Node) -> None:
    log: list[Any] = []
    gate = asyncio.Event()
    ref = await node.spawn(Loader, log, gate, 3)
    await ref.cast("m")
    for _ in range(3):
        gate.set()
        await eventually(lambda: not gate.is_set(), what="one step of the chain")
    assert await ref.call("end") == "end"
    assert log == ["init", ("continue", 3), ("continue", 2), ("continue", 1), "m", "end"]


async def test_a_crash_in_handle_continue_is_a_crash(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []
    gate = asyncio.Event()
    ref = await node.spawn(Loader, log, gate, "boom")
    done = node.watch(ref)
    waiting = asyncio.ensure_future(ref.call("never handled"))
    await _queued(node, ref)
    crashes = node.stats().crashes
    with caplog.at_level(logging.ERROR, logger="agentrt.actor"):
        gate.set()
        with pytest.raises(ActorDead) as info:
            await waiting
    reason = await done
    assert isinstance(reason, RuntimeError)
    assert info.value.reason is reason
    assert log == ["init", ("continue", "boom"), ("terminate", reason)]
    assert node.stats().crashes == crashes + 1
    assert any("handle_continue" in r.getMessage() for r in caplog.records)


async def test_handle_continue_may_stop(node: Node) -> None:
    log: list[Any] = []
    gate = asyncio.Event()
    ref = await node.spawn(Loader, log, gate, "stop")
    waiting = asyncio.ensure_future(ref.call("x"))
    await _queued(node, ref)
    crashes = node.stats().crashes
    gate.set()
    with pytest.raises(ActorDead) as info:
        await waiting
    assert info.value.reason == ("shutdown", "no_data")
    assert log[-1] == ("terminate", ("shutdown", "no_data"))
    assert node.stats().crashes == crashes  # a decision, not a crash


async def test_kill_during_handle_continue(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Loader, log, asyncio.Event())
    waiting = asyncio.ensure_future(ref.call("x"))
    await eventually(lambda: node.info(ref).current_message == "int", what="continue runs")
    node.kill(ref)
    with pytest.raises(ActorDead) as info:
        await waiting
    assert info.value.reason == "killed"
    assert log == ["init"]  # neither the continue's end nor terminate ran


class NoHandler(_Actor):
    async def init(self) -> Any:
        return Continue("x")


async def test_continue_without_handle_continue_crashes(node: Node) -> None:
    ref = await node.spawn(NoHandler)
    reason = await node.wait(ref)
    assert isinstance(reason, NotImplementedError)
    assert "has no handle_continue" in str(reason)


class Flaky(_Actor):
    """Its first incarnation fails in handle_continue; the restarted one works."""

    async def init(self, attempts: list[int]) -> Any:
        self.attempts = attempts
        attempts.append(len(attempts))
        return Continue()

    async def handle_continue(self, arg: Any) -> None:
        if len(self.attempts) == 1:
            raise RuntimeError("first load fails")

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        return len(self.attempts)


async def test_the_supervisor_sees_a_crash_in_handle_continue(node: Node) -> None:
    attempts: list[int] = []
    spec = ChildSpec.worker("flaky", Flaky, attempts, name="flaky")
    sup = await Supervisor.start(node, [spec])
    first = node.whereis("flaky")
    assert first is not None  # start acknowledged before the failing continue

    async def restarted() -> Any:
        ref = node.whereis("flaky")
        return ref if ref is not None and ref != first else None

    second = await eventually(restarted, what="the restarted child")
    assert await second.call("n") == 2
    stats = await Supervisor.stats(sup)
    assert stats.restarts == 1


class Watcher(_Actor):
    async def init(self, seen: list[Any]) -> None:
        self.seen = seen

    async def handle_info(self, msg: Any) -> None:
        self.seen.append(msg)


async def test_monitors_see_the_reason_of_a_failed_continue(node: Node) -> None:
    seen: list[Any] = []
    watcher = await node.spawn(Watcher, seen)
    gate = asyncio.Event()
    ref = await node.spawn(Loader, [], gate, "boom")
    node.monitor(watcher, ref)
    gate.set()
    await eventually(lambda: seen, what="Down")
    [down] = seen
    assert isinstance(down, Down)
    assert isinstance(down.reason, RuntimeError)


class Plain(_Actor):
    async def init(self, result: Any) -> Any:
        return result


async def test_stop_and_ignore_from_init_still_work(node: Node) -> None:
    with pytest.raises(InitError) as info:
        await node.spawn(Plain, Stop("bad"))
    assert info.value.reason == "bad"
    with pytest.raises(Ignored):
        await node.spawn(Plain, IGNORE)
    assert len(node) == 0


# -- property: message order across continue ----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(1, 4),
    script=st.lists(st.sampled_from(["cast", "call", "step"]), min_size=0, max_size=30),
)
def test_messages_wait_in_order_across_continue(steps: int, script: list[str]) -> None:
    """Whatever the interleaving of sends and continue steps: every continue of the chain
    runs before any message, in chain order, and the messages are handled in send order,
    none lost (casts and calls mixed)."""

    async def scenario() -> None:
        async with Node(NodeConfig(watchdog=False)) as node:
            log: list[Any] = []
            gate = asyncio.Event()
            ref = await node.spawn(Loader, log, gate, steps)
            calls = []
            sent = []
            for i, op in enumerate(script):
                if op == "step":
                    gate.set()
                    await asyncio.sleep(0)
                    await asyncio.sleep(0)
                elif op == "cast":
                    await ref.cast(i)
                    sent.append(i)
                else:
                    calls.append(asyncio.ensure_future(ref.call(i)))
                    sent.append(i)
                    await asyncio.sleep(0)
            while sum(1 for x in log if isinstance(x, tuple)) < steps:
                gate.set()
                await asyncio.sleep(0)
            assert await asyncio.gather(*calls) == [i for i in sent if script[i] == "call"]
            assert await ref.call("end") == "end"
            chain = [("continue", k) for k in range(steps, 0, -1)]
            assert log == ["init", *chain, *sent, "end"]

    asyncio.run(scenario())
