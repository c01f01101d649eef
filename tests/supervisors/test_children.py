"""Task children and pykka children under supervision."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pykka
import pytest

from agentrt.actor import Node
from supervisors import ChildSpec, Supervisor, pykka_ref


async def test_task_child_normal_completion_is_not_restarted(node: Node) -> None:
    runs: list[int] = []

    async def job(n: int) -> None:
        runs.append(n)

    sup = await Supervisor.start(node, [ChildSpec.task("job", job, 7, restart="transient")])
    for _ in range(200):
        if runs:
            break
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)
    assert runs == [7]
    [info] = await Supervisor.which_children(sup)
    assert info.ref is None


async def test_transient_task_child_restarted_after_crash(node: Node) -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("flaky")

    await Supervisor.start(node, [ChildSpec.task("flaky", flaky, restart="transient")])
    for _ in range(500):
        if len(runs) == 3:
            break
        await asyncio.sleep(0.001)
    assert len(runs) == 3


async def test_task_child_is_cancelled_on_shutdown(node: Node) -> None:
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    sup = await Supervisor.start(node, [ChildSpec.task("f", forever, name="forever")])
    await asyncio.sleep(0.01)
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
    for _ in range(1000):
        new = node.whereis("db")
        if new is not None and new != child:
            break
        await asyncio.sleep(0.002)
    else:
        pytest.fail("pykka child was not restarted")
    new_pref = await pykka_ref(new)
    assert new_pref is not pref
    assert await asyncio.to_thread(new_pref.ask, "query") == ("db", True)
    await node.stop(sup, "shutdown")
    assert not new_pref.is_alive()
    assert Resource.instances[-1].stopped
    assert len(Resource.instances) == 2


async def test_pykka_child_on_start_failure_fails_the_start(node: Node) -> None:
    class Broken(pykka.ThreadingActor):  # type: ignore[misc]
        def on_start(self) -> None:
            raise RuntimeError("cannot connect")

    sup = await Supervisor.start(
        node, [ChildSpec.pykka("b", Broken, restart="transient", name="b")], max_restarts=0
    )
    # the adapter starts, then learns the pykka actor died and exits with its reason;
    # the restart limit of 0 makes the supervisor give up
    assert await node.wait(sup, timeout=5) == "shutdown"
