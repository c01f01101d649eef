"""Task children and pykka children under supervision."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pykka
import pytest
from support.waiting import eventually

from agentrt.actor import Node
from supervisors import ChildSpec, StartChildError, Supervisor, pykka_ref


async def test_task_child_normal_completion_is_not_restarted(node: Node) -> None:
    runs: list[int] = []

    async def job(n: int) -> None:
        runs.append(n)

    sup = await Supervisor.start(node, [ChildSpec.task("job", job, 7, restart="transient")])

    async def ended() -> bool:
        [info] = await Supervisor.which_children(sup)
        return info.ref is None

    await eventually(ended, what="the task child ended and stayed down")
    await Supervisor.count_children(sup)  # a restart would have run by now
    assert runs == [7]


async def test_transient_task_child_restarted_after_crash(node: Node) -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("flaky")

    await Supervisor.start(node, [ChildSpec.task("flaky", flaky, restart="transient")])
    await eventually(lambda: len(runs) >= 3, what="two restarts")
    assert len(runs) == 3


async def test_task_child_is_cancelled_on_shutdown(node: Node) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    sup = await Supervisor.start(node, [ChildSpec.task("f", forever, name="forever")])
    await eventually(started.is_set, what="the task started")
    await node.stop(sup, "shutdown")
    assert cancelled.is_set()


class Resource(pykka.ThreadingActor):  # type: ignore[misc]
    """Owns a "connection" that must only be touched from its own thread."""

    instances: list[Resource] = []

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag
        self.thread: int | None = None
        self.stopped = False
        Resource.instances.append(self)

    def on_start(self) -> None:
        self.thread = threading.get_ident()

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("resource broke")
        return (self.tag, threading.get_ident() == self.thread)

    def on_stop(self) -> None:
        self.stopped = True


async def test_pykka_child_crash_is_restarted_and_stopped_on_shutdown(node: Node) -> None:
    Resource.instances.clear()
    sup = await Supervisor.start(node, [ChildSpec.pykka("db", Resource, "db", name="db")])
    child = node.whereis("db")
    assert child is not None
    pref = await pykka_ref(child)
    assert await asyncio.to_thread(pref.ask, "query") == ("db", True)
    pref.tell("crash")  # a told message that raises stops the pykka actor
    new = await eventually(
        lambda: (ref := node.whereis("db")) not in (None, child) and ref,
        what="the pykka child restarted",
    )
    new_pref = await pykka_ref(new)
    assert new_pref is not pref
    assert await asyncio.to_thread(new_pref.ask, "query") == ("db", True)
    await node.stop(sup, "shutdown")
    assert not new_pref.is_alive()
    assert Resource.instances[-1].stopped
    assert len(Resource.instances) == 2


async def test_pykka_child_start_returns_after_on_start(node: Node) -> None:
    ready: list[int] = []

    class Slow(pykka.ThreadingActor):  # type: ignore[misc]
        def on_start(self) -> None:
            threading.Event().wait(0.05)  # a slow connect; the start must wait for it
            ready.append(threading.get_ident())

    sup = await Supervisor.start(node, [ChildSpec.pykka("s", Slow, name="s")])
    assert len(ready) == 1  # on_start has finished before the child counts as started
    child = node.whereis("s")
    assert child is not None
    assert (await pykka_ref(child)).is_alive()
    await node.stop(sup, "shutdown")


async def test_pykka_child_on_start_failure_fails_the_start(node: Node) -> None:
    class Broken(pykka.ThreadingActor):  # type: ignore[misc]
        def on_start(self) -> None:
            raise RuntimeError("cannot connect")

    with pytest.raises(StartChildError) as info:
        await Supervisor.start(node, [ChildSpec.pykka("b", Broken)])
    assert info.value.child_id == "b"
    assert isinstance(info.value.child_reason, RuntimeError)
    assert str(info.value.child_reason) == "cannot connect"
    assert node.actors() == []  # nothing left running
    assert not [r for r in pykka.ActorRegistry.get_all() if r.actor_class.__name__ == "Broken"]


async def test_pykka_child_base_exception_in_on_start_is_a_start_failure(node: Node) -> None:
    class Exits(pykka.ThreadingActor):  # type: ignore[misc]
        def on_start(self) -> None:
            raise SystemExit(3)

    with pytest.raises(StartChildError, match="SystemExit"):
        await Supervisor.start(node, [ChildSpec.pykka("e", Exits)])
    # converted to an Exception so that pykka stops and unregisters the actor
    assert not [r for r in pykka.ActorRegistry.get_all() if r.actor_class.__name__ == "Exits"]


async def test_pykka_child_failed_restart_counts_and_is_retried(node: Node) -> None:
    attempts: list[int] = []

    class Flaky(pykka.ThreadingActor):  # type: ignore[misc]
        def on_start(self) -> None:
            attempts.append(1)
            if len(attempts) > 1:
                raise OSError("still down")

        def on_receive(self, message: Any) -> Any:
            raise RuntimeError("broke")

    sup = await Supervisor.start(node, [ChildSpec.pykka("f", Flaky, name="f")], max_restarts=2)
    child = node.whereis("f")
    assert child is not None
    (await pykka_ref(child)).tell("crash")
    # crash → restart fails (1) → retried, fails (2) → retried, fails (3 > 2): give up
    assert await node.wait(sup, timeout=5) == "shutdown"
    assert len(attempts) == 1 + 2
