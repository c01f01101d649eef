"""``RestartBackoff``: opt-in delays between restarts (beyond OTP; issue 13, section 1)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.workers import Worker, wait_for

from agentrt.actor import Node
from agentrt.errors import ConfigError
from supervisors import ChildSpec, DynamicSupervisor, RestartBackoff, Supervisor


def test_delays_double_up_to_max_without_jitter() -> None:
    b = RestartBackoff(min_s=0.5, max_s=3.0, jitter=0.0)
    rng = random.Random(1)
    assert [b.delay(n, rng) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert b.delay(10_000, rng) == 3.0


@given(
    st.floats(0.0, 10.0),
    st.floats(0.0, 100.0),
    st.floats(0.0, 1.0),
    st.integers(0, 200),
    st.integers(0, 2**32),
)
def test_delay_stays_within_bounds(
    lo: float, extra: float, jitter: float, n: int, seed: int
) -> None:
    b = RestartBackoff(min_s=lo, max_s=lo + extra, jitter=jitter)
    d = b.delay(n, random.Random(seed))
    base = min(b.max_s, b.min_s * 2.0**n) if n < 64 else b.max_s
    assert base <= d <= base * (1 + jitter)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"min_s": -1}, "min_s"),
        ({"max_s": float("nan")}, "max_s"),
        ({"jitter": float("inf")}, "jitter"),
        ({"reset_after_s": "30"}, "reset_after_s"),
        ({"min_s": 5.0, "max_s": 1.0}, "max_s"),
    ],
)
def test_bad_backoff_is_refused_naming_the_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        RestartBackoff(**kw)


async def test_supervisors_refuse_a_non_backoff(node: Node) -> None:
    with pytest.raises(ConfigError, match="backoff"):
        await DynamicSupervisor.start(node, backoff=0.5)  # type: ignore[arg-type]


async def test_dynamic_child_waits_for_its_backoff(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node, backoff=RestartBackoff(min_s=3600, max_s=3600))
    ref = await DynamicSupervisor.start_child(
        sup, ChildSpec.worker("w", Worker, log, "w", name="w")
    )
    assert ref is not None
    node.exit(ref, "kill")
    await wait_for(lambda: not ref.alive, "the kill")
    stats = await DynamicSupervisor.stats(sup)
    assert (stats.children, stats.waiting, stats.restarts) == (0, 1, 1)
    assert node.whereis("w") is None  # not restarted during the hour-long delay


async def test_dynamic_child_restarts_after_a_short_backoff(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node, backoff=RestartBackoff(min_s=0.01, max_s=0.01))
    ref = await DynamicSupervisor.start_child(
        sup, ChildSpec.worker("w", Worker, log, "w", name="w")
    )
    node.exit(ref, "kill")  # type: ignore[arg-type]
    await wait_for(lambda: node.whereis("w") not in (None, ref), "the restart")
    assert (await DynamicSupervisor.stats(sup)).waiting == 0


async def test_backoff_grows_for_a_child_whose_restarts_fail(node: Node) -> None:
    """A restart that cannot succeed does not spin: the supervisor stays up and retries
    ever more slowly (without backoff it would burn its intensity at once)."""
    log: list[Any] = []
    fails: list[Any] = []
    sup = await DynamicSupervisor.start(
        node,
        max_restarts=1000,
        max_seconds=60,
        backoff=RestartBackoff(min_s=0.001, max_s=3600, jitter=0.0, reset_after_s=3600),
    )
    ref = await DynamicSupervisor.start_child(
        sup, ChildSpec.worker("w", Worker, log, "w", False, fails, name="w")
    )
    assert ref is not None
    fails.extend(["x"] * 100)  # every restart from now on fails
    node.exit(ref, "kill")
    # delays 1 ms, 2, 4, ... 2**k ms: about a dozen attempts in the first few seconds, at
    # most ~22 within an hour: never the hundreds per second of an immediate retry
    await wait_for(lambda: len(fails) <= 95, "a few attempts")
    stats = await DynamicSupervisor.stats(sup)
    assert sup.alive
    assert stats.waiting == 1
    assert stats.restarts < 40


async def test_supervisor_one_for_one_backoff(node: Node) -> None:
    log: list[Any] = []
    sup = await Supervisor.start(
        node,
        [ChildSpec.worker("w", Worker, log, "w", name="w")],
        backoff=RestartBackoff(min_s=3600, max_s=3600),
    )
    ref = node.whereis("w")
    assert ref is not None
    node.exit(ref, "kill")
    await wait_for(lambda: not ref.alive, "the kill")
    infos = await Supervisor.which_children(sup)
    assert [(i.id, i.ref) for i in infos] == [("w", None)]
    assert (await Supervisor.stats(sup)).waiting == 1


async def test_supervisor_rest_for_one_backoff_restarts_the_group_in_order(node: Node) -> None:
    log: list[Any] = []
    specs = [ChildSpec.worker(w, Worker, log, w, name=w) for w in ("a", "b", "c")]
    sup = await Supervisor.start(
        node, specs, strategy="rest_for_one", backoff=RestartBackoff(min_s=0.01, max_s=0.01)
    )
    log.clear()
    b = node.whereis("b")
    assert b is not None
    node.exit(b, "kill")
    await wait_for(lambda: ("start", "c") in log, "the group's restart")
    assert log == [("start", "b"), ("start", "c")]
    assert (await Supervisor.stats(sup)).waiting == 0


async def test_backoff_resets_after_a_stable_run(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(
        node,
        max_restarts=100,
        backoff=RestartBackoff(min_s=0.001, max_s=3600, jitter=0.0, reset_after_s=0.0),
    )
    ref = await DynamicSupervisor.start_child(
        sup, ChildSpec.worker("w", Worker, log, "w", name="w")
    )
    for _ in range(15):  # without the reset, the 15th delay would be 16 s
        old = node.whereis("w")
        assert old is not None
        node.exit(old, "kill")
        await wait_for(lambda o=old: node.whereis("w") not in (None, o), "a restart")
    assert ref is not None
    assert sup.alive
