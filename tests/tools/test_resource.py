"""ResourceExecutor: one resource in one pykka thread, supervised by a real Supervisor."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pykka
import pytest
from support.waiting import eventually

from agentrt.actor import Node
from agentrt.errors import ConfigError
from agentrt.tools import ResourceBroken, ResourceExecutor, ResourceUnavailable, ToolBusy
from supervisors import Supervisor

from .conftest import other_tasks


class Conn:
    """A stand-in for a thread-bound resource (a DB connection)."""

    made = 0

    def __init__(self) -> None:
        Conn.made += 1
        self.serial = Conn.made
        self.thread = threading.current_thread()  # an ident may be reused by a later thread
        self.closed_in: threading.Thread | None = None

    @property
    def closed(self) -> bool:
        return self.closed_in is not None

    def use(self) -> int:
        assert threading.current_thread() is self.thread, "resource used from another thread"
        assert not self.closed, "resource used after close"
        return self.serial


def _executor(
    fail_after: int | None = None, **kwargs: Any
) -> tuple[ResourceExecutor[Conn], list[Conn], list[threading.Thread]]:
    """An executor whose factory records each Conn; with ``fail_after=n`` every factory
    call after the n-th raises OSError. Returns (executor, conns made, factory attempts)."""
    made: list[Conn] = []
    attempts: list[threading.Thread] = []

    def factory() -> Conn:
        attempts.append(threading.current_thread())
        if fail_after is not None and len(attempts) > fail_after:
            raise OSError("database is down")
        conn = Conn()
        made.append(conn)
        return conn

    def close(conn: Conn) -> None:
        conn.closed_in = threading.current_thread()

    return ResourceExecutor("db", factory, close=close, **kwargs), made, attempts


def _resource_actors() -> list[pykka.ActorRef[Any]]:
    """pykka actors of resource executors still alive in this process."""
    return [r for r in pykka.ActorRegistry.get_all() if r.actor_class.__name__ == "_ResourceActor"]


def _tasks() -> set[asyncio.Task[object]]:
    """Pending tasks, except the node's own scheduler workers (started on demand)."""
    return {t for t in other_tasks() if t.get_name() != "agentrt-worker"}


def _breaks(conn: Conn) -> None:
    raise ResourceBroken("connection lost")


def _breaks_when(gate: threading.Event) -> Callable[[Conn], None]:
    """A tool that blocks its actor until ``gate`` is set, then breaks the resource."""

    def breaks(conn: Conn) -> None:
        gate.wait(5)
        raise ResourceBroken("connection lost")

    return breaks


async def test_resource_lives_in_one_thread_jobs_run_in_order(node: Node) -> None:
    executor, made, _ = _executor()
    await executor.start(node)
    assert executor.alive
    assert executor.state == "running"
    order: list[int] = []

    def job(conn: Conn, i: int) -> int:
        order.append(i)
        return conn.use()

    serials = await asyncio.gather(*(executor.run(job, {"i": i}) for i in range(20)))
    assert order == list(range(20))
    assert set(serials) == {made[0].serial}
    assert made[0].thread is not threading.current_thread()
    assert executor.stats()["jobs"] == 20
    await executor.stop()


async def test_stop_runs_queued_jobs_then_closes_in_its_thread_and_leaves_nothing(
    node: Node,
) -> None:
    baseline = _tasks()
    executor, made, _ = _executor()
    await executor.start(node)
    sup = executor.supervisor
    assert sup is not None
    assert len(_resource_actors()) == 1
    gate = threading.Event()
    first = asyncio.create_task(executor.run(lambda c: gate.wait(5), {}))
    queued = [asyncio.create_task(executor.run(lambda c: c.use(), {})) for _ in range(3)]
    await asyncio.sleep(0)
    stopping = asyncio.create_task(executor.stop())
    await eventually(lambda: executor.state == "stopped")
    gate.set()
    await stopping
    assert await first is True
    assert [await q for q in queued] == [made[0].serial] * 3  # ran before the close
    assert made[0].closed_in == made[0].thread
    assert not executor.alive
    assert executor.supervisor is None
    assert not sup.alive
    assert node.actors() == []
    assert _resource_actors() == []
    assert _tasks() <= baseline
    assert executor.stats()["pending"] == 0
    with pytest.raises(ResourceUnavailable, match="stopped"):
        await executor.run(lambda c: c.use(), {})


async def test_ordinary_exception_is_returned_without_restart(node: Node) -> None:
    executor, made, _ = _executor()
    await executor.start(node)

    def bad(conn: Conn) -> None:
        raise ValueError("bad query")

    with pytest.raises(ValueError, match="bad query"):
        await executor.run(bad, {})
    assert await executor.run(lambda c: c.use(), {}) == made[0].serial
    assert executor.stats()["restarts"] == 0
    assert len(made) == 1
    await executor.stop()


async def test_broken_resource_restarted_by_the_supervisor_queued_jobs_survive(
    node: Node,
) -> None:
    executor, made, attempts = _executor()
    await executor.start(node)
    sup = executor.supervisor
    assert sup is not None
    [before] = await Supervisor.which_children(sup)
    gate = threading.Event()
    done: list[int] = []
    broken = asyncio.create_task(executor.run(_breaks_when(gate), {}))
    queued = [
        asyncio.create_task(executor.run(lambda c: c.use(), {}, lambda: done.append(1)))
        for _ in range(3)
    ]
    gave_up = asyncio.create_task(executor.run(lambda c: c.use(), {}, lambda: done.append(1)))
    await asyncio.sleep(0)
    gave_up.cancel()  # waiting in the crashing actor's inbox: skipped, slot still released
    gate.set()
    with pytest.raises(ResourceBroken):
        await broken
    serials = await asyncio.gather(*queued)
    assert len(made) == 2
    assert made[0].closed_in == made[0].thread  # closed in its own thread
    assert not made[1].closed
    assert made[1].thread is not made[0].thread  # a new thread built the new resource
    assert attempts == [made[0].thread, made[1].thread]
    assert set(serials) == {made[1].serial}  # resubmitted to the new actor
    await eventually(lambda: len(done) == 4)
    [after] = await Supervisor.which_children(sup)
    assert after.id == before.id == "db"
    assert after.ref is not None
    assert after.ref != before.ref
    assert executor.supervisor == sup
    assert executor.stats()["restarts"] == 1
    assert executor.stats()["pending"] == 0
    assert executor.alive
    assert len(_resource_actors()) == 1
    await executor.stop()
    assert made[1].closed


async def test_base_exception_in_a_tool_restarts_the_resource(node: Node) -> None:
    executor, made, _ = _executor()
    await executor.start(node)

    def exits(conn: Conn) -> None:
        raise SystemExit(1)

    with pytest.raises(RuntimeError, match="SystemExit"):
        await executor.run(exits, {})
    assert await executor.run(lambda c: c.use(), {}) == made[1].serial
    assert made[0].closed
    assert executor.stats()["restarts"] == 1
    assert len(_resource_actors()) == 1  # pykka did not stop all actors
    await executor.stop()


async def test_factory_failing_on_restart_is_retried_by_the_supervisor(node: Node) -> None:
    attempts: list[str] = []
    outcomes = iter(["ok", "down", "down", "ok"])

    def factory() -> Conn:
        attempts.append(outcome := next(outcomes))
        if outcome == "down":
            raise OSError("database is down")
        return Conn()

    executor: ResourceExecutor[Conn] = ResourceExecutor("db", factory, max_restarts=5)
    await executor.start(node)
    waiting = [asyncio.create_task(executor.run(lambda c: c.use(), {})) for _ in range(2)]
    with pytest.raises(ResourceBroken):
        await executor.run(_breaks, {})
    assert len(set(await asyncio.gather(*waiting))) == 1
    assert await executor.run(lambda c: c.use(), {}) > 0
    assert attempts == ["ok", "down", "down", "ok"]
    assert executor.state == "running"
    await executor.stop()


async def test_factory_failing_at_start_is_a_clear_error(node: Node) -> None:
    executor, _, attempts = _executor(fail_after=0)
    with pytest.raises(ResourceUnavailable, match=r"factory failed.*database is down") as info:
        await executor.start(node)
    assert isinstance(info.value.__cause__.child_reason, OSError)  # type: ignore[union-attr]
    assert len(attempts) == 1  # a failed start is not retried (OTP start semantics)
    assert executor.state == "failed"
    assert executor.supervisor is None
    assert node.actors() == []
    assert _resource_actors() == []
    with pytest.raises(ResourceUnavailable, match="failed"):
        await executor.run(lambda c: c.use(), {})
    await executor.stop()
    assert executor.state == "stopped"


async def test_supervisor_giving_up_fails_queued_and_later_jobs(node: Node) -> None:
    executor, made, attempts = _executor(fail_after=1, max_restarts=2)
    await executor.start(node)
    sup = executor.supervisor
    assert sup is not None
    exited = node.watch(sup)
    gate = threading.Event()
    broken = asyncio.create_task(executor.run(_breaks_when(gate), {}))
    queued = asyncio.create_task(executor.run(lambda c: c.use(), {}))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(ResourceBroken):
        await broken
    with pytest.raises(ResourceUnavailable, match=r"supervisor exited \('shutdown': gave up"):
        await queued  # failed when the supervisor exited, not by a timeout
    assert await exited == "shutdown"
    assert executor.state == "failed"
    assert len(attempts) == 1 + 2  # the first start, then the 2 restarts allowed
    assert made[0].closed
    assert _resource_actors() == []
    with pytest.raises(ResourceUnavailable, match="failed"):
        await executor.run(lambda c: c.use(), {})
    await executor.stop()


async def test_start_again_after_giving_up(node: Node) -> None:
    executor, made, _ = _executor(max_restarts=0)
    await executor.start(node)
    with pytest.raises(ResourceBroken):
        await executor.run(_breaks, {})
    await eventually(lambda: executor.state == "failed")
    assert len(made) == 1  # max_restarts=0: the supervisor gave up without restarting
    await executor.start(node)
    assert executor.state == "running"
    assert await executor.run(lambda c: c.use(), {}) == made[1].serial
    await executor.stop()


async def test_queued_job_of_a_caller_that_gave_up_is_skipped(node: Node) -> None:
    executor, _, _ = _executor()
    await executor.start(node)
    gate = threading.Event()
    ran: list[str] = []
    released: list[str] = []
    first = asyncio.create_task(executor.run(lambda c: gate.wait(5), {}))
    second = asyncio.create_task(
        executor.run(lambda c: ran.append("second"), {}, lambda: released.append("second"))
    )
    await asyncio.sleep(0)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    gate.set()
    assert await first is True
    assert await executor.run(lambda c: "after", {}) == "after"
    assert ran == []
    assert released == ["second"]
    await executor.stop()


async def test_max_queue_makes_callers_busy(node: Node) -> None:
    executor, _, _ = _executor(max_queue=2)
    await executor.start(node)
    gate = threading.Event()
    jobs = [asyncio.create_task(executor.run(lambda c: gate.wait(5), {})) for _ in range(2)]
    await asyncio.sleep(0)
    released: list[int] = []
    with pytest.raises(ToolBusy):
        await executor.run(lambda c: c.use(), {}, lambda: released.append(1))
    assert released == [1]
    gate.set()
    assert await asyncio.gather(*jobs) == [True, True]
    await executor.stop()


def test_config_is_validated() -> None:
    for kwargs, key in [
        ({"max_restarts": -1}, "max_restarts"),
        ({"max_seconds": 0}, "max_seconds"),
        ({"max_queue": 0}, "max_queue"),
        ({"shutdown": -1.0}, "child.shutdown"),
    ]:
        with pytest.raises(ConfigError) as info:
            ResourceExecutor("db", Conn, **kwargs)
        assert info.value.key == key
