"""``agentrt serve`` benchmark: turns/s and latency through the HTTP API against
``rt.ask`` in process, same run, same runtime, same mock LLM, C=100.

Both sides run ``concurrency`` workers, each asking its own conversation one turn after
another for ``seconds``: in process with ``rt.ask(id, text)``, over HTTP with an aiohttp
client posting ``/v1/chat/completions`` (one user message, ``X-Agent-Id``) to a
``Server`` on loopback. The client runs in the server's own event loop, so every cost of
the HTTP path (client included, which a real deployment has elsewhere) is charged to
``serve``: a conservative figure. The LLM is the in-process mock provider with
``latency_ms`` per call (100 ms: faster than a real model, so the overhead shows).
Rounds alternate the two sides; the figures are the medians over rounds.

Figures: ``inproc_turns_per_s``, ``serve_turns_per_s`` and their ``ratio`` (target
>= 0.8), latency p50/p95 of each and ``overhead_p95_ms`` (serve p95 - in-process p95),
``serve_stream_turns_per_s`` (the same with ``"stream": true``), CPU per turn of both,
and ``errors`` (any non-200 answer or failed ask; expected 0).

    python -m loadtest.bench.serve                 # table
    python -m loadtest.bench.serve --json          # one JSON object
    python -m loadtest.bench.serve --quick --json
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from agentrt import Agent, Runtime, run
from agentrt.actor import NodeConfig
from agentrt.llm import PoolConfig, ProviderConfig
from agentrt.runtime import AgentsConfig, RuntimeConfig
from agentrt.serve import ServeConfig, Server
from loadtest.bench.measure import bench_parser, cpu_seconds, emit, summarize

CONCURRENCY = 100


def _config(latency_ms: float) -> RuntimeConfig:
    provider = ProviderConfig(
        name="mock", kind="mock", mock_latency_ms=latency_ms, max_concurrency=4096,
        max_queue=100_000,
    )  # fmt: skip
    return RuntimeConfig(
        node=NodeConfig(watchdog=False),
        agents=AgentsConfig(idle_timeout_s=None),
        llm=PoolConfig(providers=(provider,)),
    )


async def _drive(
    workers: int, seconds: float, turn: Callable[[int, int], Awaitable[bool]]
) -> dict[str, Any]:
    """``workers`` loops calling ``turn(worker, n)`` until ``seconds`` pass."""
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def worker(w: int) -> None:
        nonlocal errors
        n = 0
        while loop.time() < end:
            started = time.perf_counter()
            ok = await turn(w, n)
            latencies.append(time.perf_counter() - started)
            errors += not ok
            n += 1

    cpu, wall = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    done = len(latencies)
    return {
        "turns_per_s": done / wall,
        "cpu_us_per_turn": cpu / max(done, 1) * 1e6,
        "errors": errors,
        **summarize(latencies, "ms", (50, 95)),
    }


async def bench(rounds: int, seconds: float, latency_ms: float) -> dict[str, Any]:
    async with Runtime(_config(latency_ms)) as rt:
        rt.route("inproc/", Agent)
        server = Server(rt, ServeConfig(port=0, max_in_flight=4 * CONCURRENCY))
        server.expose("assistant", Agent)
        await server.start()
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        http = aiohttp.ClientSession(connector=connector)
        url = server.url + "/chat/completions"

        async def inproc(w: int, n: int) -> bool:
            try:
                await rt.ask(f"inproc/{w}", f"question {n}")
            except Exception:
                return False
            return True

        async def over_http(w: int, n: int, *, stream: bool = False) -> bool:
            body = {"model": "assistant", "messages": [{"role": "user", "content": f"question {n}"}]}
            if stream:
                body["stream"] = True
            async with http.post(url, json=body, headers={"X-Agent-Id": f"c{w}"}) as resp:
                await resp.read()
                return resp.status == 200

        async def streamed(w: int, n: int) -> bool:
            return await over_http(w, n, stream=True)

        try:
            for side in (inproc, over_http):  # warm up: every agent active, connections open
                await _drive(CONCURRENCY, 0.3, side)
            runs: dict[str, list[dict[str, Any]]] = {"inproc": [], "serve": [], "stream": []}
            for _ in range(rounds):
                runs["inproc"].append(await _drive(CONCURRENCY, seconds, inproc))
                runs["serve"].append(await _drive(CONCURRENCY, seconds, over_http))
                runs["stream"].append(await _drive(CONCURRENCY, seconds, streamed))
        finally:
            await http.close()
            await server.aclose()

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[side]), 3)

    inproc_tps, serve_tps = median("inproc", "turns_per_s"), median("serve", "turns_per_s")
    return {
        "concurrency": CONCURRENCY,
        "llm_latency_ms": latency_ms,
        "rounds": rounds,
        "seconds_per_round": seconds,
        "inproc_turns_per_s": inproc_tps,
        "serve_turns_per_s": serve_tps,
        "serve_stream_turns_per_s": median("stream", "turns_per_s"),
        "ratio": round(serve_tps / max(inproc_tps, 1e-9), 3),
        "inproc_p50_ms": median("inproc", "p50_ms"),
        "inproc_p95_ms": median("inproc", "p95_ms"),
        "serve_p50_ms": median("serve", "p50_ms"),
        "serve_p95_ms": median("serve", "p95_ms"),
        "overhead_p95_ms": round(median("serve", "p95_ms") - median("inproc", "p95_ms"), 3),
        "inproc_cpu_us_per_turn": median("inproc", "cpu_us_per_turn"),
        "serve_cpu_us_per_turn": median("serve", "cpu_us_per_turn"),
        "errors": sum(r["errors"] for side in runs.values() for r in side),
    }


def main() -> None:
    parser = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="mock LLM latency (100)")
    args = parser.parse_args()
    rounds, seconds = (1, 1.0) if args.quick else (3, 5.0)
    result = run(bench(rounds, seconds, args.latency_ms))
    rows = [
        ("turns/s", result["inproc_turns_per_s"], result["serve_turns_per_s"]),
        ("latency p50 (ms)", result["inproc_p50_ms"], result["serve_p50_ms"]),
        ("latency p95 (ms)", result["inproc_p95_ms"], result["serve_p95_ms"]),
        ("CPU per turn (us)", result["inproc_cpu_us_per_turn"], result["serve_cpu_us_per_turn"]),
        ("streamed turns/s", "", result["serve_stream_turns_per_s"]),
        ("serve / in process", "", result["ratio"]),
    ]
    emit(
        result,
        as_json=args.json,
        title=f"agentrt serve vs rt.ask, C={CONCURRENCY}, mock LLM {args.latency_ms:g} ms",
        rows=rows,
        columns=("figure", "rt.ask", "serve"),
    )


if __name__ == "__main__":
    main()
