from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from agentrt.tools import (
    ResourceBroken,
    ResourceExecutor,
    ResourceUnavailable,
    ToolPolicy,
    ToolRegistry,
    tool,
)

from .conftest import wait_until


class Conn:
    """A stand-in for a thread-bound resource (a DB connection)."""

    made = 0

    def __init__(self) -> None:
        Conn.made += 1
        self.serial = Conn.made
        self.thread = threading.get_ident()
        self.closed = False

    def use(self) -> int:
        assert threading.get_ident() == self.thread, "resource used from another thread"
        return self.serial


def _executor(**kwargs: Any) -> tuple[ResourceExecutor[Conn], list[Conn]]:
    made: list[Conn] = []

    def factory() -> Conn:
        conn = Conn()
        made.append(conn)
        return conn

    def close(conn: Conn) -> None:
        conn.closed = True

    return ResourceExecutor("db", factory, close=close, **kwargs), made


async def test_resource_lives_in_one_thread_and_jobs_run_there() -> None:
    executor, made = _executor()
    await executor.start()
    assert executor.alive
    assert executor.state == "running"
    serials = await asyncio.gather(*(executor.run(lambda c: c.use(), {}) for _ in range(20)))
    assert set(serials) == {made[0].serial}
    assert made[0].thread != threading.get_ident()
    await executor.stop()
    assert made[0].closed
    assert not executor.alive
    with pytest.raises(ResourceUnavailable):
        await executor.run(lambda c: c.use(), {})


async def test_ordinary_exception_is_returned_without_restart() -> None:
    executor, made = _executor()
    await executor.start()

    def bad(conn: Conn) -> None:
        raise ValueError("bad query")

    with pytest.raises(ValueError, match="bad query"):
        await executor.run(bad, {})
    assert await executor.run(lambda c: c.use(), {}) == made[0].serial
    assert executor.stats()["restarts"] == 0
    await executor.stop()


async def test_broken_resource_restarts_and_queued_jobs_survive() -> None:
    executor, made = _executor()
    await executor.start()
    gate = threading.Event()

    def breaks(conn: Conn) -> None:
        gate.wait(5)
        raise ResourceBroken("connection lost")

    broken = asyncio.create_task(executor.run(breaks, {}))
    queued = [asyncio.create_task(executor.run(lambda c: c.use(), {})) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(ResourceBroken):
        await broken
    serials = await asyncio.gather(*queued)
    assert len(made) == 2
    assert made[0].closed
    assert not made[1].closed
    assert set(serials) == {made[1].serial}  # resubmitted to the new actor
    assert executor.stats()["restarts"] == 1
    assert executor.alive
    await executor.stop()


async def test_factory_failure_at_start_raises() -> None:
    def factory() -> Conn:
        raise OSError("database is down")

    executor: ResourceExecutor[Conn] = ResourceExecutor("db", factory)
    with pytest.raises(ResourceUnavailable, match="database is down"):
        await executor.start()
    assert executor.state == "failed"
    await executor.stop()


async def test_gives_up_after_max_restarts() -> None:
    attempts: list[int] = []

    def factory() -> Conn:
        attempts.append(1)
        if len(attempts) > 1:
            raise OSError("still down")
        return Conn()

    executor: ResourceExecutor[Conn] = ResourceExecutor("db", factory, max_restarts=2)

    def breaks(conn: Conn) -> None:
        raise ResourceBroken("gone")

    await executor.start()
    with pytest.raises(ResourceBroken):
        await executor.run(breaks, {})
    await wait_until(lambda: executor.state == "failed")
    assert len(attempts) == 1 + 2  # the first start, then the 2 restarts allowed
    with pytest.raises(ResourceUnavailable, match="failed"):
        await executor.run(lambda c: c.use(), {})
    await executor.stop()


async def test_queued_job_of_a_caller_that_gave_up_is_skipped() -> None:
    executor, _ = _executor()
    await executor.start()
    gate = threading.Event()
    ran: list[str] = []
    first = asyncio.create_task(executor.run(lambda c: gate.wait(5), {}))
    second = asyncio.create_task(executor.run(lambda c: ran.append("second"), {}))
    await asyncio.sleep(0.01)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    gate.set()
    assert await first is True
    assert await executor.run(lambda c: "after", {}) == "after"
    assert ran == []
    await executor.stop()


async def test_resource_tools_through_the_registry() -> None:
    executor, made = _executor()

    @tool(resource="db", policy=ToolPolicy(timeout=5))
    def serial(conn: Conn, plus: int) -> int:
        return conn.use() + plus

    @tool(resource="db")
    def crash(conn: Conn) -> int:
        raise ResourceBroken("socket closed")

    @tool(resource="cache")
    def orphan(conn: Conn) -> int:
        return 1

    registry = ToolRegistry([serial, crash, orphan])
    registry.add_resource(executor)
    async with registry:
        assert (await registry.invoke("serial", {"plus": 10})).content == str(made[0].serial + 10)
        failed = await registry.invoke("crash", {})
        assert failed.error == "exception"
        assert "socket closed" in failed.message
        assert (await registry.invoke("serial", {"plus": 0})).content == str(made[1].serial)
        missing = await registry.invoke("orphan", {})
        assert missing.error == "unavailable"
        assert registry.stats()["resources"]["db"]["restarts"] == 1
    assert executor.state == "stopped"
    assert made[1].closed


async def test_external_supervision_adopts_each_restarted_actor() -> None:
    executor, made = _executor(supervision="external")
    actor_class, *args = executor.child_args()
    refs = [actor_class.start(*args)]  # what a supervisor does
    await executor.start()
    assert executor.state == "running"
    assert await executor.run(lambda c: c.use(), {}) == made[0].serial

    def breaks(conn: Conn) -> None:
        raise ResourceBroken("lost")

    with pytest.raises(ResourceBroken):
        await executor.run(breaks, {})
    await wait_until(lambda: executor.state == "starting")
    assert executor.stats()["restarts"] == 0  # the executor did not restart it itself
    waiting = asyncio.create_task(executor.run(lambda c: c.use(), {}))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # queued until the supervisor restarts the actor
    refs.append(actor_class.start(*args))
    assert await waiting == made[1].serial
    assert made[0].closed
    await executor.stop()  # detaches: the supervisor owns the actor
    assert refs[1].is_alive()
    refs[1].stop()
    assert made[1].closed
