"""Cluster benchmark: what cluster mode costs and gives, each figure against its peer in
the same run (the machine is shared: read the ratios).

- ``cross``: a cross-node ``ask`` (this process is a client node; the agent lives in an
  ``agentrt node`` process; mock LLM, 0 latency) against a raw Redis Streams
  request/reply round trip to an echo process (XADD, XREADGROUP, XADD, XREAD), rounds
  alternating: p50 and p99 of each, and their ratios;
- ``call``: a cross-node plain ``call`` (a dict each way, msgpack: docs/cluster.md) to an
  agent in the node process against the same raw round trip, in the same alternation as
  ``cross``;
- ``local``: an ``ask`` of an agent this node owns in cluster mode against the same ask
  on a single-node runtime with the same Redis store, rounds alternating;
- ``scale``: turns/s of 64 concurrent callers (this process, a client node: the load
  generator is its own process) against 1 node process, then 2;
- ``failover``: a node process holding agents is killed (SIGKILL); the time from the kill
  to the first answered turn of one of its agents, per kill (p50, p99);
- ``directory``: Redis ``MEMORY USAGE`` of an agent's directory entry, averaged.

    python -m loadtest.bench.cluster            # table
    python -m loadtest.bench.cluster --json     # one JSON object
    python -m loadtest.bench.cluster --quick --json
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import redis.asyncio as aioredis

from agentrt import Agent, Runtime, RuntimeConfig
from agentrt.cluster import ClusterConfig
from agentrt.runtime._config import StoreConfig
from loadtest.bench.measure import bench_parser, emit, local_redis, summarize

_TTL_MS, _RENEW_MS = 600, 150


class _Nodes:
    """``agentrt node`` processes (own process groups, all killed on exit)."""

    def __init__(
        self,
        url: str,
        prefix: str,
        ttl_ms: int = _TTL_MS,
        renew_ms: int = _RENEW_MS,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.url, self.prefix, self.extra = url, prefix, extra
        self.ttl_ms, self.renew_ms = ttl_ms, renew_ms
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node_id: str) -> None:
        cmd = [
            sys.executable, "-m", "agentrt.cli", "node", "--redis", self.url, "--cluster", "b",
            "--prefix", self.prefix + "cl:", "--store-prefix", self.prefix + "mem:",
            "--node-id", node_id, "--ttl-ms", str(self.ttl_ms), "--renew-ms", str(self.renew_ms),
            "--route", "b-=agentrt:Agent", "--route", "c-=loadtest.bench.cluster:Pinger",
            *self.extra,
        ]  # fmt: skip
        self.procs[node_id] = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
        )

    async def ready(self, node_id: str) -> None:
        out = self.procs[node_id].stdout
        assert out is not None
        async with asyncio.timeout(60):
            while b"joined" not in await asyncio.to_thread(out.readline):
                pass

    def kill(self, node_id: str) -> None:
        proc = self.procs.pop(node_id)
        if proc.poll() is None:  # one that exited (drained) has nothing to kill
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

    def close(self) -> None:
        for node_id in list(self.procs):
            self.kill(node_id)


class Pinger(Agent):
    """Answers a plain ``call`` with what it was sent (the ``call`` figure)."""

    async def handle_call(self, msg: Any, caller: Any) -> Any:
        if isinstance(msg, dict):
            return {"pong": msg.get("ping")}
        return await super().handle_call(msg, caller)


def _runtime(
    url: str,
    prefix: str,
    node_id: str,
    *,
    client: bool = False,
    ttl_ms: int = _TTL_MS,
    renew_ms: int = _RENEW_MS,
) -> Runtime:
    """A cluster runtime in this process; the short ``ttl_ms`` by default (failover is
    timed), the node's defaults where only a drain is."""
    cluster = ClusterConfig(
        name="b", redis_url=url, prefix=prefix + "cl:", node_id=node_id,
        ttl_ms=ttl_ms, renew_ms=renew_ms, placeable=not client, placement="local",
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=url, prefix=prefix + "mem:")
    rt = Runtime(RuntimeConfig(store=store), cluster=cluster)
    rt.route("b-", Agent)
    return rt


async def _alternate(
    sides: dict[str, Callable[[], Awaitable[Any]]], rounds: int, per_round: int = 50
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, op in sides.items():
            for _ in range(per_round):
                started = time.perf_counter()
                await op()
                out[name].append(time.perf_counter() - started)
    return out


def _pair(samples: dict[str, list[float]], ours: str, peer: str) -> dict[str, Any]:
    a, b = summarize(samples[ours], qs=(50, 99)), summarize(samples[peer], qs=(50, 99))
    return {
        ours: a,
        peer: b,
        "p50_ratio": round(a["p50_us"] / max(b["p50_us"], 1e-9), 3),
        "p99_ratio": round(a["p99_us"] / max(b["p99_us"], 1e-9), 3),
    }


ECHO = """
import sys, redis
r = redis.Redis.from_url(sys.argv[1]); inbox = sys.argv[2]
r.xgroup_create(inbox, "g", id="0", mkstream=True)
print("ready", flush=True)
while True:
    for _, entries in r.xreadgroup("g", "echo", {inbox: ">"}, count=64, block=1000) or ():
        with r.pipeline(transaction=False) as p:
            for entry_id, f in entries:
                p.xadd(f[b"r"], {"p": f[b"p"]}, maxlen=1000, approximate=True)
                p.xack(inbox, "g", entry_id)
            p.execute()
"""


async def _pool(rt: Runtime, tag: str, rounds: int) -> Iterator[str]:
    """Agents (activated here) that share the timed asks, ~5 turns each, so that no
    conversation grows long enough to change what a turn costs."""
    ids = [f"b-{tag}-{i}" for i in range(max(4, rounds * 60 // 5))]
    for agent_id in ids:
        await rt.ask(agent_id, "warm", timeout=30)
    return itertools.cycle(ids)


async def _cross(
    url: str, prefix: str, caller: Runtime, rounds: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    inbox, replies = prefix + "raw:inbox", prefix + "raw:replies"
    echo = subprocess.Popen(
        [sys.executable, "-c", ECHO, url, inbox], stdout=subprocess.PIPE, start_new_session=True
    )
    client = aioredis.Redis.from_url(url)
    last = ["0-0"]
    try:
        assert echo.stdout is not None
        await asyncio.to_thread(echo.stdout.readline)
        payload = "x" * 150

        async def raw() -> None:
            await client.xadd(inbox, {"r": replies, "p": payload})
            while True:
                got: Any = await client.xread({replies: last[0]}, count=1, block=5000)
                if got:
                    last[0] = got[0][1][-1][0]
                    return

        pool = await _pool(caller, "cross", rounds)

        async def ask() -> None:
            await caller.ask(next(pool), "hello", timeout=30)

        pingers = itertools.cycle([f"c-{i}" for i in range(8)])
        sent = {"ping": payload}

        async def call() -> None:
            await caller.call(next(pingers), sent, timeout=30)

        sides: dict[str, Callable[[], Awaitable[Any]]] = {"ask": ask, "call": call, "raw": raw}
        await _alternate(sides, 1, 30)  # warm-up: connections, caches, placements
        samples = await _alternate(sides, rounds)
        return _pair(samples, "ask", "raw"), _pair(samples, "call", "raw")
    finally:
        os.killpg(echo.pid, signal.SIGKILL)
        echo.wait(timeout=10)
        await client.aclose()


async def _local(url: str, prefix: str, rounds: int) -> dict[str, Any]:
    store = StoreConfig(kind="redis", url=url, prefix=prefix + "single:")
    async with (
        _runtime(url, prefix, "solo") as clustered,
        Runtime(RuntimeConfig(store=store)) as single,
    ):
        single.route("b-", Agent)
        ours, peer = await _pool(clustered, "local", rounds), await _pool(single, "local", rounds)

        async def in_cluster() -> None:
            await clustered.ask(next(ours), "hello", timeout=30)

        async def one_node() -> None:
            await single.ask(next(peer), "hello", timeout=30)

        sides = {"cluster": in_cluster, "single": one_node}
        await _alternate(sides, 1, 30)
        return _pair(await _alternate(sides, rounds), "cluster", "single")


async def _throughput(caller: Runtime, seconds: float, tag: str) -> float:
    ids = [f"b-{tag}-{i}" for i in range(64)]
    for agent_id in ids:  # placed and activated before timing
        await caller.ask(agent_id, "warm", timeout=30)
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(agent_id: str) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await caller.ask(agent_id, "hi", timeout=30)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in ids))
    return done / (time.perf_counter() - started)


async def _failover(nodes: _Nodes, caller: Runtime, kills: int) -> dict[str, Any]:
    took: list[float] = []
    redis_client = aioredis.Redis.from_url(nodes.url)
    try:
        for k in range(kills):
            victim = next(iter(nodes.procs))
            spare = f"spare-{k}"
            nodes.start(spare)
            await nodes.ready(spare)
            agent = f"b-fo-{k}"
            await caller.ask(agent, "warm", timeout=30)
            key = f"{nodes.prefix}cl:b:{{agent:{agent}}}:dir"
            owner = (await redis_client.hget(key, "o") or b"").decode()
            victim = owner if owner in nodes.procs else victim
            started = time.perf_counter()
            nodes.kill(victim)
            await caller.ask(agent, "after", timeout=30)
            took.append(time.perf_counter() - started)
    finally:
        await redis_client.aclose()
    return {**summarize(took, unit="ms", qs=(50, 99)), "kills": len(took)}


async def _directory_bytes(url: str, prefix: str, n: int) -> float:
    from agentrt.cluster import ClusterKeys, ClusterScripts

    client = aioredis.Redis.from_url(url)
    scripts = ClusterScripts(client, ClusterKeys(prefix + "dir:"))
    try:
        total = 0
        for i in range(n):
            await scripts.claim(f"agent-{i:06d}", "node-1", 7)
            total += int(await client.memory_usage(scripts.keys.agent_dir(f"agent-{i:06d}")) or 0)
        return round(total / n, 1)
    finally:
        await client.aclose()


async def bench(url: str, quick: bool) -> dict[str, Any]:
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:12]}:"
    rounds = 1 if quick else 20
    nodes = _Nodes(url, prefix)
    result: dict[str, Any] = {}
    try:
        nodes.start("n1")
        await nodes.ready("n1")
        async with _runtime(url, prefix, "gen", client=True) as caller:
            await caller.directory.cluster.membership.wait_for(2, timeout=30)  # type: ignore[attr-defined]
            result["cross"], result["call"] = await _cross(url, prefix, caller, rounds)
            seconds = 0.5 if quick else 5.0
            one = await _throughput(caller, seconds, "one")
            nodes.start("n2")
            await nodes.ready("n2")
            await caller.directory.cluster.membership.wait_for(3, timeout=30)  # type: ignore[attr-defined]
            two = await _throughput(caller, seconds, "two")
            result["scale"] = {
                "one_node_tps": round(one, 1),
                "two_nodes_tps": round(two, 1),
                "ratio": round(two / max(one, 1e-9), 3),
            }
            result["failover"] = await _failover(nodes, caller, 1 if quick else 10)
        result["local"] = await _local(url, prefix, rounds)
        entries = 50 if quick else 200
        result["directory"] = {"bytes_per_agent": await _directory_bytes(url, prefix, entries)}
        return result
    finally:
        nodes.close()
        await delete_prefix(url, prefix)


async def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (a bench's own namespace)."""
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i : i + 500])
    finally:
        await client.aclose()


async def run(quick: bool) -> dict[str, Any]:
    async with local_redis() as url:
        return await bench(url, quick)


def main() -> None:
    args = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "").parse_args()
    result = asyncio.run(run(args.quick))
    c, lo, s, f = result["cross"], result["local"], result["scale"], result["failover"]
    rows = [
        ("cross-node ask p50 / raw Streams p50", c["ask"]["p50_us"], c["raw"]["p50_us"],
         c["p50_ratio"], "<= 1.3"),
        ("cross-node ask p99 / raw Streams p99", c["ask"]["p99_us"], c["raw"]["p99_us"],
         c["p99_ratio"], "<= 1.5"),
        ("cross-node call p50 / raw Streams p50", result["call"]["call"]["p50_us"],
         result["call"]["raw"]["p50_us"], result["call"]["p50_ratio"], ""),
        ("local ask p50: cluster / single node", lo["cluster"]["p50_us"], lo["single"]["p50_us"],
         lo["p50_ratio"], "<= 1.05"),
        ("turns/s: 2 nodes / 1 node", s["two_nodes_tps"], s["one_node_tps"], s["ratio"], ">= 1.7"),
        ("failover kill -> answered, ms p50 / p99", f["p50_ms"], f["p99_ms"], "", "p99 <= 2000"),
        ("directory bytes per agent", result["directory"]["bytes_per_agent"], "", "", "<= 150"),
    ]  # fmt: skip
    emit(
        result,
        as_json=args.json,
        title="cluster mode (µs unless named)",
        rows=rows,
        columns=("figure", "ours", "peer", "ratio", "goal"),
    )


if __name__ == "__main__":
    main()
