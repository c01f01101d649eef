"""Supervisor: one test per OTP behaviour of OTP-SEMANTICS.md."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.waiting import eventually
from support.workers import Worker, events

from agentrt.actor import ActorDead, ActorRef, Node
from agentrt.errors import ConfigError, InvalidArgument
from supervisors import (
    AlreadyPresent,
    AlreadyStarted,
    ChildNotFound,
    ChildRunning,
    ChildSpec,
    StartChildError,
    Supervisor,
)


def spec(log: list[Any], wid: str, **kw: Any) -> ChildSpec:
    restart = kw.pop("restart", "permanent")
    shutdown = kw.pop("shutdown", None)
    return ChildSpec.worker(
        wid, Worker, log, wid, *kw.pop("args", ()), restart=restart, shutdown=shutdown,
        name=wid,
    )  # fmt: skip


def trap(log: list[Any], wid: str, **kw: Any) -> ChildSpec:
    return ChildSpec.worker(
        wid,
        Worker,
        log,
        wid,
        True,
        restart=kw.get("restart", "permanent"),
        shutdown=kw.get("shutdown"),
        name=wid,
    )


async def restarted(node: Node, wid: str, old: ActorRef) -> ActorRef:
    """Wait until the child registered as ``wid`` has been replaced."""

    def successor() -> ActorRef | None:
        ref = node.whereis(wid)
        return ref if ref is not None and ref != old else None

    return await eventually(successor, what=f"{wid} restarted")


async def settle(sup: ActorRef) -> None:
    """Let the supervisor handle what is already queued for it."""
    await Supervisor.count_children(sup)


async def test_children_start_in_order_and_stop_in_reverse(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [trap(log, "a"), trap(log, "b"), trap(log, "c")])
    assert events(log, "start") == ["a", "b", "c"]
    await node.stop(sup, "shutdown")
    assert events(log, "terminate") == ["c", "b", "a"]
    assert all(e[2] == "shutdown" for e in log if e[0] == "terminate")
    assert len(node) == 0


async def test_one_for_one_restarts_only_the_failed_child(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [spec(log, "a"), spec(log, "b"), spec(log, "c")])
    a, b, c = (node.whereis(x) for x in "abc")
    assert b is not None
    b.cast_nowait("crash")
    new_b = await restarted(node, "b", b)
    assert node.whereis("a") == a
    assert node.whereis("c") == c
    assert await new_b.call("hi") == "hi"
    assert events(log, "start") == ["a", "b", "c", "b"]
    await settle(sup)


async def test_one_for_all_stops_others_in_reverse_then_starts_all_in_order(node: Node) -> None:
    log: list[Any] = []
    children = [trap(log, "a"), trap(log, "b"), trap(log, "c")]
    sup = await Supervisor.start(node, children, strategy="one_for_all")
    b = node.whereis("b")
    c = node.whereis("c")
    assert b is not None
    assert c is not None
    log.clear()
    b.cast_nowait("crash")
    await restarted(node, "c", c)
    await settle(sup)
    # b crashed (terminate with its exception), then c and a stopped in reverse order
    terms = [(e[1], e[2]) for e in log if e[0] == "terminate"]
    assert terms[0][0] == "b"
    assert isinstance(terms[0][1], RuntimeError)
    assert terms[1:] == [("c", "shutdown"), ("a", "shutdown")]
    assert events(log, "start") == ["a", "b", "c"]


async def test_rest_for_one_restarts_failed_and_later_children(node: Node) -> None:
    log: list[Any] = []
    children = [trap(log, "a"), trap(log, "b"), trap(log, "c"), trap(log, "d")]
    sup = await Supervisor.start(node, children, strategy="rest_for_one")
    a = node.whereis("a")
    b = node.whereis("b")
    assert b is not None
    log.clear()
    b.cast_nowait("crash")
    await restarted(node, "b", b)
    await settle(sup)
    assert node.whereis("a") == a
    terms = [e[1] for e in log if e[0] == "terminate"]
    assert terms == ["b", "d", "c"]
    assert events(log, "start") == ["b", "c", "d"]


async def test_restarted_child_keeps_its_position(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [spec(log, "a"), spec(log, "b"), spec(log, "c")])
    a = node.whereis("a")
    assert a is not None
    a.cast_nowait("crash")
    await restarted(node, "a", a)
    ids = [c.id for c in await Supervisor.which_children(sup)]
    assert ids == ["c", "b", "a"]  # newest first, as started: position unchanged
    log.clear()
    await node.stop(sup, "shutdown")
    # shutdown order is still the start order reversed
    assert [e[1] for e in log if e[0] == "terminate"] == []  # non-trapping: no terminate
    assert len(node) == 0


async def test_permanent_child_restarted_even_after_normal_exit(node: Node) -> None:
    log: list[Any] = []
    await Supervisor.start(node, [spec(log, "p")])
    p = node.whereis("p")
    assert p is not None
    p.cast_nowait("normal")
    await restarted(node, "p", p)


@pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", "bye")])
async def test_transient_child_not_restarted_on_clean_exits(node: Node, reason: Any) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [spec(log, "t", restart="transient")])
    t = node.whereis("t")
    assert t is not None
    t.cast_nowait(reason)
    await node.wait(t)
    await settle(sup)
    assert node.whereis("t") is None
    [info] = await Supervisor.which_children(sup)
    assert info.id == "t"
    assert info.ref is None  # the spec is kept ...
    new = await Supervisor.restart_child(sup, "t")  # ... so restart_child works
    assert new is not None
    assert node.whereis("t") == new


async def test_transient_child_restarted_on_crash(node: Node) -> None:
    log: list[Any] = []
    await Supervisor.start(node, [spec(log, "t", restart="transient")])
    t = node.whereis("t")
    assert t is not None
    t.cast_nowait("crash")
    await restarted(node, "t", t)


async def test_temporary_child_never_restarted_and_removed(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [spec(log, "tmp", restart="temporary")])
    t = node.whereis("tmp")
    assert t is not None
    t.cast_nowait("crash")
    await node.wait(t)
    await settle(sup)
    assert await Supervisor.which_children(sup) == []


async def test_temporary_child_stopped_by_sibling_is_removed(node: Node) -> None:
    log: list[Any] = []
    children = [spec(log, "tmp", restart="temporary"), spec(log, "b")]
    sup = await Supervisor.start(node, children, strategy="one_for_all")
    b = node.whereis("b")
    assert b is not None
    b.cast_nowait("crash")
    await restarted(node, "b", b)
    await settle(sup)
    assert [c.id for c in await Supervisor.which_children(sup)] == ["b"]
    assert events(log, "start") == ["tmp", "b", "b"]


async def test_intensity_exceeded_stops_children_and_exits_shutdown(node: Node) -> None:
    log: list[Any] = []
    children = [trap(log, "a"), trap(log, "b")]
    sup = await Supervisor.start(node, children, max_restarts=2, max_seconds=60)
    done = node.watch(sup)
    for i in range(3):
        b = node.whereis("b")
        assert b is not None
        b.cast_nowait("crash")
        if i < 2:  # the first two crashes are restarted; the third is one too many
            await restarted(node, "b", b)
    assert await done == "shutdown"
    assert node.whereis("a") is None
    assert len(node) == 0
    assert ("terminate", "a", "shutdown") in log


async def test_restarts_outside_the_window_do_not_count(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [spec(log, "a")], max_restarts=1, max_seconds=0.05)
    for _ in range(3):
        a = node.whereis("a")
        assert a is not None
        a.cast_nowait("crash")
        await restarted(node, "a", a)
        await asyncio.sleep(0.06)
    assert sup.alive


async def test_escalation_parent_restarts_permanent_child_supervisor(node: Node) -> None:
    log: list[Any] = []
    inner = ChildSpec.supervisor("inner", [spec(log, "w")], max_restarts=0, name="inner-sup")
    top = await Supervisor.start(node, [inner], max_restarts=5)
    inner_ref = node.whereis("inner-sup")
    w = node.whereis("w")
    assert w is not None
    assert inner_ref is not None
    w.cast_nowait("crash")  # inner exceeds its intensity, exits shutdown
    new_inner = await restarted(node, "inner-sup", inner_ref)
    assert await node.wait(inner_ref) == "noproc"
    assert new_inner.alive
    assert node.whereis("w") is not None
    assert top.alive


async def test_escalation_transient_child_supervisor_not_restarted_after_shutdown(
    node: Node,
) -> None:
    log: list[Any] = []
    inner = ChildSpec.supervisor(
        "inner", [spec(log, "w")], max_restarts=0, restart="transient", name="inner-sup"
    )
    top = await Supervisor.start(node, [inner])
    inner_ref = node.whereis("inner-sup")
    w = node.whereis("w")
    assert inner_ref is not None
    assert w is not None
    w.cast_nowait("crash")
    assert await node.wait(inner_ref) == "shutdown"
    await settle(top)
    [info] = await Supervisor.which_children(top)
    assert info.ref is None  # not restarted
    assert top.alive


async def test_failed_restart_counts_and_is_retried(node: Node) -> None:
    log: list[Any] = []
    failures: list[Any] = []
    child = ChildSpec.worker("f", Worker, log, "f", False, failures, name="f")
    sup = await Supervisor.start(node, [child], max_restarts=5, max_seconds=60)
    f = node.whereis("f")
    assert f is not None
    failures.extend(["1", "2"])  # the next two inits fail
    f.cast_nowait("crash")

    # a name is registered before init runs (as in OTP), so a successor may be visible
    # and then fail its init: wait for one that answers
    async def answer() -> Any:
        ref = node.whereis("f")
        if ref is None or ref == f:
            return None
        try:
            return await ref.call("ok")
        except ActorDead:
            return None

    assert await eventually(answer, what="a successor that answers") == "ok"
    assert failures == []
    assert len(sup.node.actors()) == 2


async def test_failed_restarts_exceeding_intensity_stop_the_supervisor(node: Node) -> None:
    log: list[Any] = []
    failures: list[Any] = []
    child = ChildSpec.worker("f", Worker, log, "f", False, failures, name="f")
    sup = await Supervisor.start(node, [child], max_restarts=2, max_seconds=60)
    f = node.whereis("f")
    assert f is not None
    failures.extend(str(i) for i in range(10))
    f.cast_nowait("crash")
    assert await node.wait(sup) == "shutdown"


async def test_start_failure_stops_started_children_in_reverse(node: Node) -> None:
    log: list[Any] = []
    bad = ChildSpec.worker("bad", Worker, log, "bad", False, ["boom"])
    children = [trap(log, "a"), trap(log, "b"), bad, trap(log, "c")]
    with pytest.raises(StartChildError) as info:
        await Supervisor.start(node, children)
    err = info.value
    assert err.reason[0] == "failed_to_start_child"
    assert err.reason[1] == "bad"
    assert isinstance(err.child_reason, RuntimeError)
    assert events(log, "start") == ["a", "b"]
    assert [(e[1], e[2]) for e in log if e[0] == "terminate"] == [
        ("b", "shutdown"),
        ("a", "shutdown"),
    ]
    assert len(node) == 0


async def test_nested_start_failure_reason_is_nested(node: Node) -> None:
    log: list[Any] = []
    bad = ChildSpec.worker("bad", Worker, log, "bad", False, ["boom"])
    with pytest.raises(StartChildError) as info:
        await Supervisor.start(node, [ChildSpec.supervisor("inner", [bad])])
    assert info.value.child_id == "inner"
    # OTP: the parent sees the nested supervisor's exit reason, a shutdown
    inner = info.value.child_reason
    assert inner[0] == "shutdown"
    assert inner[1][:2] == ("failed_to_start_child", "bad")
    assert isinstance(inner[1][2], RuntimeError)
    assert info.value.exit_reason == ("shutdown", info.value.reason)


async def test_ignored_child_is_recorded_without_process(node: Node) -> None:
    log: list[Any] = []
    ignored = ChildSpec.worker("ign", Worker, log, "ign", False, None, 0.0, True)
    sup = await Supervisor.start(node, [ignored, spec(log, "a")])
    infos = await Supervisor.which_children(sup)
    assert [(i.id, i.ref is None) for i in infos] == [("a", False), ("ign", True)]
    counts = await Supervisor.count_children(sup)
    assert (counts.specs, counts.active, counts.workers) == (2, 1, 2)


async def test_shutdown_timeout_then_kill(node: Node) -> None:
    log: list[Any] = []
    slow = ChildSpec.worker(
        "slow", Worker, log, "slow", True, None, 30.0, shutdown=0.05, name="slow"
    )
    sup = await Supervisor.start(node, [slow])
    slow_ref = node.whereis("slow")
    assert slow_ref is not None
    done = node.watch(slow_ref)
    await node.stop(sup, "shutdown")
    assert await done == "killed"
    assert events(log, "terminate") == []  # cut short by the kill


async def test_brutal_kill_skips_terminate(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [trap(log, "a", shutdown="brutal_kill")])
    a = node.whereis("a")
    assert a is not None
    done = node.watch(a)
    await Supervisor.terminate_child(sup, "a")
    assert await done == "killed"
    assert events(log, "terminate") == []


async def test_non_trapping_child_exits_with_shutdown_without_terminate(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [spec(log, "a")])
    a = node.whereis("a")
    assert a is not None
    done = node.watch(a)
    await Supervisor.terminate_child(sup, "a")
    assert await done == "shutdown"
    assert events(log, "terminate") == []


async def test_trapping_child_runs_terminate_shutdown(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [trap(log, "a")])
    await Supervisor.terminate_child(sup, "a")
    assert log[-1] == ("terminate", "a", "shutdown")


async def test_child_api_errors(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [spec(log, "a")])
    with pytest.raises(AlreadyStarted) as started:
        await Supervisor.start_child(sup, spec(log, "a"))
    assert started.value.reason[0] == "already_started"
    with pytest.raises(ChildRunning):
        await Supervisor.delete_child(sup, "a")
    with pytest.raises(ChildRunning):
        await Supervisor.restart_child(sup, "a")
    for op in (Supervisor.terminate_child, Supervisor.restart_child, Supervisor.delete_child):
        with pytest.raises(ChildNotFound) as nf:
            await op(sup, "nope")
        assert nf.value.reason == "not_found"
    await Supervisor.terminate_child(sup, "a")
    with pytest.raises(AlreadyPresent):
        await Supervisor.start_child(sup, spec(log, "a"))
    await Supervisor.delete_child(sup, "a")
    assert await Supervisor.which_children(sup) == []
    b = await Supervisor.start_child(sup, spec(log, "b"))
    assert b == node.whereis("b")
    with pytest.raises(StartChildError):
        await Supervisor.start_child(sup, ChildSpec.worker("x", Worker, log, "x", False, ["e"]))
    assert [c.id for c in await Supervisor.which_children(sup)] == ["b"]


async def test_bad_arguments_are_named(node: Node) -> None:
    with pytest.raises(ConfigError, match="strategy"):
        await Supervisor.start(node, [], strategy="one_for_some")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_restarts"):
        await Supervisor.start(node, [], max_restarts=-1)
    log: list[Any] = []
    with pytest.raises(ConfigError, match="duplicate"):
        await Supervisor.start(node, [spec(log, "a"), spec(log, "a")])
    with pytest.raises(ConfigError, match="restart"):
        ChildSpec.worker("x", Worker, restart="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="shutdown"):
        ChildSpec.worker("x", Worker, shutdown=-1)
    with pytest.raises(ConfigError, match="Actor subclass"):
        ChildSpec.worker("x", int)  # type: ignore[arg-type]


async def test_supervisor_tree_shuts_down_depth_first_in_reverse(node: Node) -> None:
    log: list[Any] = []
    left = ChildSpec.supervisor("left", [trap(log, "l1"), trap(log, "l2")])
    right = ChildSpec.supervisor("right", [trap(log, "r1"), trap(log, "r2")])
    sup = await Supervisor.start(node, [left, right])
    assert events(log, "start") == ["l1", "l2", "r1", "r2"]
    await node.stop(sup, "shutdown")
    assert events(log, "terminate") == ["r2", "r1", "l2", "l1"]


async def test_stats_count_restarts(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(node, [spec(log, "a")], max_restarts=5, max_seconds=60)
    for _ in range(2):
        a = node.whereis("a")
        assert a is not None
        a.cast_nowait("crash")
        await restarted(node, "a", a)
    stats = await Supervisor.stats(sup)
    assert stats.restarts == 2
    assert stats.recent_restarts == 2
    assert stats.children == 1


async def test_an_unknown_request_crashes_the_supervisor_with_a_named_error(node: Node) -> None:
    sup = await Supervisor.start(node, [])
    with pytest.raises(ActorDead) as info:
        await sup.call(("no_such_request", ()))
    assert isinstance(info.value.reason, InvalidArgument)
    assert "no_such_request" in str(info.value.reason)
