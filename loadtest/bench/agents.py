"""Agents benchmark: memory per agent, turn latency and the runtime's own overhead.

Each figure comes from a process of its own (so one run's memory does not inflate the
next), all against one mock LLM server started by this script in a separate process with
a fixed latency (default 200 ms), over real HTTP:

- **Active agents** (``--sizes``, default 1,000 and 10,000): the swarm is spawned and each
  agent's conversation is seeded with 20 messages of the chat corpus (user questions, long
  answers, tool calls and JSON results: ``loadtest/bench/chat_corpus.py``). Then agents
  take turns for ``--duration`` seconds with exponential think times, so the offered load
  is ``--rate`` turns/s in total whatever the swarm size (kept well within the mock
  server's capacity, >10,000 req/s, and this node's). Reported: RSS growth per agent
  after seeding, turn latency p50/p95/p99, the runtime's overhead p95 (each turn's latency
  minus the time its LLM call took inside the pool), turns/s, and turns lost.
- **Passivated agents** (``--passivated``, default 100,000): agents are spawned in batches
  of 1,000 with a short conversation, passivated to a SQLite store (the embedded durable
  default), and the next batch follows, as a node that addresses many agents but keeps few
  hot; then RSS growth per agent is read with all of them idle.

The peer of the latency figures is the LLM itself: the overhead is what the runtime adds
on top of the time its LLM call took.

    python -m loadtest.bench.agents                    # full run, table
    python -m loadtest.bench.agents --quick --json     # seconds, used by the tests
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agentrt.actor import Caller, NodeConfig, run
from agentrt.agent import Agent, TurnFailed
from agentrt.llm import PoolConfig, ProviderConfig
from agentrt.runtime import AgentsConfig, Runtime, RuntimeConfig, StoreConfig
from agentrt.telemetry import LogHistogram
from loadtest.bench.chat_corpus import conversation
from loadtest.bench.measure import bench_parser, emit, rss_bytes


class BenchAgent(Agent):
    """An agent whose conversation can be seeded directly."""

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if isinstance(msg, tuple) and msg[0] == "seed":
            await self.conversation.extend(msg[1])
            return len(self.conversation)
        return await super().handle_call(msg, caller)


def runtime_config(url: str, store: StoreConfig | None = None) -> RuntimeConfig:
    """A runtime talking to the mock LLM server at ``url`` over HTTP, without the
    watchdog or passivation (also used by ``loadtest.bench.spawn``)."""
    provider = ProviderConfig(
        name="mock-http",
        kind="openai",
        base_urls=(url,),
        models=("mock",),
        max_concurrency=4096,
        max_queue=200_000,
        timeout_s=60.0,
    )
    return RuntimeConfig(
        node=NodeConfig(watchdog=False),
        llm=PoolConfig(providers=(provider,)),
        store=store or StoreConfig(),
        agents=AgentsConfig(idle_timeout_s=None),
    )


def _corpus(count: int, length: int) -> list[list[Any]]:
    # a pool of distinct conversations reused round-robin keeps generation time small
    return [conversation(seed, length + 1)[1:] for seed in range(count)]


async def _active(n: int, url: str, rate: float, duration: float, seed: int) -> dict[str, Any]:
    corpus = _corpus(200, 20)
    questions = [m.content for conv in corpus for m in conv if m.role == "user"]
    async with Runtime(runtime_config(url)) as rt:
        gc.collect()
        base = rss_bytes()
        ids = await rt.spawn_swarm(BenchAgent, n, model="mock")
        for k, agent_id in enumerate(ids):
            await rt.call(agent_id, ("seed", corpus[k % len(corpus)]), timeout=None)
        gc.collect()
        per_agent = (rss_bytes() - base) / n

        latency, overhead = LogHistogram(), LogHistogram()
        failures = 0
        loop = asyncio.get_running_loop()
        end = loop.time() + duration
        mean_think = n / rate

        async def user(agent_id: str, rng: random.Random) -> None:
            nonlocal failures
            await asyncio.sleep(rng.random() * mean_think)
            while (started := loop.time()) < end:
                try:
                    reply = await rt.ask(agent_id, rng.choice(questions), timeout=30)
                except TurnFailed:
                    failures += 1
                else:
                    took = loop.time() - started
                    latency.record(took)
                    overhead.record(max(0.0, took - reply.llm_seconds))
                think = rng.expovariate(1.0 / mean_think)
                if loop.time() + think >= end:
                    break
                await asyncio.sleep(think)

        t0 = time.perf_counter()
        await asyncio.gather(*(user(i, random.Random(f"{seed}:{i}")) for i in ids))
        elapsed = time.perf_counter() - t0
        stats = rt.turn_stats()
    return {
        "rss_bytes_per_agent": round(per_agent),
        "turn_p50_ms": round(latency.quantile(0.5) * 1000, 2),
        "turn_p95_ms": round(latency.quantile(0.95) * 1000, 2),
        "turn_p99_ms": round(latency.quantile(0.99) * 1000, 2),
        "overhead_p50_ms": round(overhead.quantile(0.5) * 1000, 3),
        "overhead_p95_ms": round(overhead.quantile(0.95) * 1000, 3),
        "turns_per_s": round(stats.accepted / elapsed, 1),
        "turns": stats.accepted,
        "failed": stats.failed,
        "lost": stats.lost + stats.in_flight,
    }


async def _passivated(n: int, url: str, batch: int) -> dict[str, Any]:
    short = _corpus(50, 2)
    with tempfile.TemporaryDirectory(prefix="agentrt-bench-") as tmp:
        store = StoreConfig(kind="sqlite", path=str(Path(tmp) / "agents.sqlite3"))
        async with Runtime(runtime_config(url, store)) as rt:
            gc.collect()
            base = rss_bytes()
            for start in range(0, n, batch):
                size = min(batch, n - start)
                ids = await rt.spawn_swarm(BenchAgent, size, start=start, model="mock")
                for k, agent_id in enumerate(ids):
                    await rt.call(agent_id, ("seed", short[k % len(short)]), timeout=None)
                for agent_id in ids:
                    await rt.passivate(agent_id)
            gc.collect()
            per_agent = (rss_bytes() - base) / n
            agents = rt.stats()["agents"]
    return {
        "rss_bytes_per_agent": round(per_agent),
        "agents": agents["total"],
        "live": agents["live"],
        "passivated": agents["passivated"],
    }


def _child(args: Any) -> None:
    # agentrt.run, as users run agentrt: server GC thresholds (see agentrt.actor._loop)
    if args.child == "active":
        out = run(_active(args.n, args.url, args.rate, args.duration, args.seed))
    else:
        out = run(_passivated(args.n, args.url, args.batch))
    print(json.dumps(out))


def _run_child(kind: str, n: int, url: str, args: Any) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "loadtest.bench.agents", "--child", kind, "--n", str(n)]
    cmd += ["--url", url, "--rate", str(args.rate), "--duration", str(args.duration)]
    cmd += ["--seed", str(args.seed), "--batch", str(args.batch)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} n={n} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


async def _with_mock(latency_ms: float, fn: Any) -> Any:
    from agentrt.testing import MockLLMProcess

    async with MockLLMProcess(latency_ms=latency_ms) as server:
        return await asyncio.to_thread(fn, server.url)


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("agents: memory per agent, turn latency, runtime overhead")
    parser.add_argument("--sizes", default="1000,10000", help="active swarm sizes")
    parser.add_argument("--passivated", type=int, default=100_000, help="passivated agents")
    parser.add_argument("--rate", type=float, default=400.0, help="offered turns/s in total")
    parser.add_argument("--duration", type=float, default=20.0, help="turn phase, seconds")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="mock LLM latency")
    parser.add_argument("--batch", type=int, default=1000, help="passivation batch size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", choices=["active", "passivated"], help=_hidden())
    parser.add_argument("--n", type=int, default=0, help=_hidden())
    parser.add_argument("--url", default="", help=_hidden())
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return 0
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: expected comma-separated integers, got {args.sizes!r}")
    if any(s < 1 for s in sizes) or args.passivated < 0 or args.rate <= 0:
        parser.error("--sizes, --passivated and --rate must be positive")
    if args.quick:
        sizes, args.passivated, args.duration, args.rate = [200], 1000, 3.0, 100.0

    def measure(url: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "latency_ms": args.latency_ms,
            "rate": args.rate,
            "agents": {str(n): _run_child("active", n, url, args) for n in sizes},
        }
        if args.passivated:
            key = f"passivated_{args.passivated}"
            result[key] = _run_child("passivated", args.passivated, url, args)
        return result

    result = asyncio.run(_with_mock(args.latency_ms, measure))
    keys = ["rss_bytes_per_agent", "turn_p50_ms", "turn_p95_ms", "turn_p99_ms",
            "overhead_p95_ms", "turns_per_s", "lost"]  # fmt: skip
    rows = [[f"{n} agents: {k}", result["agents"][n][k]] for n in result["agents"] for k in keys]
    for key, value in result.items():
        if key.startswith("passivated_"):
            rows.append([f"{key}: rss_bytes_per_agent", value["rss_bytes_per_agent"]])
    emit(result, as_json=args.json, title="agents", rows=rows, columns=["figure", "value"])
    return 0


def _hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
