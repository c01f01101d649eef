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

``--gc server`` runs every client (the peers too) with the garbage-collector thresholds
that ``agentrt.run`` applies (``agentrt.actor.SERVER_GC_THRESHOLDS``); the default,
``--gc python``, keeps Python's. At C=1,000 the pool keeps more GC-tracked objects per
request in flight than raw aiohttp, so the two settings answer different questions: the
pool under Python's collector, and the pool as ``agentrt.run`` runs it beside a peer
given the same collector. The JSON says which (``gc``).

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
import gc
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Sequence
from typing import Any

from loadtest.bench import llm_faults
from loadtest.bench.llm_clients import FACTORIES, MODES
from loadtest.bench.measure import bench_parser, cpu_seconds, emit, peak_rss_bytes, percentile

SERVER_LATENCY_S = 0.050
CLIENTS = tuple(FACTORIES)
LOOPS = ("asyncio", "uvloop")
MiB = 1024 * 1024
#: the pool's goals beside raw aiohttp (issue 22 §2), on every loop, C and mode
GOAL_RPS_RATIO = 0.95
GOAL_OVERHEAD_P95_RATIO = 1.3


def _run_on(loop: str, main: Awaitable[dict[str, Any]], gc_mode: str = "python") -> dict[str, Any]:
    """Run ``main`` on asyncio's default loop or on uvloop (required when asked), with
    Python's collector thresholds or, for ``gc_mode="server"``, ``agentrt.run``'s."""
    if gc_mode == "server":
        from agentrt.actor import SERVER_GC_THRESHOLDS

        gc.set_threshold(*SERVER_GC_THRESHOLDS)
    factory = None
    if loop == "uvloop":
        import uvloop  # the bench extra installs it

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)  # type: ignore[arg-type]


async def _worker(client: str, mode: str, url: str, c: int, n: int) -> dict[str, Any]:
    """Run one client in this process; returns its figures."""
    one, close = await FACTORIES[client](url, c, mode)
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
    return _run_workers([args])[0]


def _run_workers(runs: list[list[str]]) -> list[dict[str, Any]]:
    """Each run of ``runs`` (a worker's arguments), one after another in one worker
    process; a list of their figures (RuntimeError with its stderr if the worker fails)."""
    cmd = [sys.executable, "-m", "loadtest.bench.llm_pool", "--worker", json.dumps(runs)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {runs} failed: {done.stderr[-2000:]}")
    result: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _plan(
    quick: bool, loops: Sequence[str], modes: Sequence[str], clients: Sequence[str]
) -> list[tuple[str, str, int, str]]:
    """One round's runs, ``(mode, loop, C, client)``. Quick: every client in JSON on
    asyncio's loop at C=20 and 50; the other modes and loops with agentrt and aiohttp
    at C=20 only (a few seconds)."""
    levels = (20, 50) if quick else (100, 1000)
    runs = []
    for mode in modes:
        for loop in loops:
            base = (mode, loop) == (MODES[0], LOOPS[0])
            for c in levels if base or not quick else levels[:1]:
                runs.extend(
                    (mode, loop, c, client)
                    for client in clients
                    if base or not quick or client in ("agentrt", "aiohttp")
                )
    return runs


def _versus(results: dict[str, dict[str, Any]], per_round: dict[str, list[float]]) -> dict:
    """agentrt beside raw aiohttp for each mode, loop and C of the run."""
    out: dict[str, Any] = {}
    for key, ours in results.items():
        prefix, _, client_c = key.rpartition("/")
        client, _, c = client_c.partition("@")
        peer = results.get(f"{prefix}/aiohttp@{c}")
        if client != "agentrt" or peer is None:
            continue
        rounds = per_round.get(f"{prefix}@{c}", [])
        out[f"{prefix}@{c}"] = {
            "rps_ratio": round(ours["rps"] / peer["rps"], 3),
            "rps_ratio_per_round": rounds,
            "overhead_p95_ratio": round(ours["overhead_p95_ms"] / peer["overhead_p95_ms"], 3),
            "agentrt_rps": ours["rps"],
            "aiohttp_rps": peer["rps"],
            "agentrt_overhead_p95_ms": ours["overhead_p95_ms"],
            "aiohttp_overhead_p95_ms": peer["overhead_p95_ms"],
        }
    return out


async def _chat_runs(
    plan: list[tuple[str, str, int, str]],
    n: int,
    rounds: int,
    gc_mode: str = "python",
    *,
    shared: bool = False,
) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]]]:
    """Every run of ``plan``, ``rounds`` times interleaved (a noisy spell hits every
    client); returns the combined figures and agentrt/aiohttp req/s ratios per round.
    Each run has a worker process of its own, or with ``shared`` (quick mode) one worker
    process runs a round's runs one after another, each on a fresh event loop: a quick
    run's cost is mostly process starts, and its peak RSS is that worker's so far."""
    from agentrt.testing import MockLLMProcess

    runs: dict[str, list[dict[str, Any]]] = {}
    per_round: dict[str, list[float]] = {}
    async with MockLLMProcess(latency_ms=SERVER_LATENCY_S * 1000) as server:
        for _ in range(rounds):
            argv = [
                [m, client, server.url, str(c), str(n), lp, gc_mode] for m, lp, c, client in plan
            ]
            if shared:
                done = iter(await asyncio.to_thread(_run_workers, argv))
            for (mode, loop, c, client), args in zip(plan, argv, strict=True):
                if shared:
                    figures = next(done)
                else:
                    figures = await asyncio.to_thread(_run_worker, args)
                runs.setdefault(f"{mode}/{loop}/{client}@{c}", []).append(figures)
                theirs = runs.get(f"{mode}/{loop}/aiohttp@{c}", [])
                ours = runs.get(f"{mode}/{loop}/agentrt@{c}", [])
                if client in ("agentrt", "aiohttp") and len(theirs) == len(ours):
                    ratio = round(ours[-1]["rps"] / theirs[-1]["rps"], 3)
                    per_round.setdefault(f"{mode}/{loop}@{c}", []).append(ratio)
    return {key: _combine(r) for key, r in runs.items()}, per_round


async def _embeddings(quick: bool) -> dict[str, Any]:
    from agentrt.testing import MockLLMProcess

    embed_n = 256 if quick else 5000  # quick: one text per caller
    argv = [
        ["embed", name, "", "256", str(embed_n), "asyncio", "python"]
        for name in ("batched", "unbatched")
    ]
    async with MockLLMProcess(latency_ms=20, max_inflight=4) as server:
        for args in argv:
            args[2] = server.url
        if quick:  # one worker process for both (see _chat_runs)
            batched, unbatched = await asyncio.to_thread(_run_workers, argv)
        else:
            batched = await asyncio.to_thread(_run_worker, argv[0])
            unbatched = await asyncio.to_thread(_run_worker, argv[1])
    return {
        "batched_rps": batched["rps"],
        "unbatched_rps": unbatched["rps"],
        "batched_http_calls": batched["http_calls"],
        "unbatched_http_calls": unbatched["http_calls"],
        "errors": batched["errors"] + unbatched["errors"],
        "texts": embed_n,
    }


async def _main(
    quick: bool,
    rounds: int,
    with_faults: bool = True,
    *,
    loops: Sequence[str] = LOOPS,
    modes: Sequence[str] = MODES,
    clients: Sequence[str] = CLIENTS,
    with_embeddings: bool = True,
    gc_mode: str = "python",
) -> dict[str, Any]:
    plan = _plan(quick, loops, modes, clients)
    n = 100 if quick else 5000
    results, per_round = await _chat_runs(plan, n, rounds, gc_mode, shared=quick)
    versus = _versus(results, per_round)
    out: dict[str, Any] = {"gc": gc_mode, "results": results, "vs_aiohttp": versus}
    if with_embeddings:
        out["embeddings"] = await _embeddings(quick)
    top = max(c for _, _, c, _ in plan)
    agentrt = results.get(f"json/asyncio/agentrt@{top}", {}).get("rps", 0.0)
    bars: dict[str, Any] = {"concurrency": top}
    for peer in ("aiohttp", "openai"):
        theirs = results.get(f"json/asyncio/{peer}@{top}")
        if theirs is not None and agentrt:
            bars[f"agentrt_over_{peer}"] = round(agentrt / theirs["rps"], 3)
    if versus:
        bars["min_rps_ratio"] = min(v["rps_ratio"] for v in versus.values())
        bars["max_overhead_p95_ratio"] = max(v["overhead_p95_ratio"] for v in versus.values())
        bars["goal_rps_ratio"] = GOAL_RPS_RATIO
        bars["goal_overhead_p95_ratio"] = GOAL_OVERHEAD_P95_RATIO
    out["bars"] = bars
    if with_faults:
        out["fault_mix"] = await llm_faults.run(quick)
    return out


def _worker_main(runs: list[list[str]]) -> None:
    """Run each ``[kind, name, url, C, n, loop, gc]`` in turn; print their figures."""
    results = []
    for kind, name, url, c, n, loop, gc_mode in runs:
        if kind == "embed":
            main = _embed_worker(url, name == "batched", int(n), int(c))
        else:
            main = _worker(name, kind, url, int(c), int(n))
        results.append(_run_on(loop, main, gc_mode))
    print(json.dumps(results))


def _names(text: str, known: Sequence[str], what: str) -> tuple[str, ...]:
    """A comma-separated choice among ``known`` (SystemExit naming a bad one)."""
    names = tuple(x for x in text.split(",") if x)
    bad = [x for x in names if x not in known]
    if bad or not names:
        raise SystemExit(f"--{what}: unknown {bad or text!r}; choose among {','.join(known)}")
    return names


def _rows(result: dict[str, Any]) -> list[list[Any]]:
    fields = ("rps", "overhead_p50_ms", "overhead_p95_ms", "overhead_p99_ms")
    fields += ("cpu_ms_per_req", "peak_rss_mib", "errors")
    rows = [[key, *(r[f] for f in fields)] for key, r in result["results"].items()]
    for key, v in result["vs_aiohttp"].items():
        rows.append([f"agentrt/aiohttp {key}", v["rps_ratio"], "", v["overhead_p95_ratio"]])
    if e := result.get("embeddings"):
        rows.append(["embed batched", e["batched_rps"], "", "", "", "", "", e["errors"]])
        rows.append(["embed unbatched", e["unbatched_rps"], "", "", "", "", "", ""])
    b = result["bars"]
    if "agentrt_over_openai" in b:
        rows.append([f"agentrt/openai @{b['concurrency']}", b["agentrt_over_openai"]])
    if "fault_mix" in result:
        verdict = "PASSED" if result["fault_mix"]["passed"] else "FAILED"
        for name, ok, errors, beyond in llm_faults.rows(result["fault_mix"]):
            rows.append([f"{name} ({verdict})", ok, *[""] * 5, f"{errors}; {beyond} RL>dl"])
    return [row + [""] * (8 - len(row)) for row in rows]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(json.loads(sys.argv[2]))
        return
    parser = bench_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="rounds per client (default 3, quick 1)")
    parser.add_argument(
        "--no-fault-mix", action="store_true", help="skip the fault-mix scenario (llm_faults)"
    )
    parser.add_argument("--loops", default=",".join(LOOPS), help="asyncio,uvloop (default both)")
    parser.add_argument("--modes", default=",".join(MODES), help="json,stream (default both)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="default: all four")
    parser.add_argument("--no-embeddings", action="store_true", help="skip the embeddings")
    parser.add_argument(
        "--gc",
        choices=("python", "server"),
        default="python",
        help="collector thresholds of every client: Python's, or agentrt.run's (server)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    main = _main(
        args.quick,
        rounds,
        not args.no_fault_mix,
        loops=_names(args.loops, LOOPS, "loops"),
        modes=_names(args.modes, MODES, "modes"),
        clients=_names(args.clients, CLIENTS, "clients"),
        with_embeddings=not args.no_embeddings,
        gc_mode=args.gc,
    )
    result = asyncio.run(main)
    columns = ["client@C", "req/s", "ovh p50 ms", "p95", "p99", "cpu ms/req", "RSS MiB", "errors"]
    title = "LLM pool vs raw clients (ratio rows: req/s ratio, then overhead p95 ratio)"
    emit(result, as_json=args.json, title=title, rows=_rows(result), columns=columns)


if __name__ == "__main__":
    main()
