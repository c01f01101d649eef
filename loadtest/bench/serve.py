"""``agentrt serve`` benchmark: turns/s and latency through the HTTP API against
``rt.ask`` in process, same run, same runtime, same mock LLM, C=100.

Both sides run ``concurrency`` workers, each asking its own conversation one turn after
another for ``seconds``: in process with ``rt.ask(id, text)``, over HTTP posting
``/v1/chat/completions`` (one user message, ``X-Agent-Id``) to a ``Server`` on loopback.
The HTTP client runs twice: in a process of its own (as real clients do; ``serve_*``
figures, the server process's CPU per turn) and, an aiohttp client, in the server's own
event loop (``inloop_*``: every cost of the HTTP path, the client's included, charged to
the server's process: the conservative figure).

The load generator should cost alike on both arms: in process it is a coroutine calling
``rt.ask`` (a few µs a turn). The client process is therefore, by default, a minimal
HTTP/1.1 client (``_rawhttp``: keep-alive, the request written as bytes, the answer read
by its length, as ``wrk`` does) rather than aiohttp's client (``--http-client aiohttp``),
whose ~150-250 µs a request on the same 2 cores would be charged to the serve arm alone;
``client_cpu_us_per_turn`` shows what the client process spent. The LLM is the in-process mock
provider with ``latency_ms`` per call (100 ms: faster than a real model, so the overhead
shows). Rounds alternate the sides; the figures are the medians over rounds.

Figures: ``inproc_turns_per_s``, ``serve_turns_per_s`` and their ``ratio`` (target
>= 0.8), latency p50/p95 of each and ``overhead_p95_ms`` (serve p95 - in-process p95),
``serve_stream_turns_per_s`` (the same with ``"stream": true``) beside
``inproc_stream_turns_per_s`` (``rt.stream``), CPU per turn of the
runtime's process on each side, the in-loop figures (``inloop_turns_per_s``,
``inloop_ratio``, ``inloop_cpu_us_per_turn``) and ``errors`` (any non-200 answer or
failed ask; expected 0). On a shared machine whose cores are busy, turns/s follows CPU
per turn: read the ratios of one run.

    python -m loadtest.bench.serve                 # table
    python -m loadtest.bench.serve --json          # one JSON object
    python -m loadtest.bench.serve --quick --json
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from msgspec.json import encode
from yarl import URL

from agentrt import Agent, Runtime, run
from agentrt.actor import NodeConfig
from agentrt.llm import PoolConfig, ProviderConfig
from agentrt.runtime import AgentsConfig, RuntimeConfig
from agentrt.serve import ServeConfig, Server
from loadtest.bench._rawhttp import RawConnection
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


async def _client(
    url: str, workers: int, seconds: float, stream: bool, kind: str
) -> dict[str, Any]:
    """The load generator of a client process: a warm-up, then ``seconds`` measured;
    ``kind`` ``raw`` (``_rawhttp``: a few µs per request) or ``aiohttp`` (its client)."""
    parsed = URL(url)
    conns: list[RawConnection] = []
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers))

    def body(n: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": "assistant",
            "messages": [{"role": "user", "content": f"question {n}"}],
        }
        if stream:
            out["stream"] = True
        return out

    async def raw(w: int, n: int) -> bool:
        status = await conns[w].post(parsed.path, encode(body(n)), {"X-Agent-Id": f"p{w}"})
        return status == 200

    async def with_aiohttp(w: int, n: int) -> bool:
        async with http.post(url, json=body(n), headers={"X-Agent-Id": f"p{w}"}) as resp:
            await resp.read()
            return resp.status == 200

    turn = raw if kind == "raw" else with_aiohttp
    try:
        if kind == "raw":
            assert parsed.host is not None
            assert parsed.port is not None
            conns += [await RawConnection.open(parsed.host, parsed.port) for _ in range(workers)]
        warm = await _drive(workers, 0.3, turn)
        print("measuring", flush=True)  # the parent's CPU count starts here
        out = await _drive(workers, seconds, turn)
    finally:
        for conn in conns:
            conn.close()
        await http.close()
    out["errors"] += warm["errors"]
    return out


async def _client_process(
    url: str, seconds: float, stream: bool, kind: str = "raw"
) -> dict[str, Any]:
    """Run ``_client`` in a child process; its figures (``client_cpu_us_per_turn``: the
    load generator's own CPU), and this process's CPU per turn while the child measured."""
    argv = ["--client", url, "--seconds", str(seconds), "--http-client", kind]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loadtest.bench.serve", *argv, *(["--stream"] if stream else []),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    started = await proc.stdout.readline()
    cpu = cpu_seconds()
    out, err = await proc.communicate()
    cpu = cpu_seconds() - cpu
    if proc.returncode != 0 or started != b"measuring\n":
        raise RuntimeError(f"the client process failed: {err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(out)
    turns = result["turns_per_s"] * seconds
    result["client_cpu_us_per_turn"] = result["cpu_us_per_turn"]
    result["cpu_us_per_turn"] = cpu / max(turns, 1) * 1e6
    return result


async def bench(
    rounds: int, seconds: float, latency_ms: float, kind: str = "raw"
) -> dict[str, Any]:
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

        async def inproc_stream(w: int, n: int) -> bool:
            try:
                async for _ in rt.stream(f"inproc/{w}", f"question {n}"):
                    pass
            except Exception:
                return False
            return True

        async def over_http(w: int, n: int) -> bool:
            body = {
                "model": "assistant",
                "messages": [{"role": "user", "content": f"question {n}"}],
            }
            async with http.post(url, json=body, headers={"X-Agent-Id": f"c{w}"}) as resp:
                await resp.read()
                return resp.status == 200

        try:
            for side in (inproc, over_http):  # warm up: every agent active, connections open
                await _drive(CONCURRENCY, 0.3, side)
            runs: dict[str, list[dict[str, Any]]] = {
                "inproc": [], "serve": [], "stream": [], "inloop": [], "inproc_stream": []
            }  # fmt: skip
            for _ in range(rounds):
                runs["inproc"].append(await _drive(CONCURRENCY, seconds, inproc))
                runs["serve"].append(await _client_process(url, seconds, False, kind))
                runs["inproc_stream"].append(await _drive(CONCURRENCY, seconds, inproc_stream))
                runs["stream"].append(await _client_process(url, seconds, True, kind))
                runs["inloop"].append(await _drive(CONCURRENCY, seconds, over_http))
        finally:
            await http.close()
            await server.aclose()

    def median(side: str, key: str) -> float:
        return round(float(statistics.median(r[key] for r in runs[side])), 3)

    inproc_tps, serve_tps = median("inproc", "turns_per_s"), median("serve", "turns_per_s")
    inloop_tps = median("inloop", "turns_per_s")
    return {
        "concurrency": CONCURRENCY,
        "llm_latency_ms": latency_ms,
        "rounds": rounds,
        "seconds_per_round": seconds,
        "inproc_turns_per_s": inproc_tps,
        "serve_turns_per_s": serve_tps,
        "serve_stream_turns_per_s": median("stream", "turns_per_s"),
        "inproc_stream_turns_per_s": median("inproc_stream", "turns_per_s"),
        "ratio": round(serve_tps / max(inproc_tps, 1e-9), 3),
        "inproc_p50_ms": median("inproc", "p50_ms"),
        "inproc_p95_ms": median("inproc", "p95_ms"),
        "serve_p50_ms": median("serve", "p50_ms"),
        "serve_p95_ms": median("serve", "p95_ms"),
        "overhead_p95_ms": round(median("serve", "p95_ms") - median("inproc", "p95_ms"), 3),
        "inproc_cpu_us_per_turn": median("inproc", "cpu_us_per_turn"),
        "serve_cpu_us_per_turn": median("serve", "cpu_us_per_turn"),
        "http_client": kind,
        "client_cpu_us_per_turn": median("serve", "client_cpu_us_per_turn"),
        "inloop_turns_per_s": inloop_tps,
        "inloop_ratio": round(inloop_tps / max(inproc_tps, 1e-9), 3),
        "inloop_p95_ms": median("inloop", "p95_ms"),
        "inloop_cpu_us_per_turn": median("inloop", "cpu_us_per_turn"),
        "errors": sum(r["errors"] for side in runs.values() for r in side),
    }


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def main() -> None:
    parser = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="mock LLM latency (100)")
    parser.add_argument("--client", metavar="URL", help=argparse_hidden())
    parser.add_argument("--seconds", type=float, default=1.0, help=argparse_hidden())
    parser.add_argument("--stream", action="store_true", help=argparse_hidden())
    parser.add_argument(
        "--http-client", choices=("raw", "aiohttp"), default="raw",
        help="the serve side's load generator: raw (a few us per request; default) or aiohttp",
    )  # fmt: skip
    args = parser.parse_args()
    if args.client:  # the client process of a run
        figures = _client(args.client, CONCURRENCY, args.seconds, args.stream, args.http_client)
        print(json.dumps(run(figures)))
        return
    rounds, seconds = (1, 1.0) if args.quick else (3, 5.0)
    result = run(bench(rounds, seconds, args.latency_ms, args.http_client))
    rows = [
        ("turns/s", result["inproc_turns_per_s"], result["serve_turns_per_s"]),
        ("latency p50 (ms)", result["inproc_p50_ms"], result["serve_p50_ms"]),
        ("latency p95 (ms)", result["inproc_p95_ms"], result["serve_p95_ms"]),
        ("CPU per turn (us)", result["inproc_cpu_us_per_turn"], result["serve_cpu_us_per_turn"]),
        ("  the load generator's (client process)", "", result["client_cpu_us_per_turn"]),
        (
            "streamed turns/s",
            result["inproc_stream_turns_per_s"],
            result["serve_stream_turns_per_s"],
        ),
        ("serve / in process", "", result["ratio"]),
        ("client in the server's loop: turns/s", "", result["inloop_turns_per_s"]),
        ("  its CPU per turn (us), client included", "", result["inloop_cpu_us_per_turn"]),
        ("  serve / in process", "", result["inloop_ratio"]),
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
