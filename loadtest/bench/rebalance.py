"""Rebalance benchmark: a node joins a one-node cluster holding N agents; how many rounds
until the busiest node holds at most 1.15x the mean, and what a move costs its callers.

Node ``n1`` (an ``agentrt node`` process, rebalance rounds every 300 ms, TTL 3 s)
starts alone; this process (a client node: the load generator) activates N agents on it
with one turn each, then keeps a steady load on a quarter of them (the ``busy`` ones);
node ``n2`` joins. Figures:

- ``rounds``: n1's rebalance rounds (rounds that moved agents) when the directory first
  shows the busiest node at most 1.15x the mean (goal <= 2), ``balance`` (max / mean
  then), ``seconds`` from n2 joining to that, ``moved`` agents;
- ``failed`` turns of the steady load over the whole run (goal 0), and ``turns``;
- the extra latency a moved agent's caller sees: each *quiet* agent (not under the load,
  idle since it was activated) is asked twice after the balance. ``moved_extra_ms`` is
  the p50 of the first turn of the moved ones (to their new owner, where the move
  already activated them; the callers have read the moves stream by then) minus the p50
  of their second turn (same agents, same node: on a loaded machine the two nodes'
  speeds differ by more than a snapshot round trip); its peer is ``snapshot_rtt_ms``, the
  p50 of reading one agent's stored conversation from Redis (one snapshot round trip),
  and ``extra_ratio`` = extra / snapshot rtt (goal <= 1). The same pair for the agents
  that stayed on n1 (``control_*``) shows what a first turn after idling costs without a
  move. A caller asking within a tick of a move is told ``NotHere`` once instead (one
  more cross-node round trip). ``n2_load``: what n2 published then (agents it owns,
  agents it holds a slot for, actors alive: the moved agents the move activated there).

    python -m loadtest.bench.rebalance              # 2,000 agents
    python -m loadtest.bench.rebalance --quick --json
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from typing import Any

import redis.asyncio as aioredis

from agentrt import Runtime
from loadtest.bench.cluster import _Nodes, _runtime, delete_prefix
from loadtest.bench.drain import _activate
from loadtest.bench.measure import bench_parser, emit, local_redis, summarize

_REBALANCE_MS = 300


async def _owners(client: aioredis.Redis, prefix: str, ids: list[str]) -> dict[str, str]:
    async with client.pipeline(transaction=False) as pipe:
        for agent_id in ids:
            pipe.hget(f"{prefix}cl:b:{{agent:{agent_id}}}:dir", "o")
        raw = await pipe.execute()
    return {a: (o.decode() if o else "") for a, o in zip(ids, raw, strict=True)}


class _Load:
    """``workers`` callers asking random agents of ``ids`` until stopped."""

    def __init__(self, rt: Runtime, ids: list[str], workers: int) -> None:
        self.rt, self.ids = rt, ids
        self.turns = 0
        self.failures: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self._work()) for _ in range(workers)]

    async def _work(self) -> None:
        while not self._stop.is_set():
            try:
                await self.rt.ask(random.choice(self.ids), "hi", timeout=60)
            except Exception as exc:
                self.failures[type(exc).__name__] += 1
            self.turns += 1

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


async def _settled_rounds(node: Any, since: float) -> int:
    """n1's rebalance rounds once no round of it is in progress (balance may be reached in
    the middle of one): its first load record published after ``since`` that says so."""
    while True:
        load = node.loads().get("n1", {})
        if load.get("at", 0.0) > since and not load.get("rebalancing", 0.0):
            return int(load.get("rebalance_rounds", 0.0))
        await asyncio.sleep(0.05)


def _p50(samples: list[float]) -> float:
    return summarize(samples or [0.0], unit="ms", qs=(50,))["p50_ms"]


async def _snapshot_rtt(client: aioredis.Redis, prefix: str, n: int) -> float:
    """p50 ms of reading one agent's stored conversation keys (one pipeline round trip),
    over ``n`` agents (their keys listed by one ``SCAN`` pass first)."""
    keys: dict[str, list[bytes]] = {}
    async for key in client.scan_iter(match=f"{prefix}mem:agent/*", count=1000):
        agent = key.decode().split("/")[1]
        keys.setdefault(agent, []).append(key)
    took: list[float] = []
    for agent in random.sample(sorted(keys), min(n, len(keys))):
        started = time.perf_counter()
        async with client.pipeline(transaction=False) as pipe:
            for key in keys[agent]:
                pipe.dump(key)
            await pipe.execute()
        took.append(time.perf_counter() - started)
    return summarize(took, unit="ms", qs=(50,))["p50_ms"]


async def _twice(rt: Runtime, ids: list[str]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for agent_id in ids:
        took = []
        for text in ("first", "second"):
            started = time.perf_counter()
            await rt.ask(agent_id, text, timeout=60)
            took.append(time.perf_counter() - started)
        out[agent_id] = (took[0], took[1])
    return out


async def bench(url: str, agents: int, workers: int) -> dict[str, Any]:
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:12]}:"
    # a TTL of 3 s: a node stalled by a loaded machine must not lose its epoch (its
    # agents would fail over, not move: not what this bench measures)
    nodes = _Nodes(url, prefix, ttl_ms=3000, extra=("--rebalance-ms", str(_REBALANCE_MS)))
    ids = [f"b-r-{i}" for i in range(agents)]
    busy, quiet = ids[: agents // 4], ids[agents // 4 :]
    client = aioredis.Redis.from_url(url)
    try:
        nodes.start("n1")
        await nodes.ready("n1")
        async with _runtime(url, prefix, "gen", client=True) as caller:
            node = caller.directory.cluster  # type: ignore[attr-defined]
            await node.membership.wait_for(2, timeout=30)
            await _activate(caller, ids)
            load = _Load(caller, busy, workers)
            nodes.start("n2")
            await nodes.ready("n2")
            joined = time.perf_counter()
            owners: Counter[str] = Counter()
            try:
                async with asyncio.timeout(120):
                    while True:
                        owners = Counter((await _owners(client, prefix, ids)).values())
                        if owners["n2"] and max(owners.values()) <= 1.15 * agents / 2:
                            break
                        await asyncio.sleep(0.05)
            except TimeoutError:  # e.g. n1 lost its epoch (a stall): its agents fail over
                raise RuntimeError(
                    f"not balanced within 120 s: owners {dict(owners)}, loads {node.loads()}"
                ) from None
            seconds = time.perf_counter() - joined
            balance = max(owners.values()) / (agents / 2)
            rounds = await _settled_rounds(node, time.time())
            n2 = {k: node.loads().get("n2", {}).get(k) for k in ("owned", "agents", "actors")}
            await load.stop()
            where = await _owners(client, prefix, quiet)
            moved = [a for a in quiet if where[a] == "n2"]
            stayed = [a for a in quiet if where[a] == "n1"]
            sample = 200
            times = await _twice(caller, random.sample(moved, min(len(moved), sample)))
            control = await _twice(caller, random.sample(stayed, min(len(stayed), sample)))
        first = summarize([t[0] for t in times.values()], unit="ms", qs=(50, 99))
        second = summarize([t[1] for t in times.values()], unit="ms", qs=(50, 99))
        control_first = _p50([t[0] for t in control.values()])
        # the move's cost: a moved agent's first turn against its second (same agents, same
        # node: the two nodes' speeds differ by more than a snapshot round trip here)
        extra = first["p50_ms"] - second["p50_ms"]
        rtt = await _snapshot_rtt(client, prefix, 50)
        return {
            "agents": agents,
            "rounds": rounds,
            "balance": round(balance, 3),
            "seconds": round(seconds, 2),
            "moved": owners["n2"],
            "n2_load": n2,
            "turns": load.turns,
            "failed": sum(load.failures.values()),
            "failures": dict(load.failures),
            "moved_first": {**first, "n": len(times)},
            "moved_second": second,
            "control_first_p50_ms": control_first,
            "control_n": len(control),
            "control_second_p50_ms": _p50([t[1] for t in control.values()]),
            "moved_extra_ms": round(extra, 3),
            "snapshot_rtt_ms": rtt,
            "extra_ratio": round(extra / max(rtt, 1e-9), 3),
        }
    finally:
        await client.aclose()
        nodes.close()
        await delete_prefix(url, prefix)


async def run(quick: bool) -> dict[str, Any]:
    async with local_redis() as url:
        return await bench(url, 200 if quick else 2_000, 4 if quick else 16)


def main() -> None:
    args = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "").parse_args()
    r = asyncio.run(run(args.quick))
    rows = [
        ("agents on n1 when n2 joins", r["agents"], "", ""),
        ("rounds to balance (max <= 1.15x mean)", r["rounds"], "", "<= 2"),
        ("balance then (max / mean), seconds", r["balance"], r["seconds"], "<= 1.15"),
        ("failed turns / turns", r["failed"], r["turns"], "0"),
        ("moved agent's first turn: extra p50 ms / snapshot rtt ms", r["moved_extra_ms"],
         r["snapshot_rtt_ms"], "ratio <= 1"),
        ("extra / snapshot rtt", r["extra_ratio"], "", "<= 1"),
    ]  # fmt: skip
    columns = ("figure", "ours", "peer", "goal")
    emit(r, as_json=args.json, title="rebalance", rows=rows, columns=columns)


if __name__ == "__main__":
    main()
