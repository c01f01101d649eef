"""The load run: users talking to a swarm, ramped, with faults injected, sampled each
interval, ending in a report.

``await run_scenario(scenario)`` starts the run's environment (mock LLM process,
redis-server), a :class:`~agentrt.runtime.Runtime`, then one simulated user per agent.
A user sends a turn, waits for its outcome, thinks, and goes on until its turns are done,
the run's duration ends or the ramp retires it. At the end users still inside a turn
get ``turn_timeout`` plus a grace period to finish; a turn that still has no outcome is
counted ``lost``. The :class:`RunOutcome` holds the report (see ``docs/loadtest.md``)
and whether every threshold passed.

Thresholds with ``abort_on_fail`` are checked at every sample (after their
``delay_abort_eval``); a failure stops the run early and is reported as the reason.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agentrt.agent import Agent
from agentrt.errors import AgentRTError, ConfigError
from agentrt.loadtest._agents import ToolCounters, scenario_tools
from agentrt.loadtest._collect import Ledger, Sample, Series, percentile
from agentrt.loadtest._conversation import TurnSource, think_seconds
from agentrt.loadtest._environment import RunEnvironment, run_environment
from agentrt.loadtest._importing import import_object
from agentrt.loadtest._ramp import Ramp
from agentrt.loadtest._report import build_report, figures_of
from agentrt.loadtest._scenario import Scenario
from agentrt.loadtest._thresholds import ThresholdResult, evaluate
from agentrt.runtime import Runtime
from agentrt.telemetry._process import rss_bytes

__all__ = ["LoadRun", "RunOutcome", "agent_class_of", "run_scenario"]

DRAIN_GRACE_S = 5.0


def agent_class_of(scenario: Scenario) -> type[Agent]:
    """The scenario's agent class, imported; ConfigError when it is not an Agent."""
    cls = import_object(
        scenario.agents.agent_class, key="agents.class", near=scenario.source or None
    )
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ConfigError("agents.class", f"{scenario.agents.agent_class!r} is not an Agent class")
    return cls


@dataclass
class RunOutcome:
    """A finished run: its ``report`` (JSON-ready) and ``passed``."""

    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])

    @property
    def thresholds(self) -> list[dict[str, Any]]:
        return list(self.report["thresholds"])


@dataclass
class _User:
    index: int
    agent_id: str
    model: str
    task: asyncio.Task[None] | None = None
    in_turn: bool = False
    retire: bool = False


@dataclass
class LoadRun:
    """One run of ``scenario``; ``on_sample`` is called after each sample (live views,
    :class:`~agentrt.loadtest._steady.SteadyWatch`); ``after_drain`` is awaited once the
    users are done, with the runtime still up (a probe such as
    :func:`~agentrt.loadtest._steady.passivation_probe`), before the report is built;
    ``base_rss`` is the RSS measured just before the users started."""

    scenario: Scenario
    on_sample: Callable[[LoadRun], None] | None = None
    after_drain: Callable[[LoadRun], Awaitable[None]] | None = None
    base_rss: int | None = None
    ledger: Ledger = field(default_factory=Ledger)
    series: Series = field(default_factory=Series)
    tools: ToolCounters = field(default_factory=ToolCounters)
    users: dict[int, _User] = field(default_factory=dict)
    spawned: int = 0
    spawn_failures: int = 0
    supervisor_restarts: int | None = None  # the agents' supervisor's, last sampled
    _restarts_mark: tuple[float, int] = (0.0, 0)
    aborted: str | None = None
    started: float = 0.0
    cpu_started: float = 0.0  # time.process_time() when users started (cpu_per_turn)
    ramp_done_at: float | None = None
    rt: Runtime | None = None
    env: RunEnvironment | None = None
    abort_results: list[ThresholdResult] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started if self.started else 0.0

    @property
    def active(self) -> int:
        return sum(1 for u in self.users.values() if u.task is not None and not u.task.done())

    def stop(self, reason: str | None = None) -> None:
        """End the run early (users finish their current turn); ``reason`` is reported."""
        if reason and self.aborted is None:
            self.aborted = reason
        self._stop.set()

    async def execute(self) -> RunOutcome:
        """Run the scenario to its end and return the outcome."""
        scenario = self.scenario
        cls = agent_class_of(scenario)
        source = TurnSource(scenario)
        async with run_environment(scenario) as env:
            self.env = env
            async with Runtime(env.runtime) as rt:
                self.rt = rt
                rng = random.Random(f"{scenario.seed}:tools")
                for t in scenario_tools(scenario.tools, scenario.faults, rng, self.tools):
                    rt.tools.add(t)
                base_rss = self.base_rss = rss_bytes()
                self.started = time.perf_counter()
                self.cpu_started = time.process_time()
                await self._drive(cls, source)
                elapsed = self.elapsed
                await self._drain()
                await self._read_supervisor()
                if self.after_drain is not None:
                    await self.after_drain(self)
                report = build_report(self, base_rss, elapsed, await env.mock_stats())
        return RunOutcome(report)

    async def _drive(self, cls: type[Agent], source: TurnSource) -> None:
        ramp = Ramp(self.scenario.agents)
        tasks = [
            asyncio.create_task(self._sampler()),
            asyncio.create_task(self._outages()),
            asyncio.create_task(self._slowdowns()),
        ]
        try:
            await self._ramp(ramp, cls, source)
        finally:
            self._stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _ramp(self, ramp: Ramp, cls: type[Agent], source: TurnSource) -> None:
        limit = self.scenario.max_duration
        while not self._stop.is_set():
            now = self.elapsed
            if limit is not None and now >= float(limit):
                self.stop(f"max_duration of {float(limit):g} s reached")
                return
            target = ramp.target(now)
            if ramp.by_turns:
                while self.spawned < target and not self._stop.is_set():
                    user = await self._try_spawn(cls)
                    if user is None:
                        break
                    self._start(user, source)
            else:
                await self._adjust(target, cls, source)
            if self.ramp_done_at is None and ramp.full(now):
                self.ramp_done_at = now
            if ramp.over(now, self.spawned):
                break
            await asyncio.sleep(ramp.tick)  # the loop's top sees a stop within a tick
        if ramp.by_turns and not self._stop.is_set():
            await self._wait_users(limit)

    async def _wait_users(self, limit: Any) -> None:
        pending = [u.task for u in self.users.values() if u.task is not None]
        if not pending:
            return
        stopper = asyncio.create_task(self._stop.wait())
        remaining = None if limit is None else max(0.0, float(limit) - self.elapsed)
        everyone: asyncio.Future[Any] = asyncio.gather(*pending, return_exceptions=True)
        try:
            await asyncio.wait(
                [everyone, stopper], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if not all(t.done() for t in pending) and not self._stop.is_set():
                self.stop(f"max_duration of {float(limit):g} s reached")
        finally:
            stopper.cancel()

    def _start(self, user: _User, source: TurnSource) -> None:
        user.retire = False
        user.task = asyncio.create_task(self._talk(user, source))

    async def _adjust(self, target: int, cls: type[Agent], source: TurnSource) -> None:
        """Start or retire users until ``target`` are talking (reusing idle agents)."""
        running = [
            u
            for u in self.users.values()
            if u.task is not None and not u.task.done() and not u.retire
        ]
        if len(running) > target:
            for user in running[target:]:
                user.retire = True
                if not user.in_turn and user.task is not None:
                    user.task.cancel()
            return
        idle = [u for u in self.users.values() if u.task is None or u.task.done()]
        for _ in range(target - len(running)):
            if idle:
                self._start(idle.pop(), source)
            elif self.spawned < self.scenario.agents.count:
                fresh = await self._try_spawn(cls)
                if fresh is None:
                    return  # tried again at the next tick
                self._start(fresh, source)

    async def _try_spawn(self, cls: type[Agent]) -> _User | None:
        """Spawn the next agent; None when its start failed with an agentrt error (a
        store outage...): counted in ``spawn_failures``, recorded as an event, retried."""
        try:
            return await self._spawn(cls)
        except AgentRTError as exc:
            self.spawned -= 1
            self.spawn_failures += 1
            if self.spawn_failures == 1 or self.spawn_failures % 100 == 0:
                self.event("spawn_failed", f"lt-{self.spawned}: {exc}")
            return None

    async def _spawn(self, cls: type[Agent]) -> _User:
        assert self.rt is not None
        index = self.spawned
        self.spawned += 1
        agent_id = f"lt-{index}"
        options = dict(self.scenario.agents.options)
        model = self.scenario.agents.model_of(index)
        await self.rt.spawn(cls, id=agent_id, model=model, **options)
        user = self.users[index] = _User(index, agent_id, model)
        return user

    async def _talk(self, user: _User, source: TurnSource) -> None:
        scenario = self.scenario
        rng = random.Random(f"{scenario.seed}:{user.index}")
        turns = scenario.agents.turns
        turn = 0
        await asyncio.sleep(think_seconds(scenario.think_time, rng) * rng.random())
        while not (self._stop.is_set() or user.retire) and (turns is None or turn < turns):
            await self._turn(user, source.text(rng, user.index, turn), rng)
            turn += 1
            if user.retire or (turns is not None and turn >= turns):
                break
            await asyncio.sleep(think_seconds(scenario.think_time, rng))

    async def _turn(self, user: _User, text: str, rng: random.Random) -> None:
        assert self.rt is not None
        ledger, faults = self.ledger, self.scenario.faults
        by_model = ledger.model(user.model)
        ledger.sent += 1
        by_model.sent += 1
        user.in_turn = True
        if faults.crash_rate and rng.random() < faults.crash_rate:
            delay = rng.random() * max(0.01, float(self.scenario.llm.mock.latency))
            self._spawn_background(self._crash(user.agent_id, delay))
        started = time.perf_counter()
        timeout = float(self.scenario.turn_timeout)
        try:
            reply = await self.rt.ask(user.agent_id, text, timeout=timeout)
        except asyncio.CancelledError:
            raise  # the run gave up on it: counted lost
        except Exception as exc:
            ledger.fail(exc, by_model, left=timeout - (time.perf_counter() - started))
        else:
            took = time.perf_counter() - started
            ledger.answer(took, took - reply.llm_seconds - reply.tool_seconds)
            by_model.answered += 1
        finally:
            user.in_turn = False

    async def _crash(self, agent_id: str, delay: float) -> None:
        assert self.rt is not None
        await asyncio.sleep(delay)
        if await self.rt.inject_crash(agent_id):
            self.ledger.crashes_injected += 1

    def _spawn_background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def event(self, kind: str, detail: str = "") -> None:
        assert self.env is not None
        self.env.events.append({"t": round(self.elapsed, 3), "kind": kind, "detail": detail})

    async def _outages(self) -> None:
        assert self.env is not None
        env = self.env
        for window in sorted(self.scenario.faults.redis_outage, key=lambda w: float(w.start)):
            await asyncio.sleep(max(0.0, float(window.start) - self.elapsed))
            await env.redis_down()
            self.event("redis_down", f"redis-server stopped for {float(window.duration):g} s")
            try:
                await asyncio.sleep(float(window.duration))
            finally:
                await env.redis_up()  # also when the run ends inside the window
                self.event("redis_up", "redis-server started again")

    async def _slowdowns(self) -> None:
        assert self.env is not None
        mock = self.env.mock
        windows = sorted(self.scenario.faults.llm_slowdown, key=lambda w: float(w.start))
        if mock is None or not windows:
            return
        normal = float(self.scenario.llm.mock.latency) * 1000
        for window in windows:
            await asyncio.sleep(max(0.0, float(window.start) - self.elapsed))
            slow = normal + float(window.latency) * 1000
            await mock.faults(latency_ms=slow)
            self.event("llm_slow", f"mock LLM {float(window.latency):g} s slower")
            try:
                await asyncio.sleep(float(window.duration))
            finally:
                await mock.faults(latency_ms=normal)  # also when the run ends inside
                self.event("llm_normal", "mock LLM back to its latency")

    async def _sampler(self) -> None:
        interval = float(self.scenario.sample_interval)
        last_t, last_ended = 0.0, 0
        while True:
            await asyncio.sleep(interval - (self.elapsed % interval))
            await self._read_supervisor()
            now = self.elapsed
            ended = self.ledger.ended
            self.series.add(self.take_sample(now, (ended - last_ended) / max(1e-9, now - last_t)))
            last_t, last_ended = now, ended
            self._check_abort(now)
            if self.on_sample is not None:
                self.on_sample(self)

    async def _read_supervisor(self) -> None:
        """Read the agents' supervisor's restart count (None when it does not answer:
        gone, or busy starting a child for longer than a second)."""
        assert self.rt is not None
        stats = await self.rt.supervision.agents_stats(timeout=1.0)
        self.supervisor_restarts = None if stats is None else stats.restarts

    def _restart_rate(self, now: float) -> float | None:
        total = self.supervisor_restarts
        if total is None:
            return None
        last_t, last_n = self._restarts_mark
        self._restarts_mark = (now, total)
        return round((total - last_n) / max(1e-9, now - last_t), 3)

    def take_sample(self, now: float, rate: float) -> Sample:
        assert self.rt is not None
        window, failed = self.ledger.take_window()
        counts = self.rt.agent_counts()
        cache = self.rt.tools.stats().get("cache") or {}
        lookups = cache.get("hits", 0) + cache.get("misses", 0)
        return Sample(
            t=round(now, 3),
            active_agents=self.active,
            turns_per_s=round(rate, 3),
            response_p50=percentile(window, 0.5),
            response_p95=percentile(window, 0.95),
            response_p99=percentile(window, 0.99),
            errors=failed,
            rss_bytes=rss_bytes(),
            restarts=counts["restarts"],
            cache_hit_ratio=cache.get("hit_ratio") if lookups else None,
            loop_lag=self.rt.node.stats().loop.lag_last,
            restarts_per_s=self._restart_rate(now),
            llm_waiting=self.rt.llm.waiting(),
        )

    def _check_abort(self, now: float) -> None:
        rules = tuple(
            t
            for t in self.scenario.parsed_thresholds
            if t.abort_on_fail and now >= t.delay_abort_eval
        )
        if not rules or self.aborted is not None:
            return
        figures = figures_of(self, base_rss=None, elapsed=now, final=False)
        failed = [r for r in evaluate(rules, figures) if not r.ok]
        if failed:
            self.abort_results = failed
            self.event("abort", f"threshold {failed[0].threshold.expr!r} failed")
            self.stop(f"threshold {failed[0].threshold.expr!r} failed (abort_on_fail)")

    async def _drain(self) -> None:
        """Let users inside a turn finish it (bounded); cancel the rest."""
        self._stop.set()
        for user in self.users.values():
            if user.task is not None and not user.in_turn:
                user.task.cancel()
        tasks = [u.task for u in self.users.values() if u.task is not None]
        if tasks:
            grace = float(self.scenario.turn_timeout) + DRAIN_GRACE_S
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


async def run_scenario(
    scenario: Scenario, *, on_sample: Callable[[LoadRun], None] | None = None
) -> RunOutcome:
    """Run ``scenario`` and return its outcome (see the module docs)."""
    return await LoadRun(scenario, on_sample=on_sample).execute()
