"""Failover with real node processes: ``kill -9`` mid-turn and ``SIGSTOP`` for 2x the TTL
(the zombie), 20 times each, rotating over 3 nodes while the others keep serving.

The caller is a client node in the test's process (``placeable=False``). Every turn
carries its message id as its text; the mock LLM echoes it, so each agent's stored
conversation is the per-conversation message-id log: a turn answered twice, a turn whose
user message was stored twice (re-run by a new owner), or a stale write accepted from a
zombie shows as one id stored twice there. Figures:

- lost: a turn whose caller got neither an answer nor an error (never, by construction
  of the wait: it is bounded and counted);
- duplicated: an id answered, or asked (its user message), more than once in its
  conversation;
- fence rejections (zombie): the paused node's writes refused as stale after resuming.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from support.clusternodes import NodeProcs

from agentrt import Runtime, RuntimeConfig
from agentrt.agent import AgentError
from agentrt.cluster import ClusterConfig
from agentrt.runtime._config import StoreConfig

ROUNDS = 20
TTL_MS = 400
LATENCY_MS = 200
NODES = ("n0", "n1", "n2")
AGENTS_PER_ROUND = 4


@pytest.fixture
def nodes(redis_url: str, redis_prefix: str) -> Iterator[NodeProcs]:
    with NodeProcs(redis_url, redis_prefix, latency_ms=LATENCY_MS, ttl_ms=TTL_MS) as procs:
        procs.start_all(NODES)
        yield procs


@pytest.fixture
async def caller(redis_url: str, redis_prefix: str, nodes: NodeProcs) -> AsyncIterator[Runtime]:
    cluster = ClusterConfig(
        name="t", redis_url=redis_url, prefix=redis_prefix + "cl:", node_id="caller",
        ttl_ms=2_000, renew_ms=200, placeable=False,  # a busy test process: no stall alarms
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=redis_url, prefix=redis_prefix + "mem:")
    async with Runtime(RuntimeConfig(store=store), cluster=cluster) as rt:
        await rt.directory.cluster.membership.wait_for(len(NODES) + 1, timeout=20)  # type: ignore[attr-defined]
        yield rt


async def _owner(client: aioredis.Redis, prefix: str, agent_id: str) -> str:
    raw = await client.hget(f"{prefix}cl:t:{{agent:{agent_id}}}:dir", "o")
    return raw.decode() if raw else ""


async def _rounds(
    nodes: NodeProcs, caller: Runtime, redis_url: str, prefix: str, fault: str
) -> tuple[Counter[str], dict[str, str]]:
    """Run the rounds; the outcome counts and each message id's agent. Each round faults
    the node that holds the round's first agent; a killed node is replaced by a fresh
    process (a new node id) that joins while the others serve; a round starts once two
    nodes are live."""
    outcome: Counter[str] = Counter()
    sent: dict[str, str] = {}
    live = list(NODES)
    starting: list[str] = []
    client = aioredis.Redis.from_url(redis_url)
    try:
        for i in range(ROUNDS):
            while len(live) < 2:
                node = starting.pop(0)
                await asyncio.to_thread(nodes.ready, node, 30)
                live.append(node)
            ids = [f"k-{fault}-{i}-{j}" for j in range(AGENTS_PER_ROUND)]
            msgs = {f"m-{uuid.uuid4().hex[:10]}": a for a in ids}
            sent.update(msgs)
            asks = {m: asyncio.ensure_future(caller.ask(a, m, timeout=15)) for m, a in msgs.items()}
            await asyncio.sleep(LATENCY_MS / 2000)  # placed, claimed and mid-turn
            owners = [await _owner(client, prefix, a) for a in ids]
            victim = owners[0] if owners[0] in live else live[0]  # a node with a turn in flight
            live.remove(victim)
            outcome["on_victim"] += owners.count(victim)
            if fault == "kill":
                nodes.signal(victim, signal.SIGKILL)
                await asyncio.to_thread(nodes.reap, victim)
                starting.append(f"r{i}")
                nodes.start(starting[-1])  # the replacement joins while the others serve
            else:
                nodes.signal(victim, signal.SIGSTOP)
                await asyncio.sleep(2 * TTL_MS / 1000)
                nodes.signal(victim, signal.SIGCONT)
                live.append(victim)
            for m, fut in asks.items():
                try:
                    async with asyncio.timeout(20):
                        reply = await fut
                except TimeoutError:
                    outcome["lost"] += 1
                except AgentError as exc:
                    outcome[f"error:{type(exc).__name__}"] += 1
                else:
                    outcome["answered" if reply.text == f"echo: {m}" else "wrong"] += 1
    finally:
        await client.aclose()
    return outcome, sent


async def _duplicates(caller: Runtime, sent: dict[str, str]) -> tuple[int, int]:
    """Ids stored more than once in their conversation: ``(answers, user messages)``
    (a turn re-run by a new owner stores neither twice: its user message is stored once
    per message id)."""
    answers: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    for agent_id in sorted(set(sent.values())):
        for message in await caller.history(agent_id, timeout=15):
            if message.role == "assistant":
                answers[message.text.removeprefix("echo: ")] += 1
            elif message.role == "user":
                asked[message.text] += 1
    assert set(asked) == set(sent), "every turn's user message is stored"
    answered, stored = (
        sum(n - 1 for m, n in seen.items() if n > 1 and m in sent) for seen in (answers, asked)
    )
    return answered, stored


async def test_kill9_mid_turn_20_times_loses_and_duplicates_nothing(
    nodes: NodeProcs, caller: Runtime, redis_url: str, redis_prefix: str
) -> None:
    outcome, sent = await _rounds(nodes, caller, redis_url, redis_prefix, "kill")
    assert outcome["on_victim"] >= ROUNDS, outcome  # the kills hit turns in flight
    assert outcome["lost"] == 0, outcome
    assert outcome["wrong"] == 0, outcome
    assert outcome["answered"] == len(sent), outcome
    assert await _duplicates(caller, sent) == (0, 0)
    forwarded = caller.directory.cluster.stats()  # type: ignore[attr-defined]
    assert forwarded.sent >= len(sent)


async def test_sigstop_zombie_20_times_is_fenced_out(
    nodes: NodeProcs, caller: Runtime, redis_url: str, redis_prefix: str
) -> None:
    outcome, sent = await _rounds(nodes, caller, redis_url, redis_prefix, "stop")
    assert outcome["on_victim"] >= ROUNDS, outcome
    assert outcome["lost"] == 0, outcome
    assert outcome["wrong"] == 0, outcome
    assert outcome["answered"] == len(sent), outcome
    assert await _duplicates(caller, sent) == (0, 0)  # no stale write of a zombie accepted
    logs = "".join(nodes.log(n) for n in nodes.procs)
    rejections = logs.count("fenced out") + logs.count("refused: token")
    assert rejections > 0, logs[-3000:]
