"""Turns benchmark: CPU per agent turn against the limit and the frameworks users pick.

The workload: ``--conversations`` N conversations (default 100 and 1,000) of ``--turns``
T turns each, all conversations at once, each turn one tool call (LLM -> tool -> LLM),
against the mock LLM server (``agentrt mock-llm``) in its own process with
``--latency-ms`` (default 20 ms). The user text carries ``[[tool:weather {...}]]``, so the
mock answers the first request of a turn with a tool call and the request carrying the
tool result with text. Every contender runs in a process of its own, one after the
other, against that one server:

- ``agentrt`` on asyncio's default loop and ``agentrt-uvloop`` on uvloop (``agentrt.run``,
  a lazily spawned swarm of tool-using agents, ``Runtime.ask`` per turn);
- ``limit`` (and ``limit-uvloop``): the same two HTTP exchanges and JSON work per turn with
  raw aiohttp and no runtime, under the same GC thresholds as ``agentrt.run``: the floor;
- ``langgraph``: the prebuilt ReAct agent on ``ChatOpenAI``, an in-memory checkpointer;
- ``autogen``: AutoGen AgentChat's ``AssistantAgent`` on ``OpenAIChatCompletionClient``.

The frameworks are in the ``bench-frameworks`` extra (pinned in
``.ci/bench-constraints.txt``); one that is not installed is reported as ``"not
installed"`` and the rest still run. ``--quick`` runs agentrt, agentrt-uvloop (if uvloop
is installed) and the limit only.

Per contender: turns/s, turn latency p50/p95 (ms), CPU ms per turn (the process's
user+system CPU time over the turn phase, divided by the turns) and bytes per
conversation (RSS growth from before the first turn to after the last, histories held,
divided by N). ``ratios`` gives the issue's bars: agentrt's CPU per turn over the
limit's (goal <= 1.25), the best framework's over agentrt's (goal >= 10) and agentrt's
bytes per conversation over the least framework's (goal <= 1).

    python -m loadtest.bench.turns                       # full run, table
    python -m loadtest.bench.turns --quick --json        # seconds, used by the tests
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import subprocess
import sys
import time
from typing import Any

from loadtest.bench.measure import bench_parser, emit, rss_bytes, summarize
from loadtest.bench.turns_peers import PEERS, SYSTEM, Contender, weather

CONTENDERS = ("agentrt", "agentrt-uvloop", "limit", "limit-uvloop", "langgraph", "autogen")
FRAMEWORKS = {"langgraph": "langgraph.prebuilt", "autogen": "autogen_agentchat"}
QUICK = ("agentrt", "agentrt-uvloop", "limit", "limit-uvloop")
UVLOOP_NEEDED = "uvloop"


def question(cid: int, turn: int) -> str:
    """The user text of turn ``turn`` of conversation ``cid``: it asks for one tool call."""
    city = f"city-{cid}-{turn}"
    return f'Weather in {city}? [[tool:weather {{"city": "{city}"}}]]'


async def start_runtime(url: str, tools: list[Any] | None = None) -> Any:
    """A started ``Runtime`` on the mock server at ``url`` (one provider, limits wide
    open, no watchdog, no passivation), with ``tools`` (default: the weather tool)."""
    import agentrt
    from agentrt.actor import NodeConfig
    from agentrt.llm import PoolConfig, ProviderConfig
    from agentrt.runtime import AgentsConfig, RuntimeConfig

    provider = ProviderConfig(
        name="mock-http", kind="openai", base_urls=(url,), models=("mock",),
        max_concurrency=4096, max_queue=200_000, timeout_s=60.0,
    )  # fmt: skip
    config = RuntimeConfig(
        node=NodeConfig(watchdog=False),
        llm=PoolConfig(providers=(provider,)),
        agents=AgentsConfig(idle_timeout_s=None),
    )
    rt = agentrt.Runtime(config, tools=[agentrt.tool(weather)] if tools is None else tools)
    await rt.start()
    return rt


def swarm_contender(rt: Any, cls: type, timeout: float = 60.0) -> Contender:
    """One lazily spawned ``cls`` agent per conversation on ``rt``, ``rt.ask`` per turn
    (each given ``timeout`` seconds)."""
    started: set[int] = set()

    async def converse(cid: int, text: str) -> str:
        if cid not in started:
            started.add(cid)
            await rt.spawn_swarm(cls, 1, start=cid, lazy=True, model="mock")
        reply = await rt.ask(f"agent-{cid}", text, timeout=timeout)
        return str(reply.text)

    return converse, rt.aclose


async def make_agentrt(url: str) -> Contender:
    """agentrt: a lazily spawned swarm of tool-using agents, one per conversation."""
    import agentrt

    class Forecaster(agentrt.Agent):
        system_prompt = SYSTEM
        tools = ("weather",)

    return swarm_contender(await start_runtime(url), Forecaster)


async def _measure(name: str, url: str, n: int, turns: int, make: Any = None) -> dict[str, Any]:
    """Contender ``name``'s figures over ``n`` conversations of ``turns`` turns (``make``:
    its factory; None: this module's by name)."""
    if make is None:
        make = make_agentrt if name.startswith("agentrt") else PEERS[name.split("-")[0]]
    converse, close = await make(url)
    try:
        if not (await converse(n, question(n, 0))).startswith("tool result:"):
            raise RuntimeError(f"{name}: the warm-up turn did not end with the tool result")
        gc.collect()
        base = rss_bytes()
        latencies: list[float] = []
        failures = 0

        async def conversation(cid: int) -> None:
            nonlocal failures
            for turn in range(turns):
                started = time.perf_counter()
                text = await converse(cid, question(cid, turn))
                latencies.append(time.perf_counter() - started)
                failures += not text.startswith("tool result:")

        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(conversation(cid) for cid in range(n)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        gc.collect()
        grown = rss_bytes() - base
    finally:
        await close()
    done = len(latencies)
    lat = summarize(latencies, unit="ms", qs=(50, 95))
    return {
        "turns": done,
        "failed": failures,
        "turns_per_s": round(done / wall, 1),
        "turn_p50_ms": lat["p50_ms"],
        "turn_p95_ms": lat["p95_ms"],
        "cpu_ms_per_turn": round(cpu * 1000 / done, 3),
        "bytes_per_conversation": round(max(0, grown) / n),
    }


def _child(args: argparse.Namespace) -> None:
    name = args.child
    coro = _measure(name, args.url, args.n, args.turns)
    if name.startswith("agentrt"):
        from agentrt.actor import run

        out = run(coro, use_uvloop=name.endswith("uvloop"))
    else:
        from agentrt.actor._loop import SERVER_GC_THRESHOLDS

        if name.startswith("limit"):  # the floor: same GC thresholds as agentrt.run
            gc.set_threshold(*SERVER_GC_THRESHOLDS)
        if name.endswith("uvloop"):
            import uvloop

            out = uvloop.run(coro)
        else:
            out = asyncio.run(coro)
    print(json.dumps(out))


def _available(name: str) -> str | None:
    """None when ``name`` can run here, else why not (``"not installed"``)."""
    module = FRAMEWORKS.get(name, UVLOOP_NEEDED if name.endswith("uvloop") else None)
    if module is None:
        return None
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    return None if found else "not installed"


def _run_child(
    name: str, n: int, url: str, args: argparse.Namespace, module: str = "loadtest.bench.turns"
) -> dict[str, Any] | str:
    """The figures of contender ``name`` from a process of its own (``python -m module
    --child name``), or ``"failed: <why>"``."""
    cmd = [sys.executable, "-m", module, "--child", name, "--n", str(n)]
    cmd += ["--url", url, "--turns", str(args.turns)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    if proc.returncode != 0:
        # one contender failing (a framework timing out) must not cost the others' figures
        print(f"{module}: {name} n={n} failed:\n{proc.stderr[-4000:]}", file=sys.stderr)
        last = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return f"failed: {last[0][:200]}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _ratio(num: float | None, den: float | None) -> float | None:
    return round(num / den, 3) if num and den else None


def ratios(at: dict[str, Any]) -> dict[str, Any]:
    """The issue's bars for one conversation count: ``at`` maps contender -> figures (or
    the string why it did not run). A ratio whose peer did not run is None."""

    def cpu(name: str) -> float | None:
        figures = at.get(name)
        return figures["cpu_ms_per_turn"] if isinstance(figures, dict) else None

    frameworks = {k: at[k] for k in FRAMEWORKS if isinstance(at.get(k), dict)}
    best = min(frameworks, key=lambda k: frameworks[k]["cpu_ms_per_turn"], default=None)
    leanest = min(frameworks, key=lambda k: frameworks[k]["bytes_per_conversation"], default=None)
    agentrt = at["agentrt"]
    return {
        "agentrt_cpu_over_limit": _ratio(cpu("agentrt"), cpu("limit")),
        "agentrt_uvloop_cpu_over_limit_uvloop": _ratio(cpu("agentrt-uvloop"), cpu("limit-uvloop")),
        "best_framework": best,
        "best_framework_cpu_over_agentrt": _ratio(cpu(best) if best else None, cpu("agentrt")),
        "leanest_framework": leanest,
        "agentrt_bytes_over_leanest_framework": _ratio(
            agentrt["bytes_per_conversation"],
            frameworks[leanest]["bytes_per_conversation"] if leanest else None,
        ),
    }


KEYS = ("turns_per_s", "turn_p50_ms", "turn_p95_ms", "cpu_ms_per_turn", "bytes_per_conversation")


LABELS = {
    "ratio agentrt/limit CPU": "agentrt_cpu_over_limit",
    "ratio uvloop agentrt/limit CPU": "agentrt_uvloop_cpu_over_limit_uvloop",
    "ratio best/agentrt CPU": "best_framework_cpu_over_agentrt",
    "ratio agentrt/leanest bytes": "agentrt_bytes_over_leanest_framework",
}


def contender_rows(n: str, contenders: dict[str, Any]) -> list[list[Any]]:
    """Table rows of the contenders at ``N=n``: their figures, or why they did not run."""
    rows: list[list[Any]] = []
    for name, figures in contenders.items():
        if isinstance(figures, dict):
            rows.append([f"N={n} {name}", *(figures[k] for k in KEYS)])
        else:
            rows.append([f"N={n} {name}", figures, *[""] * (len(KEYS) - 1)])
    return rows


def _rows(result: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for n, at in result["conversations"].items():
        rows += contender_rows(n, at["contenders"])
        r = at["ratios"]
        for label, key in LABELS.items():
            value = r[key]
            if value is not None and key.startswith("best"):
                label = label.replace("best", r["best_framework"])
            elif value is not None and "leanest" in key:
                label = label.replace("leanest", r["leanest_framework"])
            rows.append([f"N={n} {label}", "-" if value is None else value, *[""] * 4])
    return rows


def parse_workload(
    description: str,
    argv: list[str] | None,
    contenders: tuple[str, ...],
    quick: tuple[str, ...],
    quick_workload: tuple[int, int],
) -> argparse.Namespace:
    """The options of a turns-workload benchmark: ``--conversations``, ``--turns``,
    ``--latency-ms``, ``--only`` (of ``contenders``), the hidden child options, and
    ``--quick`` (the ``quick`` contenders at ``quick_workload`` = (N, T)). Sets
    ``args.sizes`` and ``args.names``; a bad value exits with a usage error naming it."""
    parser = bench_parser(description)
    parser.add_argument("--conversations", default="100,1000", help="conversation counts N")
    parser.add_argument("--turns", type=int, default=3, help="turns per conversation T")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="mock LLM latency")
    parser.add_argument(
        "--only", default="", help=f"comma-separated contenders (default all: {contenders})"
    )
    parser.add_argument("--child", choices=contenders, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return args
    try:
        args.sizes = [int(s) for s in args.conversations.split(",") if s.strip()]
    except ValueError:
        parser.error(
            f"--conversations: expected comma-separated integers, got {args.conversations!r}"
        )
    if not args.sizes or any(s < 1 for s in args.sizes) or args.turns < 1:
        parser.error("--conversations and --turns must be positive integers")
    if args.latency_ms < 0:
        parser.error(f"--latency-ms must be >= 0, got {args.latency_ms}")
    names = [s.strip() for s in args.only.split(",") if s.strip()] or list(contenders)
    unknown = sorted(set(names) - set(contenders))
    if unknown:
        parser.error(f"--only: unknown contenders {unknown}; choose from {list(contenders)}")
    if args.quick:
        args.sizes, args.turns = [quick_workload[0]], quick_workload[1]
        names = [k for k in names if k in quick]
    args.names = names
    return args


def measure_all(
    args: argparse.Namespace,
    module: str,
    ratios_of: Any,
    available: Any = lambda name: None,
) -> dict[str, Any]:
    """Every contender of ``args.names`` at every size of ``args.sizes``, each in a
    process of its own (``python -m module --child``) against one mock server: figures
    per contender (or why it did not run: ``available(name)``, a failure) and
    ``ratios_of(contenders)`` per size."""

    def measure(url: str) -> dict[str, Any]:
        result: dict[str, Any] = {"latency_ms": args.latency_ms, "turns": args.turns}
        result["conversations"] = {}
        for n in args.sizes:
            at: dict[str, Any] = {}
            for name in args.names:
                at[name] = available(name) or _run_child(name, n, url, args, module)
            result["conversations"][str(n)] = {"contenders": at, "ratios": ratios_of(at)}
        return result

    result: dict[str, Any] = asyncio.run(_with_mock(args.latency_ms, measure))
    return result


COLUMNS = ["contender", "turns/s", "p50 ms", "p95 ms", "CPU ms/turn", "bytes/conv"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    description = "turns: CPU per agent turn against the limit and the frameworks"
    return parse_workload(description, argv, CONTENDERS, QUICK, (50, 2))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        _child(args)
        return 0
    result = measure_all(args, "loadtest.bench.turns", ratios, _available)
    emit(result, as_json=args.json, title="turns", rows=_rows(result), columns=COLUMNS)
    return 0


async def _with_mock(latency_ms: float, fn: Any) -> Any:
    from agentrt.testing import MockLLMProcess

    async with MockLLMProcess(latency_ms=latency_ms) as server:
        return await asyncio.to_thread(fn, server.url)


if __name__ == "__main__":
    sys.exit(main())
