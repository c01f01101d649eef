"""``Membership`` and ``ClusterConfig``: join, renew, watchdog, sweeping and rejoining,
on the real Redis. The watchdog runs on a fake clock; expiry waits for conditions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from support.waiting import eventually

from agentrt.cluster import ClusterConfig, ClusterUnavailable, Membership, NotServing
from agentrt.errors import ConfigError
from agentrt.testing import RedisServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _config(prefix: str, node: str, **kw: object) -> ClusterConfig:
    return ClusterConfig(name="t", prefix=prefix, node_id=node, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"ttl_ms": 0}, "ttl_ms"),
        ({"ttl_ms": float("nan")}, "ttl_ms"),
        ({"renew_ms": 1_000}, "renew_ms"),  # more than ttl_ms / 2
        ({"min_nodes": 0}, "min_nodes"),
        ({"min_nodes": True}, "min_nodes"),
        ({"name": ""}, "name"),
        ({"name": "a{b}"}, "name"),
        ({"prefix": "x{"}, "prefix"),
        ({"node_id": "n}"}, "node_id"),
        ({"redis_url": "http://:pw@h/0"}, "redis_url"),
        ({"op_timeout": -1}, "op_timeout"),
    ],
)
def test_config_names_the_bad_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field) as info:
        ClusterConfig(**kw)  # type: ignore[arg-type]
    assert "pw" not in str(info.value)


def test_config_repr_hides_the_password() -> None:
    config = ClusterConfig(redis_url="redis://:s3cret@redis:6379/0")
    assert "s3cret" not in repr(config)
    assert "redis://:***@redis:6379/0" in repr(config)
    assert config.key_prefix == "agentrt:cluster:default:"


def test_a_bad_url_is_named_without_its_password() -> None:
    with pytest.raises(ConfigError, match="redis_url") as info:
        Membership(ClusterConfig(redis_url="redis://:s3cret@redis:notaport/0"))
    assert "s3cret" not in str(info.value)


async def test_join_renew_and_members(redis_url: str, redis_prefix: str) -> None:
    clock = FakeClock()
    m = Membership(_config(redis_prefix, "n1", redis_url=redis_url, address="h:1"), clock=clock)
    try:
        with pytest.raises(NotServing, match="n1"):
            m.check_serving()
        epoch = await m.join()
        m.check_serving()
        clock.now += 0.5
        await m.tick()
        stats = m.stats()
        assert (stats.epoch, stats.serving, stats.rejoins, stats.alive) == (epoch, True, 0, 1)
        view = await m.members()
        assert view.members["n1"].address == "h:1"
        assert await m.wait_for(1, timeout=30) == m.view
    finally:
        await m.aclose()
    assert (await m.scripts.members()).members["n1"].status == "dead"  # left at close
    assert not m.serving
    with pytest.raises(NotServing, match="closed"):
        m.check_serving()


async def test_watchdog_stall_over_half_the_ttl_rejoins_with_a_new_epoch(
    redis_url: str, redis_prefix: str
) -> None:
    clock = FakeClock()
    lost: list[tuple[int, str]] = []
    config = _config(redis_prefix, "n1", redis_url=redis_url, ttl_ms=60_000, renew_ms=500)
    m = Membership(config, clock=clock, on_lost=lambda e, why: lost.append((e, why)))
    try:
        first = await m.join()
        clock.now += 0.5 + 30.0  # exactly half the ttl late: still fine
        await m.tick()
        assert m.epoch == first
        assert lost == []
        clock.now += 0.5 + 30.001  # a stall past half the ttl
        await m.tick()
        assert lost == [(first, "stall")]
        assert m.epoch > first
        assert m.serving
        assert m.stats().rejoins == 1
        assert (await m.members()).members["n1"].epoch == m.epoch
    finally:
        await m.aclose()


async def test_a_swept_node_learns_it_is_dead_and_rejoins_higher(
    redis_url: str, redis_prefix: str
) -> None:
    """B renews in its own task; A stops renewing, B's sweeper marks A dead, and A's next
    renew is refused: A rejoins with a higher epoch (its watchdog's clock stands still,
    so "told dead" is the only way it can learn)."""
    lost: list[tuple[int, str]] = []
    a = Membership(
        _config(redis_prefix, "a", redis_url=redis_url, ttl_ms=100, renew_ms=20),
        clock=FakeClock(),
        on_lost=lambda e, why: lost.append((e, why)),
    )
    b = Membership(_config(redis_prefix, "b", redis_url=redis_url, ttl_ms=5_000, renew_ms=20))
    try:
        first = await a.join()
        await b.start()
        assert len((await b.wait_for(2, timeout=30)).alive()) == 2
        await eventually(
            lambda: b.view.members["a"].status == "dead", what="b's sweeper marked a dead"
        )
        assert b.stats().swept >= 1
        assert a.serving  # it does not know yet
        await a.tick()
        assert lost == [(first, "told dead")]
        assert a.epoch > first
        assert a.serving
        member = (await b.members()).members["a"]
        assert (member.epoch, member.status) == (a.epoch, "alive")
    finally:
        await a.aclose()
        await b.aclose()


async def test_renew_failures_stop_serving_after_the_ttl_and_rejoin_when_back(
    own_redis: RedisServer, redis_prefix: str
) -> None:
    clock = FakeClock()
    lost: list[tuple[int, str]] = []
    config = _config(
        redis_prefix, "n1", redis_url=own_redis.url, ttl_ms=1_000, renew_ms=125, op_timeout=5
    )
    m = Membership(config, clock=clock, on_lost=lambda e, why: lost.append((e, why)))
    try:
        first = await m.join()
        own_redis.stop()
        clock.now += 0.125  # binary fractions: exact sums
        with pytest.raises(ClusterUnavailable, match="renew"):
            await m.tick()
        assert m.serving  # within the ttl: still serving
        for _ in range(8):  # ticks on time, every one failing, until past the ttl
            assert not lost
            clock.now += 0.125
            with pytest.raises(ClusterUnavailable):
                await m.tick()
        assert not m.serving
        assert lost == [(first, "no renew within ttl_ms")]
        assert m.stats().renew_failures == 9
        own_redis.start()
        await eventually(_ticks_ok(m), what="rejoined once Redis is back")
        assert m.serving
        assert m.stats().rejoins == 1
        # this private server keeps nothing across a restart: the epoch counter began anew
        assert (await m.members()).members["n1"].epoch == m.epoch
    finally:
        await m.aclose()


def _ticks_ok(m: Membership) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        try:
            await m.tick()
        except ClusterUnavailable:
            return False
        return True

    return probe


async def test_close_leaves_no_task_and_is_idempotent(
    redis_url: str, redis_prefix: str, no_leaked_tasks: None
) -> None:
    m = Membership(_config(redis_prefix, "n1", redis_url=redis_url, ttl_ms=1_000, renew_ms=10))
    await m.start()
    await eventually(lambda: m.stats().version > 0, what="first view read")
    await m.aclose()
    await m.aclose()
    await asyncio.sleep(0)


async def test_a_crash_in_the_renew_task_stops_serving_and_reaches_aclose(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost: list[tuple[int, str]] = []
    m = Membership(
        _config(redis_prefix, "n1", redis_url=redis_url, ttl_ms=1_000, renew_ms=10),
        on_lost=lambda e, why: lost.append((e, why)),
    )
    await m.start()

    async def broken() -> list[str]:
        raise RuntimeError("a bug in a sweep")

    monkeypatch.setattr(m.scripts, "sweep", broken)
    await eventually(lambda: not m.serving, what="stopped serving after the crash")
    assert lost == [(m.epoch, "renew task crashed")]
    with pytest.raises(RuntimeError, match="a bug in a sweep"):
        await m.aclose()


async def test_wait_for_more_nodes_than_there_are_times_out(
    redis_url: str, redis_prefix: str
) -> None:
    # join() without start(): nothing renews the liveness key, so its ttl_ms must outlast
    # the test on a loaded machine (at the default 1.5 s, wait_for(1) once never saw n1)
    m = Membership(
        _config(redis_prefix, "n1", redis_url=redis_url, min_nodes=2, renew_ms=10, ttl_ms=60_000)
    )
    try:
        await m.join()
        with pytest.raises(TimeoutError):
            await m.wait_for(timeout=0.05)  # one node alive, two wanted: never true
        with pytest.raises(ConfigError, match="min_nodes"):
            await m.wait_for(0, timeout=10)
        assert len((await m.wait_for(1, timeout=30)).alive()) == 1  # bounded: never hangs
    finally:
        await m.aclose()
