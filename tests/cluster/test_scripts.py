"""Every cluster Lua script against the real Redis: join, update (CAS), renew, sweep,
claim, release and the fenced write, with their edge cases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from support.waiting import eventually

from agentrt.cluster import ClusterKeys, ClusterScripts, CorruptMembers
from agentrt.cluster._scripts import parse_members
from agentrt.errors import ConfigError, InvalidArgument


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


@pytest.fixture
def scripts(client: aioredis.Redis, redis_prefix: str) -> ClusterScripts:
    return ClusterScripts(client, ClusterKeys(redis_prefix))


def test_key_layout_puts_an_agent_in_one_hash_slot(redis_prefix: str) -> None:
    keys = ClusterKeys(redis_prefix)
    assert keys.agent_dir("a-1") == f"{redis_prefix}{{agent:a-1}}:dir"
    assert keys.agent_tag("a-1") == "{agent:a-1}:"
    assert keys.alive("n1").startswith(keys.members)
    for bad in ("", "p{x}:"):
        with pytest.raises(ConfigError, match="prefix"):
            ClusterKeys(bad)


async def test_every_join_gets_a_higher_epoch_and_bumps_the_version(
    scripts: ClusterScripts, client: aioredis.Redis
) -> None:
    first = await scripts.join("n1", "10.0.0.1:7000", 5_000)
    second = await scripts.join("n2", "10.0.0.2:7000", 5_000)
    again = await scripts.join("n1", "10.0.0.1:7000", 5_000)
    assert first.epoch < second.epoch < again.epoch
    assert first.version < second.version < again.version
    view = await scripts.members()
    assert view.version == again.version
    assert view.members["n1"].epoch == again.epoch
    assert view.members["n1"].address == "10.0.0.1:7000"
    assert [m.node_id for m in view.alive()] == ["n1", "n2"]
    assert await client.get(scripts.keys.alive("n1")) == str(again.epoch).encode()
    assert 0 < await client.pttl(scripts.keys.alive("n1")) <= 5_000


async def test_update_is_a_compare_and_set_on_the_version(scripts: ClusterScripts) -> None:
    joined = await scripts.join("n1", "", 5_000)
    stale = joined.version - 1
    refused = await scripts.update(stale, "n1", joined.epoch, "draining")
    assert not refused.done
    assert refused.conflict
    assert refused.version == joined.version
    assert (await scripts.members()).members["n1"].status == "alive"
    done = await scripts.update(joined.version, "n1", joined.epoch, "draining")
    assert done.done
    assert done.version == joined.version + 1
    assert (await scripts.members()).members["n1"].status == "draining"


async def test_update_refuses_another_epoch_an_unknown_node_and_a_dead_record(
    scripts: ClusterScripts, client: aioredis.Redis
) -> None:
    joined = await scripts.join("n1", "", 5_000)
    for node, epoch in (("n1", joined.epoch + 1), ("nobody", joined.epoch)):
        out = await scripts.update(joined.version, node, epoch, "draining")
        assert not out.done
        assert not out.conflict
    dead = await scripts.update(joined.version, "n1", joined.epoch, "dead")
    assert dead.done
    assert await client.exists(scripts.keys.alive("n1")) == 0  # dead drops the liveness key
    back = await scripts.update(dead.version, "n1", joined.epoch, "alive")
    assert not back.done
    assert not back.conflict
    with pytest.raises(InvalidArgument, match="status"):
        await scripts.update(dead.version, "n1", joined.epoch, "zombie")  # type: ignore[arg-type]


async def test_renew_extends_a_live_epoch_and_refuses_a_dead_or_old_one(
    scripts: ClusterScripts, client: aioredis.Redis
) -> None:
    old = await scripts.join("n1", "", 5_000)
    assert await scripts.renew("n1", old.epoch, 60_000)
    assert await client.pttl(scripts.keys.alive("n1")) > 5_000
    new = await scripts.join("n1", "", 5_000)  # rejoined: the old epoch is over
    assert not await scripts.renew("n1", old.epoch, 60_000)
    assert await client.get(scripts.keys.alive("n1")) == str(new.epoch).encode()
    assert not await scripts.renew("never-joined", 1, 60_000)
    assert await client.exists(scripts.keys.alive("never-joined")) == 0
    await scripts.update(new.version, "n1", new.epoch, "dead")
    assert not await scripts.renew("n1", new.epoch, 60_000)
    assert await client.exists(scripts.keys.alive("n1")) == 0


async def test_sweep_marks_only_the_expired_dead_once(
    scripts: ClusterScripts, client: aioredis.Redis
) -> None:
    await scripts.join("short", "", 20)
    await scripts.join("long", "", 60_000)
    before = (await scripts.members()).version
    await eventually(
        lambda: _exists_not(client, scripts.keys.alive("short")), what="short's key expired"
    )
    assert await scripts.sweep() == ["short"]
    view = await scripts.members()
    assert view.members["short"].status == "dead"
    assert view.members["long"].status == "alive"
    assert view.version == before + 1
    assert await scripts.sweep() == []  # nothing new: no version bump
    assert (await scripts.members()).version == before + 1


async def _exists_not(client: aioredis.Redis, key: str) -> bool:
    return bool(await client.exists(key) == 0)


async def test_sweep_marks_a_record_whose_liveness_key_holds_another_epoch(
    scripts: ClusterScripts, client: aioredis.Redis
) -> None:
    joined = await scripts.join("n1", "", 60_000)
    await client.set(scripts.keys.alive("n1"), str(joined.epoch - 1))
    assert await scripts.sweep() == ["n1"]


async def test_claim_of_a_free_agent_wins_with_a_growing_token(scripts: ClusterScripts) -> None:
    first = await scripts.claim("a-1", "n1", 3)
    assert first.won
    assert (first.owner, first.epoch, first.token) == ("n1", 3, 1)
    again = await scripts.claim("a-1", "n1", 3)  # already ours: same token
    assert again.won
    assert again.token == 1
    other = await scripts.claim("a-1", "n2", 4)  # owner not known dead: answered
    assert not other.won
    assert (other.owner, other.epoch, other.token) == ("n1", 3, 1)
    assert await scripts.release("a-1", "n1", 1)
    after = await scripts.claim("a-1", "n2", 4)  # released: free, and the token still grows
    assert after.won
    assert (after.owner, after.token) == ("n2", 2)


async def test_claim_takes_over_only_from_the_exact_dead_owner(scripts: ClusterScripts) -> None:
    await scripts.claim("a-1", "n1", 3)
    wrong_epoch = await scripts.claim("a-1", "n2", 4, dead=("n1", 2))
    wrong_node = await scripts.claim("a-1", "n2", 4, dead=("n9", 3))
    assert not wrong_epoch.won
    assert not wrong_node.won
    taken = await scripts.claim("a-1", "n2", 4, dead=("n1", 3))
    assert taken.won
    assert (taken.owner, taken.epoch, taken.token) == ("n2", 4, 2)
    rejoined = await scripts.claim("a-1", "n2", 9, dead=("n2", 4))  # its own old epoch
    assert rejoined.won
    assert rejoined.token == 3


async def test_concurrent_claims_from_two_clients_exactly_one_wins(
    redis_url: str, redis_prefix: str
) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        sides = [ClusterScripts(c, ClusterKeys(redis_prefix)) for c in clients]
        for round_ in range(20):
            agent = f"a-{round_}"
            await sides[0].claim(agent, "old", 1)
            claims = await asyncio.gather(
                sides[0].claim(agent, "n1", 5, dead=("old", 1)),
                sides[1].claim(agent, "n2", 6, dead=("old", 1)),
            )
            winners = [c for c in claims if c.won]
            assert len(winners) == 1, claims
            loser = next(c for c in claims if not c.won)
            assert (loser.owner, loser.token) == (winners[0].owner, 2)
    finally:
        for c in clients:
            await c.aclose()


async def test_release_needs_the_owner_and_its_token(scripts: ClusterScripts) -> None:
    await scripts.claim("a-1", "n1", 3)
    assert not await scripts.release("a-1", "n1", 7)
    assert not await scripts.release("a-1", "n2", 1)
    assert not await scripts.release("nobody", "n1", 1)
    assert await scripts.release("a-1", "n1", 1)
    assert not await scripts.release("a-1", "n1", 1)  # released already


async def test_handoff_needs_the_owner_and_its_token_and_fences_the_old_owner(
    scripts: ClusterScripts, client: aioredis.Redis
) -> None:
    await scripts.claim("a-1", "n1", 3)
    assert await scripts.handoff("a-1", "n1", 7, "n2", 4) is None  # stale token
    assert await scripts.handoff("a-1", "n9", 1, "n2", 4) is None  # not the owner
    assert await scripts.handoff("nobody", "n1", 1, "n2", 4) is None
    assert await scripts.handoff("a-1", "n1", 1, "n2", 4) == 2
    entry = await client.hgetall(scripts.keys.agent_dir("a-1"))
    assert entry == {b"o": b"n2", b"e": b"4", b"t": b"2"}
    assert await scripts.handoff("a-1", "n1", 1, "n3", 5) is None  # a stale owner, again
    assert not await scripts.release("a-1", "n1", 1)  # nor can it delete the new entry
    assert (await scripts.claim("a-1", "n2", 4)).token == 2  # the new owner holds it
    with pytest.raises(InvalidArgument):
        await scripts.handoff("a-1", "n2", 2, "", 1)


async def test_fenced_write_refuses_a_stale_token_and_writes_nothing(
    scripts: ClusterScripts, client: aioredis.Redis, redis_prefix: str
) -> None:
    keys = scripts.keys
    state = redis_prefix + keys.agent_tag("a-1")
    dir_key = keys.agent_dir("a-1")
    old = await scripts.claim("a-1", "n1", 3)
    assert await scripts.fenced_write(dir_key, old.token, {state + "x": b"1"}) == (True, 1)
    new = await scripts.claim("a-1", "n2", 4, dead=("n1", 3))
    written, current = await scripts.fenced_write(
        dir_key, old.token, {state + "x": b"stale", state + "y": b"stale"}, delete=[state + "x"]
    )
    assert (written, current) == (False, new.token)
    assert await client.get(state + "x") == b"1"
    assert await client.exists(state + "y") == 0
    ok = await scripts.fenced_write(
        dir_key, new.token, {state + "y": b"2"}, delete=[state + "x"], px=60_000
    )
    assert ok == (True, new.token)
    assert await client.get(state + "y") == b"2"
    assert await client.exists(state + "x") == 0
    assert 0 < await client.pttl(state + "y") <= 60_000


async def test_fenced_write_without_a_directory_entry_takes_any_token(
    scripts: ClusterScripts, client: aioredis.Redis, redis_prefix: str
) -> None:
    key = redis_prefix + "free"
    assert await scripts.fenced_write(scripts.keys.agent_dir("free"), 0, {key: b"v"}) == (True, 0)
    assert await client.get(key) == b"v"


async def test_scripts_reload_after_the_server_forgets_them(
    scripts: ClusterScripts, client: aioredis.Redis
) -> None:
    await scripts.join("n1", "", 5_000)
    await client.script_flush()  # NOSCRIPT next: redis-py sends the script again
    assert (await scripts.claim("a-1", "n1", 1)).won


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("_version", b"x", "_version"),
        ("node:n1", b"{not json", "node:n1"),
        ("node:n1", b'{"epoch": 1, "address": "", "status": "zombie"}', "status"),
        ("node:n1", b'{"epoch": true, "address": "", "status": "alive"}', "epoch"),
        ("node:n1", b'{"epoch": 1, "address": 5, "status": "alive"}', "address"),
        ("node:n1", b'{"epoch": 1}', "node:n1"),
    ],
)
def test_a_damaged_members_record_is_named(field: str, value: bytes, match: str) -> None:
    with pytest.raises(CorruptMembers, match=match):
        parse_members({field: value})


async def test_sweep_skips_a_damaged_record_and_members_names_it(
    scripts: ClusterScripts, client: aioredis.Redis
) -> None:
    await scripts.join("n1", "", 20)
    await client.hset(scripts.keys.members, "node:bad", b"{garbage")
    await eventually(lambda: _exists_not(client, scripts.keys.alive("n1")), what="n1 expired")
    assert await scripts.sweep() == ["n1"]
    with pytest.raises(CorruptMembers, match="node:bad"):
        await scripts.members()


async def test_node_ids_with_braces_are_refused(scripts: ClusterScripts) -> None:
    with pytest.raises(InvalidArgument, match="node_id"):
        await scripts.join("n{1}", "", 1_000)
