"""Spawning, calls, casts, infos, ordering, stop, and node shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.actors import Recorder
from support.waiting import eventually

from agentrt.actor import (
    NOREPLY,
    Actor,
    ActorDead,
    ActorDefinitionError,
    ActorError,
    Caller,
    CallTimeout,
    Ignored,
    InitError,
    Node,
    NodeClosed,
    NodeConfig,
    StopTimeout,
)


async def test_call_cast_info_round_trip(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Recorder, log)
    await ref.cast("a")
    ref.cast_nowait("b")
    ref.send("c")
    assert await ref.call("d") == "d"
    assert log == [("cast", "a"), ("cast", "b"), ("info", "c"), ("call", "d")]


async def test_messages_from_one_sender_arrive_in_send_order(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Recorder, log)
    for i in range(500):
        ref.cast_nowait(i)
    await ref.call("sync")
    assert [m for k, m in log if k == "cast"] == list(range(500))


async def test_one_message_at_a_time_even_when_handlers_suspend(node: Node) -> None:
    class Slow(Actor):
        async def init(self) -> None:
            self.active = 0
            self.max_active = 0

        async def handle_cast(self, msg: Any) -> None:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            await asyncio.sleep(0)
            self.active -= 1

        async def handle_call(self, msg: Any, caller: Caller) -> int:
            return self.max_active

    ref = await node.spawn(Slow)
    for _ in range(50):
        ref.cast_nowait(None)
    assert await ref.call("max") == 1


async def test_init_args_and_state(node: Node) -> None:
    class Counter(Actor):
        async def init(self, start: int) -> None:
            self.n = start

        async def handle_cast(self, msg: int) -> None:
            self.n += msg

        async def handle_call(self, msg: Any, caller: Caller) -> int:
            return self.n

    ref = await node.spawn(Counter, 10)
    await ref.cast(5)
    assert await ref.call("get") == 15


async def test_init_failure_raises_init_error_and_actor_is_gone(node: Node) -> None:
    class Bad(Actor):
        async def init(self) -> None:
            raise ValueError("no config")

    with pytest.raises(InitError) as info:
        await node.spawn(Bad, name="bad")
    assert isinstance(info.value.reason, ValueError)
    assert not info.value.actor.alive
    assert node.whereis("bad") is None
    assert len(node) == 0


async def test_init_returning_ignore(node: Node) -> None:
    from agentrt.actor import IGNORE

    class Skip(Actor):
        async def init(self) -> Any:
            return IGNORE

    with pytest.raises(Ignored):
        await node.spawn(Skip)
    assert len(node) == 0


async def test_messages_sent_during_a_suspended_init_wait_for_it(node: Node) -> None:
    gate = asyncio.Event()

    class Late(Actor):
        async def init(self) -> None:
            self.ready = False
            await gate.wait()
            self.ready = True

        async def handle_call(self, msg: Any, caller: Caller) -> bool:
            return self.ready

    spawn = asyncio.ensure_future(node.spawn(Late, name="late"))
    ref = await eventually(lambda: node.whereis("late"), what="the name registered")
    call = asyncio.ensure_future(ref.call("ready?"))
    await asyncio.sleep(0.01)
    assert not call.done()
    gate.set()
    assert await spawn == ref
    assert await call is True


async def test_spawn_rejects_non_actor_class(node: Node) -> None:
    with pytest.raises(TypeError, match="Actor subclass"):
        await node.spawn(int)  # type: ignore[type-var]


def test_sync_callback_is_rejected_at_class_definition() -> None:
    with pytest.raises(ActorDefinitionError, match="async def") as info:

        class Wrong(Actor):
            def handle_cast(self, msg: Any) -> None:  # type: ignore[override]
                pass

    assert isinstance(info.value, TypeError)
    assert info.value.cls.endswith("Wrong")
    assert info.value.hook == "handle_cast"


async def test_call_to_dead_actor_raises_noproc(node: Node) -> None:
    ref = await node.spawn(Recorder)
    await node.stop(ref)
    with pytest.raises(ActorDead) as info:
        await ref.call("x")
    assert info.value.reason == "noproc"
    with pytest.raises(ActorDead):
        await ref.cast("x")
    with pytest.raises(ActorDead):
        ref.send("x")


async def test_crash_during_call_gives_caller_the_crash_reason(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Recorder, log)
    with pytest.raises(ActorDead) as info:
        await ref.call("crash")
    assert isinstance(info.value.reason, RuntimeError)
    assert not ref.alive
    # terminate ran after the crash, with the exception as reason
    assert log[-1][0] == "terminate"
    assert isinstance(log[-1][1], RuntimeError)


async def test_crash_is_logged_once_with_actor_named(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    ref = await node.spawn(Recorder)
    ref.cast_nowait("crash")
    assert await node.wait(ref) is not None
    records = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert len(records) == 1
    assert "Recorder" in records[0].getMessage()


async def test_crash_does_not_affect_other_actors(node: Node) -> None:
    a = await node.spawn(Recorder)
    b = await node.spawn(Recorder)
    a.cast_nowait("crash")
    await node.wait(a)
    assert await b.call("ping") == "ping"
    assert node.stats().crashes == 1


async def test_call_timeout_and_late_reply_is_dropped(node: Node) -> None:
    class Deferring(Actor):
        async def init(self) -> None:
            self.pending: list[Caller] = []

        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if msg == "hold":
                self.pending.append(caller)
                return NOREPLY
            if msg == "release":
                return [c.reply("late") for c in self.pending]
            return msg

    ref = await node.spawn(Deferring)
    with pytest.raises(CallTimeout) as info:
        await ref.call("hold", timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    assert "Deferring" in str(info.value)
    assert await ref.call("release") == [False]  # the late reply went nowhere
    assert await ref.call("next") == "next"  # and was not delivered to this call


async def test_deferred_reply(node: Node) -> None:
    class Broker(Actor):
        async def init(self) -> None:
            self.waiting: list[Caller] = []

        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if msg == "wait":
                self.waiting.append(caller)
                return NOREPLY
            for c in self.waiting:
                c.reply(msg)
            return len(self.waiting)

    ref = await node.spawn(Broker)
    waiters = [asyncio.ensure_future(ref.call("wait")) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert await ref.call("go") == 3
    assert await asyncio.gather(*waiters) == ["go", "go", "go"]


async def test_deferred_caller_fails_when_actor_dies(node: Node) -> None:
    class Holder(Actor):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            return NOREPLY

    ref = await node.spawn(Holder)
    pending = asyncio.ensure_future(ref.call("x"))
    await eventually(lambda: node.stats().messages >= 1, what="the call handled")
    node.kill(ref)
    with pytest.raises(ActorDead) as info:
        await pending
    assert info.value.reason == "killed"


async def test_call_to_self_raises(node: Node) -> None:
    class Selfish(Actor):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if msg == "outer":
                try:
                    await self.ref.call("inner")
                except ActorError as exc:
                    return str(exc)
            return "inner"

    ref = await node.spawn(Selfish)
    assert "deadlock" in await ref.call("outer")


async def test_stop_runs_terminate_in_mailbox_order(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Recorder, log)
    ref.cast_nowait(1)
    ref.cast_nowait(2)
    await node.stop(ref, "normal")
    assert log == [("cast", 1), ("cast", 2), ("terminate", "normal")]
    assert not ref.alive


async def test_self_stop_after_handler(node: Node) -> None:
    log: list[Any] = []

    class Quitter(Recorder):
        async def handle_cast(self, msg: Any) -> None:
            self.stop("done")
            self.log.append(("still running", msg))

    ref = await node.spawn(Quitter, log)
    ref.cast_nowait("bye")
    assert await node.wait(ref) == "done"
    assert log == [("still running", "bye"), ("terminate", "done")]


async def test_self_stop_in_handle_call_still_replies(node: Node) -> None:
    log: list[Any] = []

    class Quitter(Recorder):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            self.stop("done")
            return ("bye", msg)

    ref = await node.spawn(Quitter, log)
    assert await ref.call(1) == ("bye", 1)  # the reply is sent, then terminate runs
    await eventually(lambda: not ref.alive, what="stopped")
    assert log == [("terminate", "done")]


async def test_stop_timeout(node: Node) -> None:
    class Stubborn(Actor):
        async def terminate(self, reason: Any) -> None:
            await asyncio.sleep(10)

    ref = await node.spawn(Stubborn)
    with pytest.raises(StopTimeout):
        await node.stop(ref, timeout=0.05)
    assert ref.alive
    node.kill(ref)  # kill cuts a terminate in progress short
    assert await node.wait(ref) == "noproc"


async def test_node_close_stops_everything_and_leaves_no_tasks() -> None:
    log: list[Any] = []

    class Sleeper(Actor):
        async def handle_cast(self, msg: Any) -> None:
            await asyncio.sleep(30)

    async with Node(NodeConfig(watchdog=True, shutdown_timeout=0.2)) as node:
        refs = [await node.spawn(Recorder, log) for _ in range(100)]
        s = await node.spawn(Sleeper)
        s.cast_nowait("sleep")
        timer_target = refs[0]
        node.send_after(timer_target, "never", 60)
        pending_call = asyncio.ensure_future(s.call("x", timeout=None))
        await asyncio.sleep(0.01)
    assert len(node) == 0
    assert sum(1 for e in log if e[0] == "terminate") == 100
    with pytest.raises(ActorDead):
        await pending_call
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current] == []
    with pytest.raises(NodeClosed):
        await node.spawn(Recorder)


async def test_two_nodes_do_not_see_each_other() -> None:
    async with Node(NodeConfig(watchdog=False)) as a, Node(NodeConfig(watchdog=False)) as b:
        ra = await a.spawn(Recorder, name="x")
        rb = await b.spawn(Recorder, name="x")
        assert a.whereis("x") == ra
        assert b.whereis("x") == rb
        assert len(a) == 1
        assert len(b) == 1


async def test_idle_actor_owns_no_task(node: Node) -> None:
    refs = [await node.spawn(Recorder) for _ in range(1000)]
    await asyncio.gather(*(r.call("x") for r in refs))
    await eventually(
        lambda: all(node.info(r).state == "idle" for r in refs), what="every actor idle"
    )
    # only the node's worker tasks exist, not one per actor
    assert node.stats().workers <= 17
    assert all(r.stats().depth == 0 for r in refs)


async def test_stats_and_info(node: Node) -> None:
    ref = await node.spawn(Recorder, name="rec")
    await ref.call("x")
    info = node.info(ref)
    assert info.actor_class == "Recorder"
    assert info.state == "idle"
    assert info.names == ("rec",)
    stats = node.stats()
    assert stats.actors == 1
    assert stats.spawned == 1
    assert stats.messages >= 1


async def test_multi_call_returns_replies_and_errors_in_order(node: Node) -> None:
    class Echo(Actor):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if msg == "hold":
                return NOREPLY
            return (self.ref.pid, msg)

    refs = [await node.spawn(Echo) for _ in range(5)]
    dead = await node.spawn(Echo)
    await node.stop(dead)
    crasher = await node.spawn(Recorder)
    out = await node.multi_call([*refs, dead, crasher], "crash")
    assert out[:5] == [(r.pid, "crash") for r in refs]
    assert isinstance(out[5], ActorDead)
    assert out[5].reason == "noproc"
    assert isinstance(out[6], ActorDead)
    assert isinstance(out[6].reason, RuntimeError)
    slow = await node.multi_call([refs[0]], "hold", timeout=0.02)
    assert isinstance(slow[0], CallTimeout)
    assert await node.multi_call([], "x") == []


def test_run_applies_and_restores_gc_thresholds() -> None:
    import gc

    from agentrt.actor import SERVER_GC_THRESHOLDS, run

    before = gc.get_threshold()

    async def probe() -> tuple[int, int, int]:
        return gc.get_threshold()

    assert run(probe(), use_uvloop=False) == SERVER_GC_THRESHOLDS
    assert gc.get_threshold() == before
    assert run(probe(), use_uvloop=False, gc_thresholds=None) == before


async def test_mailbox_totals(node: Node) -> None:
    gate = asyncio.Event()

    class Waiter(Actor):
        async def handle_cast(self, msg: Any) -> None:
            await gate.wait()

    a = await node.spawn(Waiter)
    for i in range(4):
        a.cast_nowait(i)
    await asyncio.sleep(0)
    queued, deepest = node.mailbox_totals()
    assert queued == 3  # one is being handled
    assert deepest == 4
    gate.set()
