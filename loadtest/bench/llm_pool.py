"""LLMPool against raw HTTP clients, over real HTTP to the mock LLM server.

The mock server runs in its own process with a fixed 50 ms latency. Each client runs in
its own worker process (clean CPU and peak-RSS figures, no shared event loop), sends
``--requests`` chat completions with C concurrent callers after a warm-up of C requests,
and reports req/s, client overhead (end-to-end latency minus the server's 50 ms) p50/p95/
p99, CPU ms per request, peak RSS and errors. Clients run interleaved for ``--rounds``
rounds (default 3); a client's req/s, CPU and RSS are the medians of its rounds and its
overhead percentiles are taken over all its requests of all rounds. Clients:

- ``agentrt``: ``LLMPool.chat`` (max_concurrency = C), parsed ``ChatResponse``;
- ``httpx``: ``httpx.AsyncClient`` (Limits raised to C), ``post(json=)`` + ``.json()``;
- ``aiohttp``: ``aiohttp.ClientSession`` (connector limit C), ``post(json=)`` + ``.json()``;
- ``openai``: the SDK's ``AsyncOpenAI`` (connection limits raised to C, no retries).

Embeddings: a second mock process whose cost is per HTTP request (``--max-inflight 4``,
20 ms each, so at most 200 HTTP requests/s whatever their size); 256 callers embed one
text each through ``LLMPool.embed`` with micro-batching (64 texts, 2 ms) and without
(``max_batch_size=1``).

In the same run, the fault-mix scenario (:mod:`loadtest.bench.llm_faults`: one proxy,
three models, one failing, one rate-limited, one healthy) reports ``fault_mix`` with its
verdict, and ``bars`` gives the ratios of issue 3/14: agentrt's req/s over raw aiohttp's
at the highest C, and over the openai SDK's.

Run from the repository root::

    python -m loadtest.bench.llm_pool            # table
    python -m loadtest.bench.llm_pool --json     # {"results", "embeddings", "bars", "fault_mix"}
    python -m loadtest.bench.llm_pool --quick    # a few seconds, smaller C and counts
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from loadtest.bench import llm_faults
from loadtest.bench.measure import bench_parser, cpu_seconds, emit, peak_rss_bytes, percentile

SERVER_LATENCY_S = 0.050
CLIENTS = ("agentrt", "httpx", "aiohttp", "openai")
MiB = 1024 * 1024


def _body(i: int) -> dict[str, Any]:
    return {"model": "mock", "messages": [{"role": "user", "content": f"hello {i}"}]}


async def _client_agentrt(url: str, c: int) -> tuple[Callable[[int], Awaitable[None]], Any]:
    from agentrt.llm import ChatRequest, LLMPool, PoolConfig, ProviderConfig, RetryPolicy
    from agentrt.messages import Message

    provider = ProviderConfig(
        name="mock",
        base_urls=(url,),
        max_concurrency=c,
        max_queue=max(1024, 4 * c),
        retry=RetryPolicy(max_retries=0),
    )
    pool = LLMPool(PoolConfig(providers=(provider,)))

    async def one(i: int) -> None:
        request = ChatRequest(model="mock", messages=(Message.user(f"hello {i}"),))
        response = await pool.chat(request, agent_id=f"agent-{i % 1000}")
        assert response.content

    return one, pool.aclose


async def _client_httpx(url: str, c: int) -> tuple[Callable[[int], Awaitable[None]], Any]:
    import httpx

    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=c, max_keepalive_connections=c), timeout=120
    )
    endpoint = url + "/chat/completions"

    async def one(i: int) -> None:
        response = await client.post(endpoint, json=_body(i))
        response.raise_for_status()
        assert response.json()["choices"][0]["message"]["content"]

    return one, client.aclose


async def _client_aiohttp(url: str, c: int) -> tuple[Callable[[int], Awaitable[None]], Any]:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c))
    endpoint = url + "/chat/completions"

    async def one(i: int) -> None:
        async with session.post(endpoint, json=_body(i)) as response:
            response.raise_for_status()
            data = await response.json()
            assert data["choices"][0]["message"]["content"]

    return one, session.close


async def _client_openai(url: str, c: int) -> tuple[Callable[[int], Awaitable[None]], Any]:
    import importlib

    import openai

    # openai 3.x builds on httpx2, older versions on httpx: take Limits from its base.
    base = openai.DefaultAsyncHttpxClient.__mro__[1]
    http = importlib.import_module(base.__module__.split(".")[0])
    http_client = openai.DefaultAsyncHttpxClient(
        limits=http.Limits(max_connections=c, max_keepalive_connections=c)
    )
    # a generous connect timeout: the SDK's 5 s default fails the warm-up of 1,000
    # connections on a loaded 2-core machine, and connecting is not what is measured
    client = openai.AsyncOpenAI(
        base_url=url,
        api_key="bench",
        max_retries=0,
        http_client=http_client,
        timeout=http.Timeout(600.0, connect=120.0),
    )

    async def one(i: int) -> None:
        response = await client.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": f"hello {i}"}]
        )
        assert response.choices[0].message.content

    return one, client.close


_FACTORIES = {
    "agentrt": _client_agentrt,
    "httpx": _client_httpx,
    "aiohttp": _client_aiohttp,
    "openai": _client_openai,
}


async def _worker(client: str, url: str, c: int, n: int) -> dict[str, Any]:
    """Run one client in this process; returns its figures."""
    one, close = await _FACTORIES[client](url, c)
    await asyncio.gather(*(one(-i - 1) for i in range(c)))  # warm-up: open C connections
    latencies: list[float] = []
    errors = 0
    counter = iter(range(n))

    async def caller() -> None:
        nonlocal errors
        for i in counter:
            start = time.perf_counter()
            try:
                await one(i)
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - start)

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(c)))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    await close()
    return {
        "rps": round(n / wall, 1),
        "overhead_ms": [round(max(0.0, lat - SERVER_LATENCY_S) * 1000, 3) for lat in latencies],
        "cpu_ms_per_req": round(cpu / n * 1000, 4),
        "peak_rss_mib": round(peak_rss_bytes() / MiB, 1),
        "errors": errors,
    }


def _combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One client's figures over its rounds: median req/s, CPU and RSS; overhead
    percentiles over every request of every round; errors summed."""

    def median(key: str) -> float:
        values = sorted(r[key] for r in rounds)
        return float(values[len(values) // 2])

    overhead = sorted(x for r in rounds for x in r["overhead_ms"])
    return {
        "rps": median("rps"),
        "overhead_p50_ms": percentile(overhead, 50),
        "overhead_p95_ms": percentile(overhead, 95),
        "overhead_p99_ms": percentile(overhead, 99),
        "cpu_ms_per_req": median("cpu_ms_per_req"),
        "peak_rss_mib": median("peak_rss_mib"),
        "errors": sum(r["errors"] for r in rounds),
    }


async def _embed_worker(url: str, batched: bool, n: int, callers: int) -> dict[str, Any]:
    from agentrt.llm import BatchConfig, LLMPool, PoolConfig, ProviderConfig

    batch = BatchConfig(max_batch_size=64 if batched else 1, max_wait_ms=2.0)
    provider = ProviderConfig(
        name="mock", base_urls=(url,), max_concurrency=64, max_queue=4096, batch=batch
    )
    errors = 0
    async with LLMPool(PoolConfig(providers=(provider,))) as pool:
        counter = iter(range(n))

        async def caller() -> None:
            nonlocal errors
            for i in counter:
                try:
                    response = await pool.embed([f"text {i}"], model="mock-embed")
                    assert len(response.vectors) == 1
                except Exception:
                    errors += 1

        await pool.embed(["warm-up"], model="mock-embed")
        warm_calls = pool.stats()["providers"]["mock"]["embed_calls"]
        t0 = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        wall = time.perf_counter() - t0
        calls = pool.stats()["providers"]["mock"]["embed_calls"] - warm_calls
    return {"rps": round(n / wall, 1), "errors": errors, "http_calls": calls}


def _run_worker(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "loadtest.bench.llm_pool", "--worker", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {args} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _main(quick: bool, rounds: int, with_faults: bool = True) -> dict[str, Any]:
    from agentrt.testing import MockLLMProcess

    levels = (20, 100) if quick else (100, 1000)
    n = 300 if quick else 5000
    runs: dict[str, list[dict[str, Any]]] = {}
    async with MockLLMProcess(latency_ms=SERVER_LATENCY_S * 1000) as server:
        for _ in range(rounds):  # clients interleaved, so a noisy spell hits all of them
            for c in levels:
                for client in CLIENTS:
                    args = ["chat", client, server.url, str(c), str(n)]
                    figures = await asyncio.to_thread(_run_worker, args)
                    runs.setdefault(f"{client}@{c}", []).append(figures)
    results = {key: _combine(rounds) for key, rounds in runs.items()}
    embed_n = 600 if quick else 5000
    async with MockLLMProcess(latency_ms=20, max_inflight=4) as server:
        batched = await asyncio.to_thread(
            _run_worker, ["embed", "batched", server.url, "256", str(embed_n)]
        )
        unbatched = await asyncio.to_thread(
            _run_worker, ["embed", "unbatched", server.url, "256", str(embed_n)]
        )
    embeddings = {
        "batched_rps": batched["rps"],
        "unbatched_rps": unbatched["rps"],
        "batched_http_calls": batched["http_calls"],
        "unbatched_http_calls": unbatched["http_calls"],
        "errors": batched["errors"] + unbatched["errors"],
        "texts": embed_n,
    }
    top = max(levels)
    agentrt = results[f"agentrt@{top}"]["rps"]
    bars = {
        "concurrency": top,
        "agentrt_over_aiohttp": round(agentrt / results[f"aiohttp@{top}"]["rps"], 3),
        "agentrt_over_openai": round(agentrt / results[f"openai@{top}"]["rps"], 3),
    }
    out = {"results": results, "embeddings": embeddings, "bars": bars}
    if with_faults:
        out["fault_mix"] = await llm_faults.run(quick)
    return out


def _worker_main(argv: list[str]) -> None:
    kind, name, url, c, n = argv
    if kind == "chat":
        result = asyncio.run(_worker(name, url, int(c), int(n)))
    else:
        result = asyncio.run(_embed_worker(url, name == "batched", int(n), int(c)))
    print(json.dumps(result))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2:])
        return
    parser = bench_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="rounds per client (default 3, quick 1)")
    parser.add_argument(
        "--no-fault-mix", action="store_true", help="skip the fault-mix scenario (llm_faults)"
    )
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    result = asyncio.run(_main(args.quick, rounds, not args.no_fault_mix))
    fields = ("rps", "overhead_p50_ms", "overhead_p95_ms", "overhead_p99_ms")
    fields += ("cpu_ms_per_req", "peak_rss_mib", "errors")
    rows = [[key, *(r[f] for f in fields)] for key, r in result["results"].items()]
    e = result["embeddings"]
    rows.append(["embed batched", e["batched_rps"], "", "", "", "", "", e["errors"]])
    rows.append(["embed unbatched", e["unbatched_rps"], "", "", "", "", "", ""])
    b = result["bars"]
    rows.append([f"agentrt/aiohttp @{b['concurrency']}", b["agentrt_over_aiohttp"], *[""] * 6])
    rows.append([f"agentrt/openai @{b['concurrency']}", b["agentrt_over_openai"], *[""] * 6])
    if "fault_mix" in result:
        verdict = "PASSED" if result["fault_mix"]["passed"] else "FAILED"
        for name, ok, errors, beyond in llm_faults.rows(result["fault_mix"]):
            rows.append([f"{name} ({verdict})", ok, *[""] * 5, f"{errors}; {beyond} RL>dl"])
    columns = ["client@C", "req/s", "ovh p50 ms", "p95", "p99", "cpu ms/req", "RSS MiB", "errors"]
    emit(result, as_json=args.json, title="LLM pool vs raw clients", rows=rows, columns=columns)


if __name__ == "__main__":
    main()
