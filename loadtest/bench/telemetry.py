"""Telemetry benchmark: what stats and OpenTelemetry cost an agent turn.

Three runtimes live in one process and one event loop, with the in-process mock LLM at
zero latency, so that a turn costs only the runtime's own CPU (context assembly, the LLM
pool's path, memory appends, the reply) and telemetry's share of it shows. Each runtime
has ``--agents`` agents whose conversations are seeded with ``--messages`` messages of
the chat corpus (questions, long answers, tool calls and results, as in the agents
benchmark). The default, 60 messages (~8,400 tokens), fills an agent's default context
budget (8,000 tokens) from the first turn: the steady state of a long conversation, and
the same cost in every round. ``--messages 20`` (~2,800 tokens) gives cheaper turns,
where telemetry's fixed cost weighs more:

- **off**: ``TelemetryConfig(stats=False)``, no OpenTelemetry: the baseline.
- **stats**: the default: per-agent ``AgentStats`` and node-wide histograms, no OTel.
- **sdk** (``--sdk``): the same through ``Runtime(meter_provider=, tracer_provider=)``,
  i.e. the OpenTelemetry SDK's own instruments and spans (a ``BatchSpanProcessor``).
- **on**: stats + OpenTelemetry metrics (in-process exponential histograms, exemplars
  with agent ids, exported after each round) + spans (``invoke_agent`` and ``chat`` per
  turn) through a ``BatchSpanProcessor`` to an in-memory exporter: the pipeline
  ``OTelConfig`` builds, with in-memory exporters instead of the network.

Each round runs ``--turns`` turns on each runtime, in turn (off, stats, on, rotated each
round), with ``--concurrency`` callers going round the agents; the figure of each mode is
its median over ``--rounds`` rounds, and the losses are medians of the per-round ratios,
so that machine noise common to a round cancels.

Then a turn's stat record is timed alone (issue 22 §4), beside its peers in the same
rounds (11 with ``--quick``, else 151, of 2,000 calls each: short slices, so that a slice
is rarely split by the scheduler; medians, and ratios as medians of per-round ratios):

- **the record**: what one turn writes into its agent's one ``AgentStats``: the LLM
  pool's usage report (``Telemetry.llm_call``: one request's tokens, cost, LLM time),
  the agent's tool figures, and ``Telemetry.record_turn`` (the agent's and the node's
  latency histograms, the last-turn time);
- **plain slotted**: the same figures as plain attribute updates of a ``__slots__``
  object, no histogram and no lookup (bar: the record <= 3x this);
- **OTel SDK** ``Histogram.record`` with two attributes (bar: the record <= 0.1x this);
- one slotted attribute increment, ``record_turn`` alone and ``LogHistogram.record``, for
  scale.

    python -m loadtest.bench.telemetry                  # full run, table
    python -m loadtest.bench.telemetry --quick --json   # seconds, used by the tests
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from agentrt.actor import Caller, NodeConfig, run
from agentrt.agent import Agent
from agentrt.runtime import AgentsConfig, Runtime, RuntimeConfig, TelemetryConfig
from agentrt.telemetry import LogHistogram, Telemetry
from agentrt.testing import InMemoryOTel
from loadtest.bench.chat_corpus import conversation
from loadtest.bench.measure import bench_parser, emit

MODES = ("off", "stats", "on")


class BenchAgent(Agent):
    """An agent whose conversation can be seeded directly."""

    system_prompt = "You are terse."

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if isinstance(msg, tuple) and msg[0] == "seed":
            await self.conversation.extend(msg[1])
            return len(self.conversation)
        return await super().handle_call(msg, caller)


def _config(stats: bool) -> RuntimeConfig:
    return RuntimeConfig(
        node=NodeConfig(watchdog=False, shutdown_timeout=5.0),
        agents=AgentsConfig(idle_timeout_s=None),
        telemetry=TelemetryConfig(stats=stats),
    )


class Mode:
    """One runtime and what it recorded."""

    def __init__(self, name: str, agents: int, corpus: list[list[Any]]) -> None:
        self.name = name
        self.agents = agents
        self.corpus = corpus
        self.otel: InMemoryOTel | None = None
        kwargs: dict[str, Any] = {}
        if name == "on":  # the runtime's own pipeline, as OTelConfig builds it
            self.otel = InMemoryOTel()
            kwargs = self.otel.exporters()
        elif name == "sdk":  # the same through SDK providers (BatchSpanProcessor)
            self.otel = InMemoryOTel(batch=True)
            kwargs = self.otel.providers()
        self.rt = Runtime(_config(stats=name != "off"), **kwargs)
        self.ids: list[str] = []
        self.rates: list[float] = []
        self.turns = 0
        self.failed = 0
        self.spans = 0

    async def start(self) -> None:
        await self.rt.start()
        self.ids = await self.rt.spawn_swarm(BenchAgent, self.agents, prefix=f"{self.name}-")
        for k, agent_id in enumerate(self.ids):
            await self.rt.call(agent_id, ("seed", self.corpus[k % len(self.corpus)]), timeout=None)

    async def round(self, turns: int, concurrency: int) -> float:
        """Run ``turns`` turns with ``concurrency`` callers; returns turns/s."""
        per_caller = turns // concurrency
        rt, ids = self.rt, self.ids

        async def caller(c: int, n: int) -> None:
            for i in range(n):
                agent_id = ids[(c + i * concurrency) % len(ids)]
                try:
                    await rt.ask(agent_id, f"And what about question {i}? Keep it short.")
                except Exception:
                    self.failed += 1

        gc.collect()
        started = time.perf_counter()
        await asyncio.gather(*(caller(c, per_caller) for c in range(concurrency)))
        elapsed = time.perf_counter() - started
        self.turns += per_caller * concurrency
        if self.otel is not None:  # exported outside the timed part
            self.spans += await self._collect_spans(2 * per_caller * concurrency)
        rate = per_caller * concurrency / elapsed
        self.rates.append(rate)
        return rate

    async def _collect_spans(self, expected: int, wait_s: float = 10.0) -> int:
        """Flush and count this round's finished spans. A turn's spans end just after
        its reply reaches the caller, so a span may still be open when the round's last
        ``ask`` returns: wait (up to ``wait_s``) until ``expected`` spans are in, so that
        none of them is counted in the next round instead."""
        assert self.otel is not None
        exporter = self.otel.span_exporter
        give_up = time.monotonic() + wait_s
        while True:
            await self.rt.otel.flush()
            self.otel.tracer_provider.force_flush()
            got = len(exporter.get_finished_spans())
            if got >= expected or time.monotonic() > give_up:
                break
            await asyncio.sleep(0.01)
        exporter.clear()
        return got

    async def aclose(self) -> None:
        await self.rt.aclose()
        if self.otel is not None:
            self.otel.shutdown()


async def _throughput(args: Any) -> dict[str, Any]:
    corpus = [conversation(seed, args.messages + 1)[1:] for seed in range(min(args.agents, 50))]
    names = (*MODES, "sdk") if args.sdk else MODES
    modes = {name: Mode(name, args.agents, corpus) for name in names}
    for mode in modes.values():
        await mode.start()
    losses: dict[str, list[float]] = {name: [] for name in names if name != "off"}
    try:
        for mode in modes.values():  # warm-up: imports, caches, first allocations
            await mode.round(args.concurrency * 5, args.concurrency)
            mode.rates.clear()
            mode.turns = mode.spans = 0
        for r in range(args.rounds):
            k = r % len(names)
            order = names[k:] + names[:k]
            rates = {name: await modes[name].round(args.turns, args.concurrency) for name in order}
            for name in losses:
                losses[name].append(1 - rates[name] / rates["off"])
    finally:
        for mode in modes.values():
            await mode.aclose()
    return {
        "rates": {name: statistics.median(m.rates) for name, m in modes.items()},
        "loss": {name: statistics.median(v) for name, v in losses.items()},
        "turns": {name: m.turns for name, m in modes.items()},
        "failed": sum(m.failed for m in modes.values()),
        "spans": modes["on"].spans,
        "spans_sdk": modes["sdk"].spans if "sdk" in modes else None,
    }


def _per_call_ns(fn: Any, values: list[float], repeat: int = 5) -> float:
    """Best of ``repeat`` passes over ``values``: ns per call."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter_ns()
        for v in values:
            fn(v)
        best = min(best, (time.perf_counter_ns() - started) / len(values))
    return best


class PlainStats:
    """The peer: the same per-turn figures as plain attributes of a slotted object (no
    histogram, no lookup): the least a per-agent record can cost."""

    __slots__ = (
        "cost",
        "last_turn",
        "latency_sum",
        "llm_requests",
        "llm_s",
        "tokens_in",
        "tokens_out",
        "tool_calls",
        "tool_s",
        "turns",
    )

    def __init__(self) -> None:
        self.turns = self.llm_requests = self.tokens_in = self.tokens_out = self.tool_calls = 0
        self.cost = self.last_turn = self.latency_sum = self.llm_s = self.tool_s = 0.0


class Counter:
    """One slotted attribute (the unit of ``increment_ns``)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


def _turn_record(telemetry: Telemetry, agent_id: str) -> Callable[[float], None]:
    """What one turn records, as the runtime does it: the agent's ``record_turn`` and tool
    figures, and the pool's report of its one LLM request (``UsageRecorder.llm_call``)."""
    stats = telemetry.agent_stats(agent_id, "BenchAgent")
    record_turn, llm_call = telemetry.record_turn, telemetry.llm_call

    def record(v: float) -> None:
        llm_call(agent_id, 900, 40, 0.0001, v * 0.8, None)
        stats.tool_s += 0.0
        stats.tool_calls += 0
        record_turn(stats, v, True)

    return record


def _plain_record(plain: PlainStats) -> Callable[[float], None]:
    _time = time.time

    def record(v: float) -> None:
        plain.llm_requests += 1
        plain.tokens_in += 900
        plain.tokens_out += 40
        plain.cost += 0.0001
        plain.llm_s += v * 0.8
        plain.tool_s += 0.0
        plain.tool_calls += 0
        plain.turns += 1
        plain.latency_sum += v
        plain.last_turn = _time()

    return record


_PASSES = 3  # per function per round (see ``_rounds``)


def _rounds(
    fns: dict[str, Callable[[float], None]],
    values: list[float],
    sdk_values: list[float],
    per_round: dict[str, list[float]],
    rounds: int,
) -> None:
    """Time every function of ``fns`` once per round into ``per_round`` (ns per call, the
    empty call's cost subtracted). Each figure is the best of ``_PASSES`` passes: on a
    loaded machine a pass that the scheduler preempts reads several times too slow (a
    5 ms preemption in a 2,000-call pass adds 2.5 µs per call), and preemption only ever
    adds, so the best pass is the one that measured the code."""
    empty = fns["empty"]
    for _ in range(rounds):
        base = _per_call_ns(empty, values, repeat=_PASSES)
        for name, fn in fns.items():
            if name != "empty":
                vals = sdk_values if name == "otel_sdk" else values
                ns = _per_call_ns(fn, vals, repeat=_PASSES) - base
                per_round[name].append(max(ns, 0.1))


def _stat_record(n: int, rounds: int) -> dict[str, Any]:
    """ns per call of the turn's record and of its peers: ``rounds`` rounds, each timing
    every function over the same ``n`` values back to back (the cost of an empty call
    subtracted). The figures are medians over the rounds, and each ratio is the median of
    the per-round ratios, so that load common to a round cancels."""
    rng = random.Random(7)
    values = [rng.lognormvariate(-1.5, 0.6) for _ in range(n)]  # turn latencies ~0.2 s
    telemetry = Telemetry()
    counter = Counter()

    def increment(v: float) -> None:
        counter.n += 1

    def empty(v: float) -> None:
        return None

    stats_2, record_turn = telemetry.agent_stats("agent-2", "BenchAgent"), telemetry.record_turn

    def record_turn_only(v: float) -> None:
        record_turn(stats_2, v, True)

    fns: dict[str, Callable[[float], None]] = {
        "empty": empty,
        "turn": _turn_record(telemetry, "agent-1"),
        "record_turn": record_turn_only,
        "plain": _plain_record(PlainStats()),
        "increment": increment,
        "histogram": LogHistogram().record,
    }
    with InMemoryOTel() as otel:
        sdk = otel.meter_provider.get_meter("bench").create_histogram("d", unit="s")
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "mock"}
        fns["otel_sdk"] = lambda v: sdk.record(v, attrs)
        sdk_values = values[: max(1, n // 10)]  # ~50x slower: fewer values, same round
        per_round: dict[str, list[float]] = {name: [] for name in fns if name != "empty"}
        gc.collect()
        gc.disable()  # as timeit does: no collection lands in one figure and not another
        try:
            _rounds(fns, values, sdk_values, per_round, rounds)
        finally:
            gc.enable()
    out: dict[str, Any] = {name: statistics.median(v) for name, v in per_round.items()}
    turn = per_round["turn"]
    out["ratios"] = {
        f"record_over_{peer}": statistics.median(
            t / p for t, p in zip(turn, per_round[key], strict=True)
        )
        for peer, key in (
            ("plain_slotted", "plain"),
            ("slotted_increment", "increment"),
            ("otel_histogram", "otel_sdk"),
        )
    }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__.splitlines()[0] if __doc__ else "telemetry benchmark")
    parser.add_argument("--turns", type=int, default=None, help="turns per mode per round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (each mode once)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent callers")
    parser.add_argument("--agents", type=int, default=None, help="agents per runtime")
    parser.add_argument(
        "--messages", type=int, default=60, help="messages seeded into each conversation"
    )
    parser.add_argument(
        "--sdk", action="store_true", help="also measure OTel through SDK providers"
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be >= 1")
    args.agents = args.agents or (50 if args.quick else 200)
    if args.messages < 0:
        parser.error("--messages must be >= 0")
    if args.agents < args.concurrency:
        parser.error("--agents must be >= --concurrency")
    args.turns = args.turns or (250 if args.quick else 2000)
    args.rounds = args.rounds or (1 if args.quick else 11)
    if args.turns < args.concurrency:
        parser.error("--turns must be >= --concurrency")
    result = run(_throughput(args))
    record = _stat_record(2_000, 11 if args.quick else 151)
    out = {
        "turns_per_s_off": round(result["rates"]["off"], 1),
        "turns_per_s_stats": round(result["rates"]["stats"], 1),
        "turns_per_s_on": round(result["rates"]["on"], 1),
        "loss_stats": round(result["loss"]["stats"], 4),
        "loss_on": round(result["loss"]["on"], 4),
        **(
            {
                "turns_per_s_sdk": round(result["rates"]["sdk"], 1),
                "loss_sdk": round(result["loss"]["sdk"], 4),
            }
            if args.sdk
            else {}
        ),
        "stat_record_ns": round(record["turn"], 1),
        "record_turn_ns": round(record["record_turn"], 1),
        "plain_slotted_record_ns": round(record["plain"], 1),
        "slotted_increment_ns": round(record["increment"], 1),
        "histogram_record_ns": round(record["histogram"], 1),
        "otel_histogram_record_ns": round(record["otel_sdk"], 1),
        "ratios": {k: round(v, 4) for k, v in record["ratios"].items()},
        "bars": {"record_over_plain_slotted": 3.0, "record_over_otel_histogram": 0.1},
        "turns": result["turns"],
        "failed": result["failed"],
        "spans": result["spans"],
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "agents": args.agents,
        "messages": args.messages,
    }
    ratios = out["ratios"]
    rows = [
        ["off (no stats, no OTel)", out["turns_per_s_off"], "-"],
        ["stats (default)", out["turns_per_s_stats"], f"{out['loss_stats']:.1%} (bar 5%)"],
        ["stats + OTel metrics + spans", out["turns_per_s_on"], f"{out['loss_on']:.1%} (bar 15%)"],
        *(
            [["same, through SDK providers", out["turns_per_s_sdk"], f"{out['loss_sdk']:.1%}"]]
            if args.sdk
            else []
        ),
        [
            "a turn's stat record (record_turn + pool's llm_call)",
            f"{out['stat_record_ns']:.0f} ns",
            "",
        ],
        [
            "peer: same figures, plain slotted attributes",
            f"{out['plain_slotted_record_ns']:.0f} ns",
            f"record {ratios['record_over_plain_slotted']:.2f}x (bar <= 3x)",
        ],
        [
            "peer: OTel SDK Histogram.record",
            f"{out['otel_histogram_record_ns']:.0f} ns",
            f"record {ratios['record_over_otel_histogram']:.3f}x (bar <= 0.1x)",
        ],
        [
            "one slotted attribute increment",
            f"{out['slotted_increment_ns']:.0f} ns",
            f"record {ratios['record_over_slotted_increment']:.1f}x",
        ],
        ["Telemetry.record_turn alone", f"{out['record_turn_ns']:.0f} ns", ""],
        ["LogHistogram.record", f"{out['histogram_record_ns']:.0f} ns", ""],
    ]
    emit(
        out,
        as_json=args.json,
        title=f"telemetry cost: {args.rounds} rounds x {args.turns} turns, {args.agents} agents "
        f"({args.messages}-message conversations), {args.concurrency} callers, mock LLM at 0 ms",
        rows=rows,
        columns=["mode", "turns/s (median)", "loss vs off"],
    )


if __name__ == "__main__":
    main()
