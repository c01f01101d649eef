"""Which HTTP transport under ``httpx.AsyncClient``? And how much can the mock serve?

Same setup as ``llm_pool`` (mock LLM server in its own process, 50 ms latency, each
client in its own worker process), comparing ``client.post(json=...)`` + ``.json()`` over:

- ``httpx``: httpx's default transport (httpcore);
- ``httpx+agentrt``: :class:`agentrt.llm.AiohttpTransport` (ours, ~150 lines);
- ``httpx+httpx_aiohttp``: the ``httpx-aiohttp`` package's ``AiohttpTransport``;
- ``aiohttp``: raw ``aiohttp.ClientSession`` (the floor).

Then the mock server's capacity: raw aiohttp at 256 concurrent requests against the mock
with zero latency (the server process gets one core, the client the other).

    python -m loadtest.bench.llm_transport [--quick] [--json]

``--json`` prints ``{"transports": {"<name>@<C>": {"rps", "cpu_ms_per_req", "errors"}},
"mock_server": {"rps", "concurrency", "requests"}}``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from loadtest.bench.measure import bench_parser, cpu_seconds, emit

TRANSPORTS = ("httpx", "httpx+agentrt", "httpx+httpx_aiohttp", "aiohttp")
BODY = {"model": "mock", "messages": [{"role": "user", "content": "hello"}]}


async def _make(name: str, url: str, c: int) -> tuple[Callable[[], Awaitable[None]], Any]:
    endpoint = url + "/chat/completions"
    if name == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c))

        async def raw() -> None:
            async with session.post(endpoint, json=BODY) as response:
                response.raise_for_status()
                await response.json()

        return raw, session.close
    import httpx

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    transport: httpx.AsyncBaseTransport
    if name == "httpx":
        transport = httpx.AsyncHTTPTransport(limits=limits)
    elif name == "httpx+agentrt":
        from agentrt.llm import AiohttpTransport

        transport = AiohttpTransport(max_connections=c)
    else:
        from httpx_aiohttp import AiohttpTransport as ThirdParty

        transport = ThirdParty(limits=limits)
    client = httpx.AsyncClient(transport=transport, timeout=120)

    async def one() -> None:
        response = await client.post(endpoint, json=BODY)
        response.raise_for_status()
        response.json()

    return one, client.aclose


async def _worker(name: str, url: str, c: int, n: int) -> dict[str, Any]:
    one, close = await _make(name, url, c)
    await asyncio.gather(*(one() for _ in range(c)))
    counter = iter(range(n))
    errors = 0

    async def caller() -> None:
        nonlocal errors
        for _ in counter:
            try:
                await one()
            except Exception:
                errors += 1

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(c)))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    await close()
    return {"rps": round(n / wall, 1), "cpu_ms_per_req": round(cpu / n * 1000, 4), "errors": errors}


def _run_workers(runs: list[list[str]]) -> list[dict[str, Any]]:
    """Each run of ``runs`` (``[name, url, C, n]``), one after another in one worker
    process; a list of their figures (RuntimeError with its stderr if the worker fails)."""
    cmd = [sys.executable, "-m", "loadtest.bench.llm_transport", "--worker", json.dumps(runs)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {runs} failed: {done.stderr[-2000:]}")
    result: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _main(quick: bool) -> dict[str, Any]:
    from agentrt.testing import MockLLMProcess

    levels, n = ((10, 50), 100) if quick else ((100, 1000), 3000)
    transports: dict[str, Any] = {}
    async with MockLLMProcess(latency_ms=50) as server:
        runs = [
            # httpx: ~100 req/s, keep it bounded
            [name, server.url, str(c), str(min(n, 600) if name == "httpx" else n)]
            for c in levels
            for name in TRANSPORTS
        ]
        # quick: one worker process runs them all in turn (its start is most of their
        # cost); a full run gives each its own
        batches = [runs] if quick else [[run] for run in runs]
        for batch in batches:
            for run, figures in zip(
                batch, await asyncio.to_thread(_run_workers, batch), strict=True
            ):
                transports[f"{run[0]}@{run[2]}"] = figures
    capacity_n, capacity_c = (300, 64) if quick else (30000, 256)
    async with MockLLMProcess(latency_ms=0) as server:
        args = ["aiohttp", server.url, str(capacity_c), str(capacity_n)]
        [capacity] = await asyncio.to_thread(_run_workers, [args])
    mock = {"rps": capacity["rps"], "concurrency": capacity_c, "requests": capacity_n}
    return {"transports": transports, "mock_server": mock}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        runs = json.loads(sys.argv[2])
        print(json.dumps([asyncio.run(_worker(x, url, int(c), int(n))) for x, url, c, n in runs]))
        return
    args = bench_parser(__doc__.split("\n\n")[0]).parse_args()
    result = asyncio.run(_main(args.quick))
    rows = [
        [k, v["rps"], v["cpu_ms_per_req"], v["errors"]] for k, v in result["transports"].items()
    ]
    rows.append(["mock server capacity", result["mock_server"]["rps"], "", ""])
    columns = ["transport@C", "req/s", "cpu ms/req", "errors"]
    emit(result, as_json=args.json, title="httpx transports", rows=rows, columns=columns)


if __name__ == "__main__":
    main()
