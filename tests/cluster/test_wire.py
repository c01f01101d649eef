"""The messaging scripts (record, forward, retire) on the real Redis, the envelope codec,
placement, and the node command's input errors."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from agentrt.cli import main
from agentrt.cluster import ClusterConfig
from agentrt.cluster._batch import Batcher
from agentrt.cluster._placement import place
from agentrt.cluster._wire import FORWARD, GROUP, RECORD, RETIRE, Envelope, WireKeys
from agentrt.cluster._wire import decode_envelope as decode
from agentrt.errors import ConfigError, InvalidArgument


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


def _env(msg: str = "m1") -> Envelope:
    return Envelope(
        msg_id=msg, agent_id="a-1", token=3, reply_to="r", deadline=12.5, stream=False,
        request={"text": "hi", "sender": None},
    )  # fmt: skip


def test_envelope_round_trip_and_damage_named() -> None:
    env = _env()
    assert decode({k.encode(): v.encode() for k, v in env.fields().items()}) == env
    broken = dict(env.fields())
    del broken["a"]
    with pytest.raises(InvalidArgument, match="envelope"):
        decode(broken)
    with pytest.raises(InvalidArgument, match="envelope"):
        decode({**env.fields(), "p": "[1]"})


async def test_record_is_fenced_and_answers_once(client: aioredis.Redis, redis_prefix: str) -> None:
    keys = WireKeys(redis_prefix)
    entry, rec, replies = (
        f"{redis_prefix}{{agent:a-1}}:dir",
        keys.record("a-1", "m1"),
        keys.replies("c"),
    )
    inbox = keys.inbox("n", 1)
    await client.xgroup_create(inbox, GROUP, id="0", mkstream=True)
    entry_id = await client.xadd(inbox, _env().fields())
    await client.xreadgroup(GROUP, "n", {inbox: ">"})
    await client.hset(entry, mapping={"o": "n", "e": 1, "t": 4})
    script = client.register_script(RECORD)
    args = [60_000, "m1", '{"ok":1}', GROUP, entry_id, 100]
    assert await script(keys=[entry, rec, replies, inbox], args=[3, *args]) == [0, 4]  # stale
    assert await client.get(rec) is None
    assert await client.xlen(replies) == 0
    assert (await client.xpending(inbox, GROUP))["pending"] == 1  # not acknowledged
    assert await script(keys=[entry, rec, replies, inbox], args=[4, *args]) == [1, 4]
    assert await client.get(rec) == b'{"ok":1}'
    assert 0 < await client.pttl(rec) <= 60_000
    assert await client.xlen(replies) == 1
    assert (await client.xpending(inbox, GROUP))["pending"] == 0


async def test_forward_moves_an_envelope_exactly_once(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    keys = WireKeys(redis_prefix)
    dead, live, gone = keys.inbox("d", 1), keys.inbox("l", 2), keys.inbox("x", 3)
    for inbox in (dead, live):
        await client.xgroup_create(inbox, GROUP, id="0", mkstream=True)
    entry_id = await client.xadd(dead, _env().fields())
    await client.xreadgroup(GROUP, "d", {dead: ">"})
    flat = [x for kv in _env().fields().items() for x in kv]
    script = client.register_script(FORWARD)
    assert await script(keys=[dead, gone], args=[GROUP, entry_id, *flat]) == -1  # no target
    assert (await client.xpending(dead, GROUP))["pending"] == 1  # kept for another try
    assert await script(keys=[dead, live], args=[GROUP, entry_id, *flat]) == 1
    assert await script(keys=[dead, live], args=[GROUP, entry_id, *flat]) == 0  # raced: once
    assert await client.xlen(live) == 1


async def test_retire_deletes_only_a_drained_inbox(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    keys = WireKeys(redis_prefix)
    inbox = keys.inbox("d", 1)
    await client.xgroup_create(inbox, GROUP, id="0", mkstream=True)
    await client.sadd(keys.inboxes, "d|1")
    script = client.register_script(RETIRE)
    entry_id = await client.xadd(inbox, {"m": "1"})
    assert await script(keys=[inbox, keys.inboxes], args=[GROUP, "d|1"]) == 0  # unread
    await client.xreadgroup(GROUP, "d", {inbox: ">"})
    assert await script(keys=[inbox, keys.inboxes], args=[GROUP, "d|1"]) == 0  # pending
    await client.xack(inbox, GROUP, entry_id)
    assert await script(keys=[inbox, keys.inboxes], args=[GROUP, "d|1"]) == 1
    assert not await client.exists(inbox)
    assert not await client.sismember(keys.inboxes, "d|1")


async def test_batcher_sends_concurrent_commands_as_one_pipeline(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    pipelines = []
    opened = client.pipeline

    def counted(*args: Any, **kwargs: Any) -> Any:
        pipelines.append(1)
        return opened(*args, **kwargs)

    client.pipeline = counted  # type: ignore[method-assign]
    batch = Batcher(client)
    n, bad = f"{redis_prefix}n", f"{redis_prefix}bad"
    await client.set(bad, "not a number")
    calls = [batch.call(lambda p: p.incr(n)) for _ in range(20)]
    calls.insert(7, batch.call(lambda p: p.incr(bad)))
    got = await asyncio.gather(*calls, return_exceptions=True)
    assert len(pipelines) == 1  # 21 commands, one round trip
    assert isinstance(got.pop(7), ResponseError)  # its own error, raised to it alone
    assert got == list(range(1, 21))  # each caller got its own command's result
    assert await batch.call(lambda p: p.get(n)) == b"20"  # a lone command, later
    assert len(pipelines) == 2


async def test_batcher_raises_a_failed_connection_to_every_caller() -> None:
    dead = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        batch = Batcher(dead)
        got = await asyncio.gather(
            *(batch.call(lambda p: p.ping()) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(e, RedisConnectionError) for e in got), got
    finally:
        await dead.aclose()


def test_placement_strategies() -> None:
    loads = {
        "a": {"agents": 100.0}, "b": {"agents": 1.0}, "c": {"agents": 5.0, "overloaded": 1.0},
        "client": {"placeable": 0.0},
    }  # fmt: skip
    alive = ["a", "b", "c", "client"]
    rng = random.Random(1)
    picks = {place(f"x{i}", alive, loads, local="client", rng=rng) for i in range(50)}
    assert picks <= {"a", "b"}  # never overloaded c, never the client
    assert "b" in picks
    assert place("x", alive, loads, local="a", strategy="local") == "a"
    assert place("x", alive, loads, local="b", strategy="p2c", rng=rng) == "b"  # local wins
    hashed = {place("x", alive, loads, local="a", strategy="hash") for _ in range(5)}
    assert len(hashed) == 1  # stable
    assert place("x", ["client"], loads, local="client") is None  # a client never hosts
    with pytest.raises(ConfigError, match="placement"):
        ClusterConfig(placement="nearest")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["node", "--route", "nope"], "--route"),
        (["node", "--route", "k-=no_such_module_x:Agent"], "--route"),
        (["node", "--cluster", "a{b}"], "name"),
        (["node", "--redis", "http://:s3cret@h/0"], "redis_url"),
        (["node", "--llm-url", "ftp://x/v1"], "llm"),
    ],
)
def test_node_bad_input_is_named(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "s3cret" not in err


@pytest.mark.parametrize("flag", ["--ttl-ms", "--parent-pid"])
def test_node_bad_flag_value_is_an_argparse_error(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["node", flag, "0"])
    assert info.value.code == 2
    assert flag in capsys.readouterr().err
