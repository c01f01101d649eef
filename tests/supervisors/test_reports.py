"""OTP's supervisor reports and start-failure exit reason (issue 13, section 8)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from support.workers import Worker, wait_for

from agentrt.actor import KILLED, Actor, Node
from supervisors import (
    ChildSpec,
    DynamicSupervisor,
    StartChildError,
    Supervisor,
    SupervisorReport,
)


def kinds(reports: list[SupervisorReport]) -> list[str]:
    return [r.kind for r in reports]


async def test_failed_start_exits_with_shutdown_not_a_crash(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []
    bad = ChildSpec.worker("bad", Worker, log, "bad", False, ["boom"])
    reports: list[SupervisorReport] = []
    crashes_before = node.stats().crashes
    with pytest.raises(StartChildError) as info:
        await Supervisor.start(node, [bad], name="top", on_report=reports.append)
    err = info.value
    assert err.reason[:2] == ("failed_to_start_child", "bad")
    assert err.exit_reason == ("shutdown", err.reason)
    # the only crash is the child's; the supervisor's exit is a shutdown, not "crashed in init"
    assert node.stats().crashes == crashes_before + 1
    assert not [
        r for r in caplog.records if "Supervisor" in r.getMessage() and "crashed" in r.getMessage()
    ]
    assert kinds(reports) == ["start_error"]
    assert reports[0].child_id == "bad"


async def test_failed_start_is_seen_by_a_watcher_as_shutdown(node: Node) -> None:
    log: list[Any] = []
    bad = ChildSpec.worker("bad", Worker, log, "bad", False, ["boom"])
    seen: list[Any] = []

    class Parent(Actor):
        trap_exits = True

        async def init(self) -> None:
            try:
                await Supervisor.start(self.node, [bad], link=self.ref)
            except StartChildError as exc:
                seen.append(exc.exit_reason)

    await node.spawn(Parent)
    assert seen
    assert seen[0][0] == "shutdown"


async def test_nested_failed_start_gives_parent_the_shutdown_reason(node: Node) -> None:
    log: list[Any] = []
    bad = ChildSpec.worker("bad", Worker, log, "bad", False, ["boom"])
    reports: list[SupervisorReport] = []
    inner = ChildSpec.supervisor("inner", [bad], on_report=reports.append)
    with pytest.raises(StartChildError) as info:
        await Supervisor.start(node, [inner], on_report=reports.append)
    reason = info.value.child_reason
    assert reason[0] == "shutdown"
    assert reason[1][:2] == ("failed_to_start_child", "bad")
    assert [(r.kind, r.child_id) for r in reports] == [
        ("start_error", "bad"),
        ("start_error", "inner"),
    ]
    assert reports[1].reason == reason


async def test_child_terminated_report_names_child_and_reason(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []
    reports: list[SupervisorReport] = []
    sup = await Supervisor.start(
        node, [ChildSpec.worker("w", Worker, log, "w", name="w")], on_report=reports.append
    )
    caplog.set_level(logging.INFO, logger="supervisors")
    old = node.whereis("w")
    assert old is not None
    node.exit(old, "kill")
    await wait_for(lambda: reports, "a report")
    report = reports[0]
    assert (report.kind, report.supervisor, report.child_id, report.reason) == (
        "child_terminated",
        sup,
        "w",
        KILLED,
    )
    record = next(r for r in caplog.records if getattr(r, "report_kind", None))
    assert (record.report_kind, record.supervisor, record.child_id, record.reason) == (  # type: ignore[attr-defined]
        "child_terminated",
        sup,
        "w",
        KILLED,
    )
    assert record.levelno == logging.INFO


async def test_transient_normal_exit_is_not_reported(node: Node) -> None:
    log: list[Any] = []
    reports: list[SupervisorReport] = []
    spec = ChildSpec.worker("t", Worker, log, "t", restart="transient", name="t")
    sup = await Supervisor.start(node, [spec], on_report=reports.append)
    ref = node.whereis("t")
    assert ref is not None
    await ref.cast("normal")
    await node.wait(ref, timeout=5)
    await Supervisor.count_children(sup)
    assert reports == []


async def test_shutdown_error_when_a_child_is_killed_after_its_timeout(node: Node) -> None:
    log: list[Any] = []
    reports: list[SupervisorReport] = []
    slow = ChildSpec.worker("slow", Worker, log, "slow", True, None, 30.0, shutdown=0.01)
    sup = await Supervisor.start(node, [slow], on_report=reports.append)
    await Supervisor.terminate_child(sup, "slow")
    assert [(r.kind, r.child_id, r.reason) for r in reports] == [("shutdown_error", "slow", KILLED)]


async def test_dynamic_shutdown_error_on_concurrent_shutdown(node: Node) -> None:
    log: list[Any] = []
    reports: list[SupervisorReport] = []
    sup = await DynamicSupervisor.start(node, on_report=reports.append)
    slow = ChildSpec.worker("slow", Worker, log, "slow", True, None, 30.0, shutdown=0.01)
    fine = ChildSpec.worker("fine", Worker, log, "fine", True)
    await DynamicSupervisor.start_child(sup, slow)
    await DynamicSupervisor.start_child(sup, fine)
    await node.stop(sup, "shutdown")
    assert [(r.kind, r.child_id, r.reason) for r in reports] == [("shutdown_error", "slow", KILLED)]


async def test_reached_max_restart_intensity_report(node: Node) -> None:
    log: list[Any] = []
    reports: list[SupervisorReport] = []
    sup = await Supervisor.start(
        node,
        [ChildSpec.worker("w", Worker, log, "w", name="w")],
        max_restarts=1,
        max_seconds=60,
        on_report=reports.append,
    )
    done = node.watch(sup)
    for _ in range(2):
        ref = node.whereis("w")
        if ref is None:
            break
        node.exit(ref, "kill")
        await wait_for(lambda r=ref: node.whereis("w") not in (None, r) or done.done(), "restart")
    assert await done == "shutdown"
    assert kinds(reports) == [
        "child_terminated",
        "child_terminated",
        "reached_max_restart_intensity",
    ]
    assert reports[-1].child_id == "w"
    assert reports[-1].reason == KILLED


async def test_start_error_on_restart_and_in_start_child(node: Node) -> None:
    log: list[Any] = []
    reports: list[SupervisorReport] = []
    sup = await DynamicSupervisor.start(node, on_report=reports.append)
    with pytest.raises(StartChildError):
        await DynamicSupervisor.start_child(
            sup, ChildSpec.worker("bad", Worker, log, "bad", False, ["x"])
        )
    fails: list[Any] = []
    ref = await DynamicSupervisor.start_child(
        sup, ChildSpec.worker("flaky", Worker, log, "flaky", False, fails, name="flaky")
    )
    assert ref is not None
    fails.append("again")  # its first restart fails, the retry succeeds
    node.exit(ref, "kill")
    await wait_for(lambda: node.whereis("flaky") not in (None, ref), "the retry")
    assert [(r.kind, r.child_id) for r in reports] == [
        ("start_error", "bad"),
        ("child_terminated", "flaky"),
        ("start_error", "flaky"),
    ]


async def test_a_failing_report_hook_never_crashes_the_supervisor(node: Node) -> None:
    log: list[Any] = []

    def broken(report: SupervisorReport) -> None:
        raise ValueError("hook bug")

    sup = await Supervisor.start(
        node, [ChildSpec.worker("w", Worker, log, "w", name="w")], on_report=broken
    )
    old = node.whereis("w")
    assert old is not None
    node.exit(old, "kill")
    await wait_for(lambda: node.whereis("w") not in (None, old), "restart")
    assert sup.alive


async def test_on_report_must_be_callable(node: Node) -> None:
    from agentrt.errors import ConfigError

    with pytest.raises(ConfigError, match="on_report"):
        await Supervisor.start(node, [], on_report="log")  # type: ignore[arg-type]
