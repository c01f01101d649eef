"""Drain benchmark: a node process holding N live agents is drained under a steady load.

Node ``n1`` (an ``agentrt node`` process) starts alone, and this process (a client node:
the load generator) activates N agents on it with one turn each; node ``n2`` joins; a
steady load of turns at random agents runs; then ``agentrt node drain n1`` marks n1
through Redis. Figures:

- ``drain_s``: from the mark to n1 reporting it is drained (every agent moved); also
  ``exit_s``, to its process exit (it leaves the cluster after draining);
- ``held`` and ``moved``: agents n1 held when the drain began, and moved by it (from its
  report); ``lost_epoch``: n1 lost its epoch during the drain (a CPU-starved machine:
  its agents then went by failover, so ``drain_s`` does not time a drain of ``held``);
- ``failed``: turns that failed, over the whole load (the goal is 0), and ``turns``;
- turn latency before the drain and while it runs (p50, p99, ms), and the first turn of
  a moved agent (an extra ``NotHere`` round trip, a claim, and its activation from the
  snapshot) against a turn of an agent already live on its node: ``moved_extra_ms``
  (p50 of the first turns after the move minus the p50 before) next to
  ``snapshot_rtt_ms``, the p50 of reading one agent's stored conversation from Redis
  (the round trip a move adds, by the goal: extra <= one snapshot round trip).

    python -m loadtest.bench.drain              # 10,000 agents
    python -m loadtest.bench.drain --quick --json
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from agentrt import Runtime
from loadtest.bench.cluster import _Nodes, _runtime, delete_prefix
from loadtest.bench.measure import bench_parser, emit, local_redis, summarize


class _Load:
    """``workers`` callers asking random agents until stopped; latencies by phase."""

    def __init__(self, rt: Runtime, ids: list[str], workers: int) -> None:
        self.rt, self.ids = rt, ids
        self.phase = "before"
        self.samples: dict[str, list[float]] = {"before": [], "during": [], "after": []}
        self.first_after_move: list[float] = []
        self.moved: set[str] = set()  # agents whose first turn after the move is pending
        self.turns = 0
        self.failures: dict[str, int] = {}
        self.examples: list[str] = []  # the first few failures, whole
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self._work()) for _ in range(workers)]

    async def _work(self) -> None:
        while not self._stop.is_set():
            agent_id = random.choice(self.ids)
            first = agent_id in self.moved
            self.moved.discard(agent_id)
            started = time.perf_counter()
            try:
                await self.rt.ask(agent_id, "hi", timeout=60)
            except Exception as exc:
                self.failures[type(exc).__name__] = self.failures.get(type(exc).__name__, 0) + 1
                if len(self.examples) < 5:
                    self.examples.append(f"{agent_id}: {type(exc).__name__}: {exc}"[:300])
                continue
            finally:
                self.turns += 1
            took = time.perf_counter() - started
            (self.first_after_move if first else self.samples[self.phase]).append(took)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


async def _activate(rt: Runtime, ids: list[str], concurrency: int = 64) -> None:
    queue = list(ids)

    async def worker() -> None:
        while queue:
            await rt.ask(queue.pop(), "warm", timeout=60)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _line(proc: subprocess.Popen[bytes], word: bytes, timeout: float) -> bytes:
    out = proc.stdout
    assert out is not None
    async with asyncio.timeout(timeout):
        while True:
            line = await asyncio.to_thread(out.readline)
            if not line:
                raise RuntimeError(f"the node exited before printing {word!r}")
            if word in line:
                return line


async def _snapshot_rtt(url: str, prefix: str, ids: list[str], n: int) -> float:
    """p50 ms of reading one agent's stored conversation keys (one pipeline round trip)."""
    client = aioredis.Redis.from_url(url)
    took: list[float] = []
    try:
        for agent_id in random.sample(ids, min(n, len(ids))):
            keys = [k async for k in client.scan_iter(match=f"{prefix}mem:agent/{agent_id}/*")]
            started = time.perf_counter()
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.dump(key)
                await pipe.execute()
            took.append(time.perf_counter() - started)
    finally:
        await client.aclose()
    return summarize(took, unit="ms", qs=(50,))["p50_ms"]


async def bench(
    url: str, agents: int, workers: int, settle_s: float = 2.0, rtt_samples: int = 50
) -> dict[str, Any]:
    """Drain a node holding ``agents`` under ``workers`` callers, with ``settle_s`` of
    load before the drain mark and again after n1 exits; ``snapshot_rtt_ms`` over
    ``rtt_samples`` agents (each found by a SCAN of the keyspace)."""
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:12]}:"
    # the nodes' default liveness (1,500 ms TTL): no failover is timed here, and a short
    # TTL gets a starved node told dead mid-drain
    ttl = {"ttl_ms": 1_500, "renew_ms": 500}
    nodes = _Nodes(url, prefix, **ttl)
    ids = [f"b-d-{i}" for i in range(agents)]
    try:
        nodes.start("n1")
        await nodes.ready("n1")
        async with _runtime(url, prefix, "gen", client=True, **ttl) as caller:
            node = caller.directory.cluster  # type: ignore[attr-defined]
            await node.membership.wait_for(2, timeout=30)
            started = time.perf_counter()
            await _activate(caller, ids)
            activate_s = time.perf_counter() - started
            nodes.start("n2")
            await nodes.ready("n2")
            await node.membership.wait_for(3, timeout=30)
            load = _Load(caller, ids, workers)
            await asyncio.sleep(settle_s)
            load.phase = "during"
            load.moved = set(ids)
            marked = time.perf_counter()
            await node.membership.mark("draining", node_id="n1")
            drained = await _line(nodes.procs["n1"], b"drained", timeout=300)
            drain_s = time.perf_counter() - marked
            await asyncio.to_thread(nodes.procs["n1"].wait, 60)
            exit_s = time.perf_counter() - marked
            load.phase = "after"
            await asyncio.sleep(settle_s)
            await load.stop()
        before = summarize(load.samples["before"], unit="ms", qs=(50, 99))
        first = summarize(load.first_after_move or [0.0], unit="ms", qs=(50, 99))
        report = drained.decode().strip()
        found = re.search(r"drained: (\d+) agents moved .*\((\d+) held", report)
        moved, held = (int(found[1]), int(found[2])) if found else (-1, -1)
        return {
            "agents": agents,
            "held": held,
            "moved": moved,
            "lost_epoch": "lost its epoch" in report,
            "activate_s": round(activate_s, 2),
            "drain_s": round(drain_s, 2),
            "exit_s": round(exit_s, 2),
            "reported": report,
            "turns": load.turns,
            "failed": sum(load.failures.values()),
            "failures": load.failures,
            "failure_examples": load.examples,
            "before": before,
            "during": summarize(load.samples["during"] or [0.0], unit="ms", qs=(50, 99)),
            "first_after_move": {**first, "n": len(load.first_after_move)},
            "moved_extra_ms": round(first["p50_ms"] - before["p50_ms"], 3),
            "snapshot_rtt_ms": await _snapshot_rtt(url, prefix, ids, rtt_samples),
        }
    finally:
        nodes.close()
        await delete_prefix(url, prefix)


async def run(quick: bool) -> dict[str, Any]:
    async with local_redis() as url:
        if quick:  # every phase still sees turns; the full run's sizes are below
            return await bench(url, 100, 4, settle_s=0.5, rtt_samples=10)
        return await bench(url, 10_000, 64)


def main() -> None:
    args = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "").parse_args()
    r = asyncio.run(run(args.quick))
    rows = [
        ("agents moved / held at the drain", r["moved"], r["held"], "all"),
        ("n1 lost its epoch meanwhile (run not valid)", r["lost_epoch"], "", "False"),
        ("drain time, s (mark -> drained)", r["drain_s"], "", "<= 30"),
        ("failed turns / turns", r["failed"], r["turns"], "0"),
        ("turn p99 ms: during / before", r["during"]["p99_ms"], r["before"]["p99_ms"], ""),
        ("moved agent's first turn: extra p50 ms / snapshot rtt ms", r["moved_extra_ms"],
         r["snapshot_rtt_ms"], "extra <= 1 rtt"),
    ]  # fmt: skip
    emit(r, as_json=args.json, title="drain", rows=rows, columns=("figure", "ours", "peer", "goal"))


if __name__ == "__main__":
    sys.exit(main())
