"""Cluster-wide LLM limits benchmark: the acquire hot path, and the overshoot of 3 nodes.

On a real Redis (127.0.0.1:6379, or a redis-server started for the run):

- ``hotpath``: one ``acquire`` of a ``SharedRateLimiter`` (a lease renewed from Redis by
  one Lua script call when spent) against the node-local ``RateLimiter`` at the same
  limit, interleaved in one run: the ratio is what sharing costs per request;
- ``overshoot``: ``nodes`` node processes (each its own ``LLMPool`` with the shared limit,
  ``concurrency`` callers each) drive more load than the limit against ONE mock LLM server
  (``serve_mock_llm``, over HTTP) that counts requests; the server's count over the run
  against the limit's allowance ``rate x elapsed`` (``ratio``; the goal is <= 1.05), and
  the largest count in any sliding ``window_s`` sampled every 50 ms, and the documented
  bound ``rate x (elapsed + burst_s + lease_s) + nodes``.

    python -m loadtest.bench.shared_limits            # full: a 60 s window, rpm 6,000
    python -m loadtest.bench.shared_limits --json
    python -m loadtest.bench.shared_limits --quick --json   # a few seconds

``python -m loadtest.bench.shared_limits node '<json>'`` is one node (what the overshoot
run and ``tests/llm/test_shared_limits_cluster.py`` start): it prints one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from agentrt.llm import (
    ChatRequest,
    DeadlineExceeded,
    LLMError,
    LLMPool,
    PoolConfig,
    ProviderConfig,
    RetryPolicy,
    SharedLimits,
    serve_mock_llm,
)
from agentrt.llm._ratelimit import RateLimiter
from agentrt.llm._sharedlimit import SharedRateLimiter
from agentrt.messages import Message
from loadtest.bench.measure import bench_parser, emit, local_redis

__all__ = ["node_pool_config", "node_reports", "run_nodes", "run_window", "sample_counts"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def node_pool_config(spec: dict[str, Any]) -> PoolConfig:
    """The pool of one node: provider ``mock`` at ``spec["llm_url"]`` with ``spec["rpm"]``
    shared through ``spec["redis_url"]`` (key prefix ``spec["prefix"]``)."""
    limits = SharedLimits(
        url=spec["redis_url"],
        cluster="bench",
        key_prefix=spec["prefix"],
        nodes=spec["nodes"],
        burst_s=spec["burst_s"],
        lease_s=spec["lease_s"],
        retry_s=spec.get("retry_s", 1.0),
    )
    provider = ProviderConfig(
        name="mock",
        base_urls=(spec["llm_url"],),
        rpm=spec["rpm"],
        retry=RetryPolicy(max_retries=0),
    )
    return PoolConfig(providers=(provider,), shared_limits=limits, coalesce=False)


async def _node(spec: dict[str, Any]) -> dict[str, Any]:
    sent = 0
    errors: dict[str, int] = {}
    async with LLMPool(node_pool_config(spec)) as pool:
        loop = asyncio.get_running_loop()
        end = loop.time() + spec["seconds"]

        async def caller(n: int) -> None:
            nonlocal sent
            while loop.time() < end:
                request = ChatRequest(model="mock", messages=(Message.user(f"q{n}"),))
                try:
                    await pool.chat(request, agent_id=f"a{n}", deadline=end)
                    sent += 1
                except LLMError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    if isinstance(exc, DeadlineExceeded):
                        return  # no room left before the end: this caller is done

        first = time.time()  # before the first acquire: the bucket is no older
        tasks = [asyncio.create_task(caller(n)) for n in range(spec["concurrency"])]
        await asyncio.gather(*tasks)
        last = time.time()  # after the last answer: every request arrived before
        limiter = pool.stats()["providers"]["mock"]["rate_limit"]
    return {"answered": sent, "errors": errors, "limiter": limiter, "first": first, "last": last}


@contextlib.asynccontextmanager
async def run_nodes(spec: dict[str, Any], count: int) -> AsyncIterator[list[Any]]:
    """Start ``count`` node processes with ``spec``; yields them; kills every one still
    running on exit (each in its own process group)."""
    argv = [sys.executable, "-m", "loadtest.bench.shared_limits", "node", json.dumps(spec)]
    procs = [
        await asyncio.create_subprocess_exec(
            *argv,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


async def node_reports(procs: list[Any], timeout: float) -> list[dict[str, Any]]:
    """Each node's JSON report (raises when one fails or outlives ``timeout``)."""
    outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), timeout)
    reports = []
    for proc, (out, err) in zip(procs, outs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"node exited {proc.returncode}: {err.decode()[-2000:]}")
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return reports


async def sample_counts(counts: Any, samples: list[tuple[float, int]], every: float) -> None:
    """Append (time, ``counts["http"]``) every ``every`` seconds until cancelled."""
    while True:
        samples.append((time.monotonic(), counts["http"]))
        await asyncio.sleep(every)


def run_window(reports: list[dict[str, Any]]) -> float:
    """Seconds from the first node's first acquire to the last node's last answer (wall
    clock of one machine): every request the server counted arrived within it."""
    return max(r["last"] for r in reports) - min(r["first"] for r in reports)


def max_in_window(samples: list[tuple[float, int]], window: float) -> int:
    """The largest count increase between samples at most ``window`` seconds apart."""
    best, start = 0, 0
    for end in range(len(samples)):
        while samples[end][0] - samples[start][0] > window:
            start += 1
        best = max(best, samples[end][1] - samples[start][1])
    return best


async def overshoot(redis_url: str, *, seconds: float, rpm: int, nodes: int) -> dict[str, Any]:
    """``nodes`` processes against one mock server for ``seconds`` at ``rpm``."""
    samples: list[tuple[float, int]] = []
    async with serve_mock_llm() as server:
        spec = {
            "llm_url": server.url,
            "redis_url": redis_url,
            "prefix": f"agentrt-bench:{uuid.uuid4().hex[:8]}:",
            "rpm": rpm,
            "nodes": nodes,
            "burst_s": 0.1,
            "lease_s": 0.05,
            "seconds": seconds,
            "concurrency": 16,
        }
        sampler = asyncio.create_task(sample_counts(server.state.counts, samples, 0.05))
        try:
            async with run_nodes(spec, nodes) as procs:
                reports = await node_reports(procs, seconds + 60)
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        count = server.state.counts["http"]
    elapsed = run_window(reports)
    rate = rpm / 60
    window = min(seconds, 60.0)
    return {
        "nodes": nodes,
        "rpm": rpm,
        "elapsed_s": round(elapsed, 3),
        "requests_seen": count,
        "allowance": round(rate * elapsed, 1),
        "ratio": round(count / (rate * elapsed), 4),
        "bound": round(rate * (elapsed + spec["burst_s"] + spec["lease_s"]) + nodes, 1),
        "window_s": window,
        "max_in_window": max_in_window(samples, window),
        "window_allowance": round(rate * window, 1),
        "renewals": sum(r["limiter"]["renewals"] for r in reports),
        "limiter_waits": sum(r["limiter"]["waits"] for r in reports),
    }


async def hotpath(redis_url: str, *, acquires: int, rounds: int) -> dict[str, Any]:
    """ns per acquire: shared (a lease of 100, so one Redis script call per 100
    acquires) vs local, at a limit never reached; interleaved rounds, best of each."""
    rpm = 600_000_000  # never waits: the cost of the path alone, a renewal per 100
    limits = SharedLimits(
        url=redis_url,
        cluster="bench",
        key_prefix=f"agentrt-bench:{uuid.uuid4().hex[:8]}:",
        lease_s=100 / (rpm / 60),
    )
    shared = SharedRateLimiter("hot", rpm=rpm, limits=limits)
    local = RateLimiter("hot", rpm=rpm)
    best = {"shared": float("inf"), "local": float("inf")}
    try:
        for n in range(rounds * 2):
            name, limiter = ("shared", shared) if n % 2 else ("local", local)
            begin = time.perf_counter()
            for _ in range(acquires):
                await limiter.acquire(1, None)
            best[name] = min(best[name], (time.perf_counter() - begin) / acquires)
        renewals = shared.renewals
    finally:
        await shared.aclose()
    return {
        "shared_ns": round(best["shared"] * 1e9, 1),
        "local_ns": round(best["local"] * 1e9, 1),
        "ratio": round(best["shared"] / best["local"], 3),
        "acquires": acquires,
        "renewals": renewals,
    }


async def main_async(quick: bool) -> dict[str, Any]:
    async with local_redis() as url:
        hot = await hotpath(url, acquires=10_000 if quick else 200_000, rounds=3 if quick else 5)
        seconds, rpm = (2.0, 6_000) if quick else (60.0, 6_000)
        over = await overshoot(url, seconds=seconds, rpm=rpm, nodes=3)
    return {"quick": quick, "hotpath": hot, "overshoot": over}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "node":
        print(json.dumps(asyncio.run(_node(json.loads(sys.argv[2])))), flush=True)
        return
    args = bench_parser(__doc__.splitlines()[0] if __doc__ else "").parse_args()
    result = asyncio.run(main_async(args.quick))
    hot, over = result["hotpath"], result["overshoot"]
    rows = [
        ("acquire, shared with lease (ns)", hot["shared_ns"]),
        ("acquire, local bucket (ns)", hot["local_ns"]),
        ("shared / local", hot["ratio"]),
        ("Redis renewals", hot["renewals"]),
        (f"requests seen, {over['nodes']} nodes", over["requests_seen"]),
        ("allowance (rate x elapsed)", over["allowance"]),
        ("seen / allowance", over["ratio"]),
        ("documented bound", over["bound"]),
        (f"max in any {over['window_s']} s", over["max_in_window"]),
        ("window allowance", over["window_allowance"]),
    ]
    emit(result, as_json=args.json, title="shared LLM limits", rows=rows, columns=("", "value"))


if __name__ == "__main__":
    main()
