from __future__ import annotations

import asyncio
from collections import OrderedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.clock import FakeClock
from support.waiting import eventually

from agentrt.errors import ConfigError
from agentrt.tools import (
    Entry,
    LLMResponseCache,
    MemoryBackend,
    MemoryCacheConfig,
    Outcome,
    ResultCache,
)
from agentrt.tools.cache._codec import EntryCodec
from agentrt.tools.cache._singleflight import SingleFlight

from .conftest import other_tasks


def entry(value: object, clock: FakeClock, ttl: float = 60.0, tags: tuple[str, ...] = ()) -> Entry:
    return Entry(value, clock(), ttl, tags=tags)


async def test_lru_order_and_entry_bound() -> None:
    clock = FakeClock()
    backend = MemoryBackend(MemoryCacheConfig(max_entries=3), clock=clock)
    for key in "abc":
        await backend.set(key, entry(key, clock))
    assert await backend.get("a") is not None  # a becomes most recent
    await backend.set("d", entry("d", clock))
    assert await backend.get("b") is None  # least recently used went first
    assert {k for k in "acd" if backend.get_nowait(k)} == {"a", "c", "d"}
    assert backend.stats()["evictions"] == 1


async def test_ttl_expiry_on_read() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    await backend.set("k", entry("v", clock, ttl=10))
    clock.now += 9.9
    assert (await backend.get("k")).value == "v"  # type: ignore[union-attr]
    clock.now += 0.2
    assert await backend.get("k") is None
    assert backend.stats()["expirations"] == 1
    assert len(backend) == 0


async def test_byte_budget() -> None:
    clock = FakeClock()
    backend = MemoryBackend(MemoryCacheConfig(max_bytes=1000), clock=clock)
    for i in range(5):
        await backend.set(f"k{i}", entry("x" * 300, clock))
    stats = backend.stats()
    assert stats["bytes"] <= 1000
    assert stats["entries"] == 3
    assert backend.set_nowait("huge", entry("y" * 5000, clock)) is False
    assert backend.stats()["rejected"] == 1


async def test_delete_and_tags() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    await backend.set("a", entry(1, clock, tags=("t1", "t2")))
    await backend.set("b", entry(2, clock, tags=("t1",)))
    await backend.set("c", entry(3, clock, tags=("t2",)))
    assert await backend.delete("c") is True
    assert await backend.delete("c") is False
    assert await backend.invalidate_tag("t1") == 2
    assert len(backend) == 0
    assert await backend.invalidate_tag("t2") == 0  # "a" already gone, tag index clean


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="max_entries"):
        MemoryCacheConfig(max_entries=0)


async def test_single_flight_waiter_giving_up_does_not_cancel_the_others() -> None:
    flights = SingleFlight()
    gate = asyncio.Event()
    runs: list[str] = []

    async def work() -> str:
        runs.append("run")
        await gate.wait()
        return "value"

    first = asyncio.create_task(flights.run("k", work))
    second = asyncio.create_task(flights.run("k", work))
    await eventually(lambda: flights.stats()["joins"] == 1)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    assert await second == ("value", True)
    assert runs == ["run"]
    assert flights.stats()["abandoned"] == 0


async def test_single_flight_last_waiter_leaving_cancels_the_work() -> None:
    flights = SingleFlight()
    cancelled = asyncio.Event()

    async def work() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    waiter = asyncio.create_task(flights.run("k", work))
    await eventually(lambda: flights.in_flight("k"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await cancelled.wait()
    assert flights.stats()["abandoned"] == 1
    await eventually(lambda: not flights.in_flight("k"))


async def test_single_flight_shares_exceptions() -> None:
    flights = SingleFlight()
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        raise RuntimeError("boom")

    calls = [asyncio.create_task(flights.run("k", work)) for _ in range(3)]
    await eventually(lambda: flights.stats()["joins"] == 2)
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert flights.stats()["executions"] == 1


async def test_refresh_ahead_serves_stale_while_one_caller_refreshes() -> None:
    clock = FakeClock()
    cache = ResultCache(MemoryBackend(clock=clock), namespace="t", clock=clock)
    version = [0]
    refreshed = asyncio.Event()

    async def compute() -> Outcome:
        version[0] += 1
        if version[0] > 1:
            refreshed.set()
        return Outcome(f"v{version[0]}")

    kwargs = {"ttl": 10.0, "refresh_ahead": 0.3}
    assert (await cache.get_or_compute("k", compute, **kwargs)).value == "v1"  # type: ignore[arg-type]
    clock.now += 5  # 50% left: no refresh
    assert (await cache.get_or_compute("k", compute, **kwargs)).value == "v1"  # type: ignore[arg-type]
    assert version[0] == 1
    clock.now += 3  # 20% left: served stale, refreshed once in the background
    hits = [await cache.get_or_compute("k", compute, **kwargs) for _ in range(5)]  # type: ignore[arg-type]
    assert {h.value for h in hits} == {"v1"}
    await refreshed.wait()
    await eventually(lambda: cache.stats()["in_flight"] == 0)
    assert version[0] == 2
    assert cache.stats()["refreshes"] == 1
    assert (await cache.get_or_compute("k", compute, **kwargs)).value == "v2"  # type: ignore[arg-type]
    await cache.aclose()


async def test_stats_and_cost_saved() -> None:
    cache = ResultCache(namespace="t")

    async def compute() -> Outcome:
        return Outcome({"answer": 42}, cost=0.5)

    for _ in range(4):
        await cache.get_or_compute("k", compute, ttl=60)
    stats = cache.stats()
    assert stats["hits"] == 3
    assert stats["misses"] == 1
    assert stats["hit_ratio"] == 0.75
    assert stats["cost_saved"] == 1.5
    assert stats["executions"] == 1
    assert stats["entries"] == 1
    assert stats["bytes"] > 0
    assert stats["latency"]["count"] == 4
    assert stats["backend_errors"] == 0
    await cache.aclose()


async def test_close_leaves_no_task_behind() -> None:
    cache = ResultCache(namespace="t")

    async def compute() -> Outcome:
        await asyncio.Event().wait()
        return Outcome(1)

    pending = [asyncio.create_task(cache.get_or_compute(f"k{i}", compute, ttl=5)) for i in range(3)]
    await eventually(lambda: cache.stats()["in_flight"] == 3)
    await cache.aclose()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert other_tasks() == []


async def test_llm_response_cache_store_fills_once_and_invalidates_by_tag() -> None:
    store = LLMResponseCache(ResultCache(namespace="t"))
    fills = 0

    async def fill() -> tuple[dict[str, object], float]:
        nonlocal fills
        fills += 1
        return {"content": "hello"}, 0.002

    first = await store.lookup("m:k1", fill, ttl=60, tags=("faq",))
    again = await store.lookup("m:k1", fill, ttl=60, tags=("faq",))
    assert (first, again, fills) == (({"content": "hello"}, False), ({"content": "hello"}, True), 1)
    assert store.cache.backend.peek("t:llm:m:k1") is not None  # namespaced key
    assert store.stats()["cost_saved"] == 0.002
    await store.lookup("m:k2", fill, ttl=60, tags=())
    assert await store.cache.invalidate_tag("faq") == 0  # a tool tag of that name: apart
    assert await store.invalidate_tag("faq") == 1
    assert await store.invalidate_tag("llm") == 1
    assert await store.invalidate("m:k2") is False
    await store.aclose()


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["set", "get", "delete"]), st.integers(0, 12), st.integers(1, 400)
        ),
        max_size=120,
    )
)
def test_memory_backend_matches_a_reference_lru(ops: list[tuple[str, int, int]]) -> None:
    clock = FakeClock()
    codec = EntryCodec()
    backend = MemoryBackend(
        MemoryCacheConfig(max_entries=5, max_bytes=1500), clock=clock, codec=codec
    )
    model: OrderedDict[str, int] = OrderedDict()  # key -> size
    for op, k, size in ops:
        key = f"k{k}"
        if op == "set":
            e = Entry("x" * size, clock(), 60.0)
            n = codec.payload_size(e)
            stored = backend.set_nowait(key, e)
            model.pop(key, None)
            if n <= 1500:
                model[key] = n
                while len(model) > 5 or sum(model.values()) > 1500:
                    model.popitem(last=False)
            assert stored == (n <= 1500)
        elif op == "get":
            found = backend.get_nowait(key) is not None
            assert found == (key in model)
            if found:
                model.move_to_end(key)
        else:
            assert backend.delete_nowait(key) == (model.pop(key, None) is not None)
        stats = backend.stats()
        assert stats["entries"] == len(model) <= 5
        assert stats["bytes"] == sum(model.values()) <= 1500


async def test_singleflight_key_is_free_while_an_abandoned_flight_unwinds() -> None:
    flights = SingleFlight()
    started, unwound = asyncio.Event(), asyncio.Event()
    calls = 0

    async def work() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            started.set()
            try:
                await asyncio.Event().wait()  # never answers
            finally:
                await unwound.wait()  # a slow cleanup (a connection being closed)
        return f"answer {calls}"

    first = asyncio.create_task(flights.run("k", work))
    await started.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    # the abandoned task is still unwinding: a new caller must not join it
    assert await flights.run("k", work) == ("answer 2", False)
    stats = flights.stats()
    assert (stats["executions"], stats["abandoned"]) == (2, 1)
    unwound.set()
    await flights.aclose()
    assert other_tasks() == []
