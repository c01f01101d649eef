"""``agentrt demo``: a supervised swarm of support agents, with tools, cache hits and crashes.

Each of ``agents`` agents holds a multi-turn conversation of ``turns`` user turns drawn
from a deterministic script: greetings, knowledge-base lookups through a cached tool
(topics follow a skewed distribution, so most lookups hit the cache), arithmetic through
a second tool, and long answers. Users think between turns. Meanwhile ``crashes`` agents
are killed mid-conversation at random moments: their callers get ``AgentCrashed``, their
supervisor restarts them from their stored conversations, and the run goes on.

The LLM is the in-process mock provider with ``llm_latency_ms`` of latency, or any
OpenAI-compatible server at ``llm_url`` (the demo's turns carry the mock's directives,
such as ``[[tool:lookup {...}]]``, which a real model simply reads as text).

With ``endpoint`` set the runtime serves its telemetry over HTTP for ``agentrt top``
(its URL is printed at start); ``after`` is awaited with the result while the runtime is
still up (the CLI's ``--hold`` keeps it open there until Ctrl-C, for ``top`` to watch).

The result table reports turns, response time percentiles, the runtime's own overhead
(turn time minus time waiting for the LLM and in tools), bytes per agent (RSS growth over
the number of agents), the cache hit ratio, restarts, and turns lost (must be 0).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from rich.console import Console
from rich.live import Live
from rich.table import Table

from agentrt._configfile import build
from agentrt.agent import Agent, AgentCrashed, TurnFailed
from agentrt.loadtest._agents import arithmetic
from agentrt.runtime import EndpointConfig, Runtime, RuntimeConfig
from agentrt.telemetry import LogHistogram
from agentrt.telemetry._process import rss_bytes
from agentrt.tools import CachePolicy, ToolPolicy, tool
from agentrt.tools.cache._redis_config import redact_url
from supervisors import DynamicSupervisor

__all__ = ["DemoAgent", "DemoResult", "run_demo"]

TOPICS = [f"topic-{i}" for i in range(40)]


@tool(policy=ToolPolicy(timeout=5, cache=CachePolicy(ttl=600)))
async def lookup(topic: str) -> dict[str, Any]:
    """Look a topic up in the knowledge base (slow: 20 ms; cached across agents)."""
    await asyncio.sleep(0.02)
    return {"topic": topic, "article": f"Everything about {topic}.", "updated": "2026-11-01"}


@tool
async def calc(a: float, b: float, op: Literal["+", "-", "*", "/"] = "*") -> float:
    """Arithmetic on two numbers."""
    return arithmetic(a, b, op)


class DemoAgent(Agent):
    """A support agent with a cached knowledge-base tool and a calculator."""

    system_prompt = (
        "You are a support agent. Use the lookup tool for product questions and the "
        "calculator for arithmetic. Answer briefly."
    )
    tools = (lookup, calc)


def script_turn(rng: random.Random, index: int) -> str:
    """The user's ``index``-th message in a demo conversation."""
    if index == 0:
        return "Hi! I have a few questions."
    kind = rng.random()
    if kind < 0.45:
        topic = TOPICS[min(int(rng.paretovariate(1.2)) - 1, len(TOPICS) - 1)]
        return f'What do you know about {topic}? [[tool:lookup {{"topic": "{topic}"}}]]'
    if kind < 0.6:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        return f'What is {a} times {b}? [[tool:calc {{"a": {a}, "b": {b}}}]]'
    if kind < 0.8:
        return f"Could you explain that in detail? [[words:{rng.randint(20, 120)}]]"
    return "Thanks, that helps."


@dataclass
class DemoResult:
    """What a demo run measured (seconds unless noted)."""

    agents: int
    turns: int
    answered: int
    failed: int
    lost: int
    p50: float
    p95: float
    p99: float
    overhead_p50: float
    overhead_p95: float
    bytes_per_agent: float
    cache_hit_ratio: float
    restarts: int
    crashes_injected: int
    elapsed: float
    failures: dict[str, int] = field(default_factory=dict)
    first_errors: dict[str, str] = field(default_factory=dict)
    llm_errors: dict[str, int] = field(default_factory=dict)

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.elapsed if self.elapsed else 0.0

    @property
    def ok(self) -> bool:
        """No turn lost, at least one answered, and no failure beyond the injected
        crashes (``AgentCrashed`` at most once per crash injected)."""
        crashed = self.failures.get("AgentCrashed", 0)
        others = sum(n for kind, n in self.failures.items() if kind != "AgentCrashed")
        return (
            self.lost == 0
            and (self.answered > 0 or self.turns == 0)
            and others == 0
            and crashed <= self.crashes_injected
        )


class _Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.done = self.failed = 0
        self.failures: Counter[str] = Counter()
        self.first_errors: dict[str, str] = {}
        self.latency = LogHistogram()
        self.overhead = LogHistogram()
        self.started = time.perf_counter()

    def fail(self, exc: BaseException) -> None:
        """Count a failed turn and keep the first error text of its kind."""
        kind = type(exc).__name__
        self.failed += 1
        self.failures[kind] += 1
        self.first_errors.setdefault(kind, str(exc))

    def table(self, rt: Runtime, crashes: int) -> Table:
        elapsed = time.perf_counter() - self.started
        cache = rt.tools.stats().get("cache") or {}
        t = Table(title="agentrt demo", show_header=False)
        t.add_row("turns", f"{self.done:,} / {self.total:,}")
        t.add_row("turns/s", f"{self.done / elapsed:,.0f}" if elapsed else "-")
        t.add_row("p95 so far", f"{self.latency.quantile(0.95) * 1000:,.0f} ms")
        t.add_row("failed (crashes)", f"{self.failed}")
        t.add_row("crashes injected", f"{crashes}")
        t.add_row("cache hit ratio", f"{cache.get('hit_ratio', 0.0):.2f}")
        t.add_row("live agents", f"{rt.stats()['agents']['live']:,}")
        return t


def provider_table(
    llm_url: str | None, llm_latency_ms: float, model: str, api_key_env: str | None
) -> dict[str, Any]:
    """The demo's LLM provider as a config table: the in-process mock with
    ``llm_latency_ms`` of latency, or the OpenAI-compatible server at ``llm_url``."""
    if llm_url is None:
        return {
            "name": "mock",
            "kind": "mock",
            "mock_latency_ms": llm_latency_ms,
            "max_concurrency": 4096,
            "max_queue": 100_000,
        }
    return {
        "name": "remote",
        "kind": "openai",
        "base_urls": [llm_url],
        "api_key_env": api_key_env,
        "models": [model],
        "max_concurrency": 512,
        "max_queue": 100_000,
    }


def demo_table(agents: int, provider: dict[str, Any]) -> dict[str, Any]:
    """The demo's own runtime settings as a config table (the defaults layer of
    ``agentrt demo``: a file, ``AGENTRT_*`` variables and flags override its keys)."""
    return {
        "llm": {"providers": [provider]},
        "agents": {"idle_timeout_s": None, "max_restarts": agents * 10},
    }


def demo_config(
    agents: int, llm_url: str | None, llm_latency_ms: float, model: str, api_key_env: str | None
) -> RuntimeConfig:
    """The runtime configuration of a demo run."""
    provider = provider_table(llm_url, llm_latency_ms, model, api_key_env)
    return build(RuntimeConfig, demo_table(agents, provider))


async def run_demo(
    *,
    agents: int = 1000,
    turns: int = 5,
    llm_url: str | None = None,
    llm_latency_ms: float = 50.0,
    model: str = "mock",
    api_key_env: str | None = None,
    crashes: int = 5,
    think_ms: float = 200.0,
    seed: int = 7,
    live: bool = True,
    config: RuntimeConfig | None = None,
    console: Console | None = None,
    endpoint: EndpointConfig | None = None,
    after: Callable[[DemoResult], Awaitable[None]] | None = None,
) -> DemoResult:
    """Run the demo and return what it measured (see the module docs)."""
    cfg = config or demo_config(agents, llm_url, llm_latency_ms, model, api_key_env)
    if endpoint is not None:
        cfg = replace(cfg, telemetry=replace(cfg.telemetry, endpoint=endpoint))
    console = console or Console()
    rng = random.Random(seed)
    progress = _Progress(agents * turns)
    injected = 0
    async with Runtime(cfg) as rt:
        if rt.endpoint_url is not None:
            console.print(
                f"introspection endpoint: {rt.endpoint_url}   "
                f"(watch it: agentrt top --url {rt.endpoint_url})",
                highlight=False,
                soft_wrap=True,
            )
        base_rss = rss_bytes()
        ids = await rt.spawn_swarm(DemoAgent, agents, model=model)

        async def user(agent_id: str, urng: random.Random) -> None:
            await asyncio.sleep(urng.random() * think_ms / 1000)
            for i in range(turns):
                started = time.perf_counter()
                try:
                    reply = await rt.ask(agent_id, script_turn(urng, i), timeout=60)
                except (AgentCrashed, TurnFailed) as exc:
                    progress.fail(exc)
                else:
                    took = time.perf_counter() - started
                    progress.latency.record(took)
                    progress.overhead.record(
                        max(0.0, took - reply.llm_seconds - reply.tool_seconds)
                    )
                progress.done += 1
                await asyncio.sleep(urng.random() * think_ms / 1000)

        async def chaos() -> None:
            nonlocal injected
            budget = crashes
            while budget and progress.done < progress.total:
                await asyncio.sleep(rng.random() * 0.5)
                if await rt.inject_crash(rng.choice(ids)):
                    injected += 1
                    budget -= 1

        users = [user(i, random.Random(f"{seed}:{i}")) for i in ids]
        run = asyncio.gather(*users, chaos())
        if live and console.is_terminal:
            with Live(progress.table(rt, injected), console=console, refresh_per_second=4) as view:
                while not run.done():
                    await asyncio.wait([run], timeout=0.25)
                    view.update(progress.table(rt, injected))
        await run
        elapsed = time.perf_counter() - progress.started
        bytes_per_agent = max(0, rss_bytes() - base_rss) / max(1, agents)
        cache = rt.tools.stats().get("cache") or {}
        sup = rt.node.whereis(("agentrt", cfg.name, "agents"))
        restarts = (await DynamicSupervisor.stats(sup)).restarts if sup is not None else 0
        stats = rt.turn_stats()
        lat, ovh = progress.latency, progress.overhead
        result = DemoResult(
            agents=agents,
            turns=stats.accepted,
            answered=stats.answered,
            failed=stats.failed,
            lost=stats.lost + stats.in_flight,
            p50=lat.quantile(0.5),
            p95=lat.quantile(0.95),
            p99=lat.quantile(0.99),
            overhead_p50=ovh.quantile(0.5),
            overhead_p95=ovh.quantile(0.95),
            bytes_per_agent=bytes_per_agent,
            cache_hit_ratio=float(cache.get("hit_ratio", 0.0)),
            restarts=restarts,
            crashes_injected=injected,
            elapsed=elapsed,
            failures=dict(progress.failures),
            first_errors=dict(progress.first_errors),
            llm_errors=_llm_errors(rt),
        )
        if after is not None:
            await after(result)
        return result


def result_table(result: DemoResult) -> Table:
    """The final table of a demo run."""
    ms = 1000.0
    t = Table(title=f"agentrt demo: {result.agents:,} agents")
    t.add_column("figure")
    t.add_column("value", justify="right")
    rows = [
        ("turns", f"{result.turns:,} ({result.answered:,} answered, {result.failed} failed)"),
        ("throughput", f"{result.turns_per_s:,.0f} turns/s over {result.elapsed:.1f} s"),
        (
            "response p50 / p95 / p99",
            f"{result.p50 * ms:,.0f} / {result.p95 * ms:,.0f} / {result.p99 * ms:,.0f} ms",
        ),
        (
            "runtime overhead p50 / p95",
            f"{result.overhead_p50 * ms:.2f} / {result.overhead_p95 * ms:.2f} ms",
        ),
        ("bytes per agent (RSS)", f"{result.bytes_per_agent / 1024:,.1f} KiB"),
        ("cache hit ratio", f"{result.cache_hit_ratio:.2f}"),
        ("crashes injected / restarts", f"{result.crashes_injected} / {result.restarts}"),
        ("turns lost", f"{result.lost}"),
    ]
    for name, value in rows:
        t.add_row(name, value)
    return t


def _llm_errors(rt: Runtime) -> dict[str, int]:
    """LLM errors by type over every provider (the causes behind failed turns)."""
    out: Counter[str] = Counter()
    for view in rt.llm.stats()["providers"].values():
        out.update(view.get("errors") or {})
    return dict(out)


def error_lines(result: DemoResult) -> list[str]:
    """One line per kind of failed turn (its count and the first error's text, any URL
    password redacted), then the LLM errors by type when there were any."""
    lines = [
        f"{kind} ({result.failures.get(kind, 0):,} turns), first: {redact_url(text)}"
        for kind, text in result.first_errors.items()
    ]
    if result.first_errors and result.llm_errors:
        counts = ", ".join(f"{k} x{n:,}" for k, n in sorted(result.llm_errors.items()))
        lines.append(f"LLM errors by type: {counts}")
    return lines
