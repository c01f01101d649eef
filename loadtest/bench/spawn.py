"""Spawn benchmark: creating agents on a busy node (issue 23 §1).

One runtime (this process, run with ``agentrt.run`` as users run it) talks over real HTTP
to the mock LLM server (a separate process, fixed latency, default 1,000 ms). First
``--inflight`` conversations (default 1,000) are spawned and each keeps one turn in
flight at all times (ask, answer, ask again: ``inflight / latency`` turns/s, 1,000/s by
default). While they run:

- **single spawns**: ``--spawns`` new conversations (default 300) are created one at a
  time, ``--gap-ms`` apart, the way a chat service creates an agent per new user, and
  each is sent its first turn at once (without waiting for it): ``rt.spawn`` latency
  p50/p95, and the latency of each new conversation's first reply (``first_reply_*``:
  spawn, conversation load, then its first turn);
- **swarms**: ``--rounds`` times (default 3), a quiet window of ``--window`` seconds, then
  ``spawn_swarm`` of ``--swarm`` agents (default 10,000): throughput in agents/s (median
  over rounds), and the turn latency p95 of the running conversations whose turns
  overlapped a swarm spawn against those that overlapped a quiet window (the peer,
  measured in the same run): ``turn_p95_ratio``. The runtime's own part of a turn (its
  latency minus the time its LLM call took in the pool, ``overhead_*``) is reported the
  same way, as it shows a stall far more sharply than the whole turn does.

The swarm's CPU per agent (``swarm_cpu_us_per_agent``, median over rounds): the
process's CPU time (``time.process_time``) while the swarm spawned, less the turns' CPU
at the rate measured in the round's quiet window, divided by ``--swarm``. On a shared
machine it is the steadier figure: wall-clock agents/s also counts the time other
processes hold the cores.

``--idle``: only swarms, no turns running (``idle_swarm_agents_per_s`` and
``idle_swarm_cpu_us_per_agent``, median over rounds). ``--batch N``: agents per swarm
batch (``spawn_swarm``'s request to the agents' supervisor), to measure throughput
against the turn p95 ratio.

Goals (issue 23): spawn p95 <= 5 ms, >= 20,000 agents/s, turn p95 ratio <= 1.10; the swarm
at <= 15 us of CPU per agent (idle), which is what 20,000 agents/s under load needs.

    python -m loadtest.bench.spawn                  # full run, table
    python -m loadtest.bench.spawn --quick --json   # seconds, used by the tests
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from agentrt.actor import run
from agentrt.agent import Agent
from agentrt.runtime import Runtime
from agentrt.runtime import _runtime as runtime_module
from loadtest.bench.agents import runtime_config
from loadtest.bench.measure import bench_parser, emit, percentile

_Turn = tuple[float, float, float]  # (started, ended, seconds in the LLM call)


class Conversation(Agent):
    """A plain agent: the default LLM loop against the mock server."""


def _ms(value: float) -> float:
    return round(value * 1000, 3)


def _overlapping(turns: Sequence[_Turn], windows: Sequence[tuple[float, float]]) -> list[_Turn]:
    return [t for t in turns if any(t[0] < end and t[1] > start for start, end in windows)]


def _p95s(turns: Sequence[_Turn]) -> tuple[float, float]:
    """Turn latency p95 and overhead p95 (turn minus its LLM call), in seconds."""
    latency = sorted(t[1] - t[0] for t in turns)
    overhead = sorted(max(0.0, t[1] - t[0] - t[2]) for t in turns)
    return percentile(latency, 95), percentile(overhead, 95)


class _Users:
    """``n`` conversations, each keeping one turn in flight until ``stop``."""

    def __init__(self, rt: Runtime, ids: Sequence[str]) -> None:
        self.turns: list[_Turn] = []
        self.failed = 0
        self._stop = False
        self._rt = rt
        self._tasks = [asyncio.create_task(self._user(agent_id)) for agent_id in ids]

    async def _user(self, agent_id: str) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop:
            started = loop.time()
            try:
                reply = await self._rt.ask(agent_id, "How do I reset my password?", timeout=60)
            except Exception:
                self.failed += 1
                continue
            self.turns.append((started, loop.time(), reply.llm_seconds))

    async def stop(self) -> None:
        self._stop = True
        await asyncio.gather(*self._tasks)


async def _single_spawns(rt: Runtime, count: int, gap_s: float) -> dict[str, float]:
    spawn: list[float] = []
    first: list[float] = []

    async def first_reply(agent_id: str, t0: float) -> None:
        await rt.ask(agent_id, "Hello, I am new here.", timeout=60)
        first.append(time.perf_counter() - t0)

    replies = []
    for k in range(count):
        t0 = time.perf_counter()
        await rt.spawn(Conversation, id=f"new-{k}")
        spawn.append(time.perf_counter() - t0)
        replies.append(asyncio.create_task(first_reply(f"new-{k}", t0)))
        await asyncio.sleep(gap_s)
    await asyncio.gather(*replies)
    spawn.sort()
    first.sort()
    return {
        "spawn_p50_ms": _ms(percentile(spawn, 50)),
        "spawn_p95_ms": _ms(percentile(spawn, 95)),
        "spawn_max_ms": _ms(spawn[-1]),
        "first_reply_p50_ms": _ms(percentile(first, 50)),
        "first_reply_p95_ms": _ms(percentile(first, 95)),
    }


async def _swarms(rt: Runtime, users: _Users, args: Any) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    quiet: list[tuple[float, float]] = []
    busy: list[tuple[float, float]] = []
    rates = []
    cpu = []
    for r in range(args.rounds):
        start, cpu0 = loop.time(), time.process_time()
        await asyncio.sleep(args.window)
        quiet.append((start, loop.time()))
        turns_cpu_rate = (time.process_time() - cpu0) / (quiet[-1][1] - start)
        start, cpu0 = loop.time(), time.process_time()
        await rt.spawn_swarm(Conversation, args.swarm, prefix=f"swarm{r}-")
        busy.append((start, loop.time()))
        swarm_s = busy[-1][1] - start
        rates.append(args.swarm / swarm_s)
        # the swarm's own CPU: the process's, less what the turns took in the quiet window
        cpu.append((time.process_time() - cpu0 - turns_cpu_rate * swarm_s) / args.swarm)
        await asyncio.sleep(args.settle)  # the swarm's last starts do not leak into a window
    base_p95, base_over = _p95s(_overlapping(users.turns, quiet))
    swarm_p95, swarm_over = _p95s(_overlapping(users.turns, busy))
    return {
        "swarm_agents_per_s": round(statistics.median(rates)),
        "swarm_cpu_us_per_agent": round(statistics.median(cpu) * 1e6, 1),
        "swarm_s": [round(end - start, 3) for start, end in busy],
        "turn_p95_quiet_ms": _ms(base_p95),
        "turn_p95_swarm_ms": _ms(swarm_p95),
        "turn_p95_ratio": round(swarm_p95 / base_p95, 3),
        "overhead_p95_quiet_ms": _ms(base_over),
        "overhead_p95_swarm_ms": _ms(swarm_over),
        "turns_quiet": len(_overlapping(users.turns, quiet)),
        "turns_swarm": len(_overlapping(users.turns, busy)),
    }


async def _measure(url: str, args: Any) -> dict[str, Any]:
    async with Runtime(runtime_config(url)) as rt:
        ids = await rt.spawn_swarm(Conversation, args.inflight, prefix="conv-")
        users = _Users(rt, ids)
        await asyncio.sleep(args.latency_ms / 1000 * 2)  # every conversation in flight
        result: dict[str, Any] = {
            "inflight": args.inflight,
            "latency_ms": args.latency_ms,
            "swarm": args.swarm,
            "rounds": args.rounds,
        }
        result |= await _single_spawns(rt, args.spawns, args.gap_ms / 1000)
        result |= await _swarms(rt, users, args)
        await users.stop()
        stats = rt.turn_stats()
        result |= {"turns": stats.accepted, "failed": stats.failed + users.failed}
        result["lost"] = stats.lost + stats.in_flight
    return result


async def _idle(url: str, args: Any) -> dict[str, Any]:
    """``--idle``: ``--rounds`` swarms of ``--swarm`` agents with no turns running."""
    rates = []
    cpu = []
    async with Runtime(runtime_config(url)) as rt:
        for r in range(args.rounds):
            start, cpu0 = time.perf_counter(), time.process_time()
            await rt.spawn_swarm(Conversation, args.swarm, prefix=f"idle{r}-")
            rates.append(args.swarm / (time.perf_counter() - start))
            cpu.append((time.process_time() - cpu0) / args.swarm * 1e6)
            await asyncio.sleep(args.settle)
    rounded = [round(rate) for rate in rates]
    return {"swarm": args.swarm, "rounds": args.rounds, "idle_swarm_agents_per_s": rounded,
            "idle_swarm_agents_per_s_median": round(statistics.median(rates)),
            "idle_swarm_cpu_us_per_agent": [round(c, 1) for c in cpu],
            "idle_swarm_cpu_us_per_agent_median": round(statistics.median(cpu), 1)}  # fmt: skip


async def _with_mock(args: Any) -> dict[str, Any]:
    from agentrt.testing import MockLLMProcess

    async with MockLLMProcess(latency_ms=args.latency_ms) as server:
        if args.idle:
            return await _idle(server.url, args)
        return await _measure(server.url, args)


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("spawn: agents created on a busy node")
    parser.add_argument("--inflight", type=int, default=1000, help="conversations in flight")
    parser.add_argument("--latency-ms", type=float, default=1000.0, help="mock LLM latency")
    parser.add_argument("--spawns", type=int, default=300, help="single spawns measured")
    parser.add_argument("--gap-ms", type=float, default=10.0, help="pause between spawns")
    parser.add_argument("--swarm", type=int, default=10_000, help="agents per spawn_swarm")
    parser.add_argument("--rounds", type=int, default=3, help="quiet window + swarm rounds")
    parser.add_argument("--window", type=float, default=3.0, help="quiet window, seconds")
    parser.add_argument("--settle", type=float, default=1.0, help="pause after a swarm, s")
    parser.add_argument("--idle", action="store_true", help="swarms only, no turns running")
    parser.add_argument(
        "--batch", type=int, default=None, help="agents per swarm batch (trade-off runs)"
    )
    args = parser.parse_args(argv)
    if min(args.inflight, args.spawns, args.swarm, args.rounds) < 1 or args.latency_ms <= 0:
        parser.error("--inflight, --spawns, --swarm, --rounds and --latency-ms must be > 0")
    if args.quick:
        args.inflight, args.spawns, args.swarm, args.rounds = 100, 30, 1000, 1
        args.latency_ms, args.window, args.settle = 200.0, 1.0, 0.5
    if args.batch is not None:
        if args.batch < 1:
            parser.error("--batch must be > 0")
        runtime_module._SWARM_BATCH = args.batch
    result = run(_with_mock(args))
    result["batch"] = runtime_module._SWARM_BATCH
    if args.idle:
        rows = [[k, v] for k, v in result.items()]
        emit(result, as_json=args.json, title="spawn: idle swarms", rows=rows,
             columns=["figure", "value"])  # fmt: skip
        return 0
    keys = ["spawn_p50_ms", "spawn_p95_ms", "first_reply_p95_ms", "swarm_agents_per_s",
            "swarm_cpu_us_per_agent", "turn_p95_quiet_ms", "turn_p95_swarm_ms", "turn_p95_ratio",
            "overhead_p95_quiet_ms", "overhead_p95_swarm_ms", "turns", "lost"]  # fmt: skip
    title = f"spawn: {args.inflight} turns in flight, mock LLM {args.latency_ms:g} ms"
    rows = [[k, result[k]] for k in keys]
    emit(result, as_json=args.json, title=title, rows=rows, columns=["figure", "value"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
