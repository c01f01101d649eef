"""Introspection benchmark: what a polling ``agentrt top`` costs the node it watches.

Every ``/agents`` request is computed on the node's event loop, so its cost is loop time
taken from the agents. Two parts, in one run (the machine is shared: read the ratios):

- ``select``: ``Telemetry.top(50, by)`` (a heap selection that builds only the 50 views
  it returns) against its peer, the obvious way it replaced (build every agent's view,
  sort them all, keep 50), over ``agents`` agents with varied stats; rounds alternate.
  Both must return the same agents (``same_order``).
- ``http``: ``GET /agents?by=p95&limit=50`` and ``GET /summary`` through a real
  ``IntrospectionEndpoint`` on loopback with an httpx client in the same loop (so the
  figure is the loop time one refresh of ``agentrt top`` costs, client included).
- ``dashboard``: what the web dashboard costs a busy node, run as a node runs
  (``agentrt.run``: uvloop, the server GC thresholds). A runtime with ``agents`` agents
  (the in-process mock LLM, 64 users asking random agents without pause) runs rounds of
  two phases, in ABBA order: not watched, and watched by a dashboard (another process, as
  a browser would be) that keeps ``/events`` open and every second reads every page's
  route at once, as the dashboard asks for them (``/summary?max_age=2``,
  ``/agents?by=p95&limit=50&max_age=2``, ``/agents/{id}``, ``/nodes``, ``/tree``,
  ``/llm``: every page open together, the worst case). Each phase starts from a
  collected heap (where a run's few full collections fell, ~150 ms each at 10,000
  agents, swung single phases by +-4 %). The node is CPU-bound, so turns/s is turns per
  CPU-second times the share of a core it gets; on a shared machine that share swings by
  tens of percent between phases, while the CPU the node spends (``time.process_time``)
  does not. So the cost is measured in CPU, per round against the phase beside it: the
  dashboard's extra CPU-seconds per second, ``(CPU per turn watched - CPU per turn
  unwatched) x turns/s watched``, which is the share of turns/s a node saturating its
  core loses. ``dashboard_cost_pct`` is the mean over the rounds (goal at most 2 %),
  ``dashboard_cost_ci95_pct`` the half-width of its 95 % interval.
  ``dashboard_wall_cost_pct`` (``1 - watched / unwatched`` turns/s, medians) is reported
  beside it: on a quiet machine the two agree; on a loaded one it is noise. Then, with
  the load stopped, two direct figures: ``dashboard_http_ms_per_s``, the node's CPU
  while the watcher reads 20 dashboard-seconds back to back (aiohttp included) less the
  idle node's over the same time, per dashboard-second; and
  ``dashboard_views_ms_per_s``, the views alone, computed in process.

    python -m loadtest.bench.endpoint            # table
    python -m loadtest.bench.endpoint --json     # one JSON object
    python -m loadtest.bench.endpoint --quick --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import httpx
import msgspec

from agentrt._demo import DemoAgent, demo_config
from agentrt.actor import run as run_node
from agentrt.loadtest._stats import mean_ci
from agentrt.runtime import EndpointConfig, IntrospectionEndpoint, Runtime, TelemetryConfig
from agentrt.telemetry import TOP_KEYS, Telemetry
from loadtest.bench.measure import bench_parser, emit, summarize

#: What the dashboard's pages read every second (``/events`` is held open besides).
DASHBOARD_ROUTES = ("/summary?max_age=2", "/agents?by=p95&limit=50&max_age=2")
DASHBOARD_ROUTES += ("/agents/agent-7", "/nodes")
DASHBOARD_ROUTES += ("/tree", "/llm")
_USERS = 64


def populated(n: int, seed: int = 1) -> Telemetry:
    """A ``Telemetry`` holding ``n`` agents with varied turns, latencies, tokens, costs."""
    rng = random.Random(seed)
    telemetry = Telemetry()
    mailbox = {}
    for i in range(n):
        agent_id = f"agent-{i}"
        stats = telemetry.agent_stats(agent_id, "Bench")
        for _ in range(rng.randint(1, 8)):
            telemetry.record_turn(stats, rng.lognormvariate(-2.5, 0.8), rng.random() > 0.01)
        stats.tokens_in, stats.tokens_out = rng.randint(50, 5000), rng.randint(10, 900)
        stats.cost = stats.tokens_out * 2e-6
        stats.bytes_held = rng.randint(1_000, 60_000)
        mailbox[agent_id] = rng.randint(0, 3)

    def live(agent_id: str) -> dict[str, Any]:  # what the runtime's live view returns
        return {"state": "idle", "mailbox": mailbox[agent_id], "mailbox_max": 4, "restarts": 0}

    telemetry.live_agent = live
    return telemetry


def sort_all(telemetry: Telemetry, n: int, by: str) -> list[dict[str, Any]]:
    """The peer: every view built, all sorted, ``n`` kept."""
    key = TOP_KEYS[by]
    views = telemetry.agents()
    views.sort(key=lambda v: v.get(key) or 0, reverse=True)
    return views[:n]


def bench_select(telemetry: Telemetry, rounds: int, by: str) -> dict[str, Any]:
    ours: list[float] = []
    peer: list[float] = []
    same = True
    for _ in range(rounds):
        started = time.perf_counter()
        mine = telemetry.top(50, by=by)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        theirs = sort_all(telemetry, 50, by)
        peer.append(time.perf_counter() - started)
        same = same and [v[TOP_KEYS[by]] for v in mine] == [v[TOP_KEYS[by]] for v in theirs]
    select, full = summarize(ours, "ms")["p50_ms"], summarize(peer, "ms")["p50_ms"]
    return {"select_p50_ms": select, "sort_all_p50_ms": full, "same_order": same}


async def bench_http(telemetry: Telemetry, requests: int) -> dict[str, float]:
    endpoint = IntrospectionEndpoint(telemetry, EndpointConfig())
    await endpoint.start()
    timings: dict[str, list[float]] = {"agents": [], "summary": []}
    try:
        async with httpx.AsyncClient(base_url=endpoint.url, trust_env=False) as client:
            for _ in range(requests):
                for name, path in (("agents", "/agents?by=p95&limit=50"), ("summary", "/summary")):
                    started = time.perf_counter()
                    response = await client.get(path)
                    timings[name].append(time.perf_counter() - started)
                    response.raise_for_status()
    finally:
        await endpoint.aclose()
    return {f"http_{k}_p50_ms": summarize(v, "ms")["p50_ms"] for k, v in timings.items()}


async def burst(client: httpx.AsyncClient, seconds: int) -> int:
    """``seconds`` dashboard-seconds of reads back to back, as fast as the node answers:
    every route of ``DASHBOARD_ROUTES`` per second, with ``max_age=0`` (computed afresh)
    every other second and the routes' own ``max_age=2`` between, as a dashboard polling
    at 1 Hz gets them. Returns the requests made."""
    made = 0
    for n in range(seconds):
        for path in DASHBOARD_ROUTES:
            if n % 2 == 0:
                path = path.replace("max_age=2", "max_age=0")
            (await client.get(path)).raise_for_status()
            made += 1
    return made


async def watch(url: str) -> None:
    """The dashboard, in its own process: ``on``/``off`` lines on stdin start and stop
    it; while on, ``/events`` is held open and every route of ``DASHBOARD_ROUTES`` is
    read once a second. ``burst <n>`` reads ``n`` dashboard-seconds back to back
    (:func:`burst`). Each command is answered ``ok`` when done. Prints ``requests <n>``
    when stdin closes."""
    requests = 0
    on = asyncio.Event()

    async def stream(client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/events") as response:
            async for _ in response.aiter_lines():
                pass

    async def poll(client: httpx.AsyncClient) -> None:
        nonlocal requests
        while True:
            await on.wait()
            events = asyncio.ensure_future(stream(client))
            while on.is_set():
                started = time.monotonic()
                for path in DASHBOARD_ROUTES:
                    (await client.get(path)).raise_for_status()
                    requests += 1
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
            events.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await events

    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
        poller = asyncio.ensure_future(poll(client))
        while line := await asyncio.to_thread(sys.stdin.readline):
            command = line.split()
            if command[:1] == ["burst"]:
                requests += await burst(client, int(command[1]))
            elif command == ["on"]:
                on.set()
            else:
                on.clear()
            print("ok", flush=True)
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
    print(f"requests {requests}", flush=True)


async def bench_dashboard(agents: int, phase_s: float, rounds: int) -> dict[str, Any]:
    """The dashboard's cost to a busy node (see the module docs): ``rounds`` rounds of an
    unwatched and a watched phase of ``phase_s`` seconds each, in ABBA order, then the
    HTTP-inclusive direct measure with the load stopped."""
    cfg = demo_config(agents, None, 0.0, "mock", None)
    cfg = replace(cfg, telemetry=TelemetryConfig(endpoint=EndpointConfig(port=0)))
    async with Runtime(cfg) as rt:
        ids = await rt.spawn_swarm(DemoAgent, agents, model="mock")
        url = rt.endpoint_url
        assert url is not None
        rng = random.Random(3)
        stop = False

        async def user() -> None:
            while not stop:
                await rt.ask(rng.choice(ids), "what is the weather in Oslo?", timeout=60)

        watcher = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loadtest.bench.endpoint", "--watch", url,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        stdin, stdout = watcher.stdin, watcher.stdout
        assert stdin is not None
        assert stdout is not None

        async def tell(command: str) -> None:
            stdin.write(command.encode() + b"\n")
            await stdin.drain()
            await stdout.readline()

        users = [asyncio.ensure_future(user()) for _ in range(_USERS)]
        phases: list[dict[str, dict[str, float]]] = []
        full_gcs = {"unwatched": 0, "watched": 0}
        try:
            await asyncio.sleep(phase_s)  # warm up: every agent has had turns
            for n in range(rounds):  # ABBA: a drift (conversations grow) hits both arms alike
                phase: dict[str, dict[str, float]] = {}
                for arm in ("unwatched", "watched")[:: 1 if n % 2 == 0 else -1]:
                    await tell("on" if arm == "watched" else "off")
                    await asyncio.sleep(min(1.0, phase_s / 4))  # the switch settles
                    # Each phase starts from a collected heap: a full collection costs
                    # ~150 ms at 10,000 agents, and where the few of a run fall decided
                    # +-4 % between phases, the size of the goal, either sign.
                    gc.collect()
                    gen2 = gc.get_stats()[2]["collections"]
                    before, started = rt.telemetry.turns.count, time.perf_counter()
                    cpu = time.process_time()
                    await asyncio.sleep(phase_s)
                    turns = rt.telemetry.turns.count - before
                    cpu_s = max(time.process_time() - cpu, 1e-9)
                    full_gcs[arm] += gc.get_stats()[2]["collections"] - gen2
                    wall = time.perf_counter() - started
                    phase[arm] = {"rate": turns / wall, "per_cpu": turns / cpu_s}
                phases.append(phase)
            await tell("off")
        finally:
            stop = True
            await asyncio.gather(*users, return_exceptions=True)
        try:
            http_ms = await http_cost(rt, tell, seconds=4 if rounds < 2 else 20)
        finally:
            stdin.close()
            out = (await stdout.read()).decode()
            await watcher.wait()
        views_ms = await views_cost(rt, rounds=20)
    rates = {arm: [p[arm]["rate"] for p in phases] for arm in ("unwatched", "watched")}
    per_cpu = {arm: [p[arm]["per_cpu"] for p in phases] for arm in ("unwatched", "watched")}
    unwatched = statistics.median(rates["unwatched"])
    watched = statistics.median(rates["watched"])
    cpu_unwatched = statistics.median(per_cpu["unwatched"])
    cpu_watched = statistics.median(per_cpu["watched"])
    # per round: the extra CPU-seconds per second the watched phase took, against the
    # unwatched phase next to it (a pair shares the drift and the machine's moment)
    paired = [
        (1 / p["watched"]["per_cpu"] - 1 / p["unwatched"]["per_cpu"]) * p["watched"]["rate"]
        for p in phases
    ]
    cost = mean_ci(paired)
    return {
        "dashboard_agents": agents,
        "dashboard_rounds": rounds,
        "dashboard_unwatched_turns_per_s": round(unwatched, 1),
        "dashboard_watched_turns_per_s": round(watched, 1),
        "dashboard_unwatched_turns_per_cpu_s": round(cpu_unwatched, 1),
        "dashboard_watched_turns_per_cpu_s": round(cpu_watched, 1),
        "dashboard_cpu_ms_per_s": round(cost.mean * 1000, 2),
        "dashboard_cost_pct": round(cost.mean * 100, 2),
        "dashboard_cost_ci95_pct": round(cost.half_width * 100, 2)
        if math.isfinite(cost.half_width)
        else None,
        "dashboard_wall_cost_pct": round((1 - watched / unwatched) * 100, 2),
        "dashboard_full_gcs": full_gcs,
        "dashboard_requests": int(out.rsplit("requests ", 1)[-1].split()[0]),
        "dashboard_http_ms_per_s": round(http_ms, 2),
        "dashboard_views_ms_per_s": round(views_ms, 2),
    }


async def http_cost(rt: Runtime, tell: Callable[[str], Awaitable[None]], seconds: int) -> float:
    """Milliseconds of the node's CPU one second of the dashboard costs, aiohttp's
    request handling included, measured with the load stopped: the node's CPU while the
    watcher reads ``seconds`` dashboard-seconds back to back (:func:`burst`), less the
    idle node's CPU over the same wall time (its sampler and timers), divided by
    ``seconds``. The node does nothing else meanwhile, so this is the steadiest figure;
    it leaves out only what serving requests does to a busy loop's caches."""
    await asyncio.sleep(0.5)  # the last turns end
    gc.collect()
    cpu, started = time.process_time(), time.perf_counter()
    await tell(f"burst {seconds}")
    busy_cpu, busy_wall = time.process_time() - cpu, time.perf_counter() - started
    cpu = time.process_time()
    await asyncio.sleep(busy_wall)
    idle_cpu = time.process_time() - cpu
    return max(busy_cpu - idle_cpu, 0.0) / seconds * 1000


async def views_cost(rt: Runtime, rounds: int) -> float:
    """Milliseconds of the node's time one second of the dashboard's reads costs,
    computing each view the way the endpoint does for them, directly (no HTTP, the load
    stopped): the agents page every other second (``max_age=2`` serves the kept one
    between), ``/summary`` from the sampler's, the agent, nodes, tree and LLM views, and
    an event every other second. A steadier figure than the phases' difference on a
    shared machine; it leaves out aiohttp's request handling."""
    endpoint = rt.services.get("endpoint")
    telemetry, views, sampler = rt.telemetry, endpoint.views, endpoint.sampler
    encode = msgspec.json.Encoder().encode
    sampler.sample()
    started = time.process_time()
    for n in range(rounds):
        if n % 2 == 0:
            encode(telemetry.page("p95", limit=50))
            encode({"point": sampler.points[-1], "summary": sampler.summary})
        encode(sampler.summary)
        agent = telemetry.agent("agent-7") or {}
        agent.update(views.agent_detail("agent-7"))
        encode(agent)
        encode(views.nodes())
        encode(await views.tree())
        encode(views.llm())
    return (time.process_time() - started) / rounds * 1000


def main() -> None:
    parser = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--watch", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        asyncio.run(watch(args.watch))
        return
    agents, rounds, requests = (10_000, 3, 20) if args.quick else (100_000, 15, 60)
    # quick: the dashboard's two arms on 2,000 agents, one 0.5 s phase each (a few seconds:
    # it proves the bench runs; its figures are the full run's)
    watched, phase_s, phases = (2_000, 0.5, 1) if args.quick else (10_000, 4.0, 10)
    # run as a node runs (agentrt.run: uvloop when installed, the server GC thresholds)
    dashboard = run_node(bench_dashboard(watched, phase_s, phases))
    telemetry = populated(agents)
    p95 = bench_select(telemetry, rounds, "p95")
    mailbox = bench_select(telemetry, rounds, "mailbox")
    http = asyncio.run(bench_http(telemetry, requests))
    result = {
        "agents": agents,
        "top_p95_select_p50_ms": p95["select_p50_ms"],
        "top_p95_sort_all_p50_ms": p95["sort_all_p50_ms"],
        "top_p95_speedup": round(p95["sort_all_p50_ms"] / max(p95["select_p50_ms"], 1e-9), 2),
        "top_mailbox_select_p50_ms": mailbox["select_p50_ms"],
        "top_mailbox_sort_all_p50_ms": mailbox["sort_all_p50_ms"],
        "same_order": p95["same_order"] and mailbox["same_order"],
        **http,
        **dashboard,
    }
    rows = [
        ("top(50, p95): select / sort all", p95["select_p50_ms"], p95["sort_all_p50_ms"]),
        ("top(50, mailbox): select / sort all",
         mailbox["select_p50_ms"], mailbox["sort_all_p50_ms"]),
        ("GET /agents?limit=50 / GET /summary",
         http["http_agents_p50_ms"], http["http_summary_p50_ms"]),
        (f"turns/s at {watched:,} agents: dashboard at 1 Hz / unwatched",
         dashboard["dashboard_watched_turns_per_s"],
         dashboard["dashboard_unwatched_turns_per_s"]),
        ("turns per CPU-s: dashboard at 1 Hz / unwatched",
         dashboard["dashboard_watched_turns_per_cpu_s"],
         dashboard["dashboard_unwatched_turns_per_cpu_s"]),
        ("dashboard: CPU ms per s / % of a saturated node's turns/s (+- 95 % CI)",
         dashboard["dashboard_cpu_ms_per_s"],
         f"{dashboard['dashboard_cost_pct']} +- {dashboard['dashboard_cost_ci95_pct']}"),
        ("dashboard: one second of it over HTTP, load stopped, CPU ms",
         dashboard["dashboard_http_ms_per_s"], "goal <= 20"),
        ("dashboard: its views computed directly, ms per s", dashboard["dashboard_views_ms_per_s"],
         ""),
        ("dashboard: % of turns/s, wall clock (noisy on a shared machine)",
         dashboard["dashboard_wall_cost_pct"], "goal <= 2"),
    ]  # fmt: skip
    emit(
        result,
        as_json=args.json,
        title=f"introspection at {agents:,} agents (p50, ms; the dashboard at {watched:,})",
        rows=rows,
        columns=("figure", "ours", "peer / other"),
    )


if __name__ == "__main__":
    main()
