"""A turn against a conversation store on Redis that is down or hangs, through a TCP
proxy in front of the real server (so its data survives the outage): a write-behind
turn completes and its writes reach Redis once it is back; a write-through turn fails
with the store's error after ``StoreConfig.op_timeout``, not after its own deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from support.agents import Chatty, fast_config
from support.tcpproxy import TcpProxy
from support.waiting import eventually

from agentrt.actor import Caller
from agentrt.agent import Reply, TurnFailed
from agentrt.errors import ConfigError
from agentrt.memory import DurabilityConfig, RedisStore, StoreError
from agentrt.runtime import Runtime, RuntimeConfig, StoreConfig


class Durable(Chatty):
    """Chatty that also answers "journal" with its journal's stats (failures included)."""

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if msg == "journal":
            journal = self.conversation._journal  # flush failures are not in a public view
            assert journal is not None
            return journal.stats()
        return await super().handle_call(msg, caller)


async def _when(stats: Awaitable[dict[str, Any]], check: Callable[[dict[str, Any]], bool]) -> bool:
    return check(await stats)


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(urlsplit(redis_url).port or 6379) as proxy:
        yield proxy


def config(proxy: TcpProxy, prefix: str, mode: str, op_timeout: float) -> RuntimeConfig:
    base = fast_config()
    durability = DurabilityConfig(mode=mode, max_delay=0.001, retry_max=0.05)  # type: ignore[arg-type]
    url = f"redis://127.0.0.1:{proxy.port}/0"
    store = StoreConfig(kind="redis", url=url, prefix=prefix, op_timeout=op_timeout)
    return replace(base, store=store, memory=replace(base.memory, durability=durability))


async def test_write_behind_turn_completes_while_redis_is_down_and_is_stored_after(
    proxy: TcpProxy, redis_url: str, redis_prefix: str
) -> None:
    cfg = config(proxy, redis_prefix, "write_behind", op_timeout=60.0)
    raw = aioredis.Redis.from_url(redis_url)
    try:
        async with Runtime(cfg) as rt:
            await rt.spawn(Durable, id="c")
            await rt.ask("c", "before")
            await proxy.down()
            reply = await rt.ask("c", "said while redis is down")  # nothing waits on Redis
            assert isinstance(reply, Reply)
            assert "said while redis is down" in reply.text

            async def journal() -> dict[str, Any]:
                stats: dict[str, Any] = await rt.call("c", "journal")
                return stats

            await eventually(
                lambda: _when(journal(), lambda j: j["flush_failures"] > 0), what="a failed flush"
            )
            assert (await journal())["pending_writes"] > 0  # kept, not dropped
            await proxy.up()
            await eventually(
                lambda: _when(journal(), lambda j: j["pending_writes"] == 0),
                what="the retried flush",
            )
            keys = [k async for k in raw.scan_iter(match=redis_prefix + "agent/c/*")]
            assert keys
        async with Runtime(cfg) as again:  # what the turn stored reads back
            await again.spawn(Chatty, id="c")
            texts = [m.content for m in await again.call("c", "history")]
        assert texts[-2:] == ["said while redis is down", reply.text]
    finally:
        await raw.aclose()


async def test_write_through_turn_fails_with_the_store_error_when_redis_hangs(
    proxy: TcpProxy, redis_prefix: str
) -> None:
    # a bound far beyond a loaded machine's round trip: the hang is endless, so it still
    # trips, and the turns after the proxy is up cannot trip it by being slow
    cfg = config(proxy, redis_prefix, "write_through", op_timeout=2.0)
    async with Runtime(cfg) as rt:
        await rt.spawn(Chatty, id="c", turn_timeout=120.0)
        await rt.ask("c", "before")
        await proxy.hang()
        with pytest.raises(TurnFailed) as failed:  # not TurnTimeout: the store's bound
            await rt.ask("c", "unanswered by redis")
        cause = failed.value.cause
        assert isinstance(cause, StoreError)
        assert "no answer within 2 s" in str(cause)
        await proxy.up()
        assert isinstance(await rt.ask("c", "after"), Reply)  # nothing stuck behind it
        texts = [m.content for m in await rt.call("c", "history")]
    assert "unanswered by redis" not in texts  # a failed turn stored nothing
    assert "after" in texts


async def test_redis_store_operations_are_bounded_when_redis_hangs(
    proxy: TcpProxy, redis_prefix: str
) -> None:
    # 1 s: beyond a loaded machine's round trip (the get after the proxy is up must not
    # trip it), while the hang is endless
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}/0", prefix=redis_prefix, socket_timeout=1.0)
    try:
        await store.put("k", b"v")
        await proxy.hang()
        for operation in (store.get("k"), store.put_many({"a": b"1"}), store.delete("k")):
            with pytest.raises(StoreError, match=r"no answer within 1 s"):
                await operation
        await proxy.up()
        assert await store.get("k") == b"v"
    finally:
        await store.aclose()


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "5"])
def test_store_timeouts_refuse_bad_numbers(bad: object) -> None:
    with pytest.raises(ConfigError, match="op_timeout"):
        StoreConfig(kind="redis", op_timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="socket_timeout"):
        RedisStore(socket_timeout=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret@127.0.0.1:notaport/0",
        "redis://:s3cret@127.0.0.1:6379/0?socket_timeout=abc",
        "http://:s3cret@127.0.0.1:6379/0",
    ],
)
def test_a_bad_redis_url_is_a_config_error_without_the_password(url: str) -> None:
    from agentrt.tools import RedisCacheConfig
    from agentrt.tools.cache._redis_backend import RedisBackend

    makers = [lambda: RedisStore(url), lambda: RedisBackend(RedisCacheConfig(url=url))]
    if not url.startswith("redis"):  # a config checks the scheme, the store the rest
        makers.append(lambda: StoreConfig(kind="redis", url=url))
    for make in makers:
        with pytest.raises(ConfigError, match="'url'") as info:
            make()
        assert "s3cret" not in str(info.value)
