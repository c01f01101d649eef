"""Run a ``[cluster]`` scenario: nodes, a load generator in its own process, faults on a
schedule, and the figures a cluster must meet.

:func:`run_cluster_scenario` starts (in this order, all stopped at the end, also on a
failure or Ctrl-C) a redis-server of its own on a free port (unless ``cluster.redis_url``
names one), ``cluster.nodes`` ``agentrt node`` processes on loopback, and the load
generator (:mod:`agentrt.loadtest._cluster_load`, a client node). Once the generator saw
the nodes, the faults of ``[faults]`` run on their schedule (since the load began), one
after the other:

- ``node_kill``: the next node in turn gets SIGKILL, a replacement is started; its window
  lasts from the kill until the replacement joined;
- ``node_pause``: SIGSTOP, SIGCONT after ``duration``; the window is that pause;
- ``redis_restart``: the runner's redis-server stops for ``down`` and starts again with
  its data; the window lasts until it answers;
- ``drain``: the next node in turn gets SIGTERM (it drains: its agents move) and exits;
  with ``replace`` a new node starts; the window lasts until it exited (or the new node
  joined);
- ``join``: ``count`` new nodes start; the window lasts until they joined;
- ``rolling_restart``: each node held then, in turn: drained as above, started again
  under its id; the window lasts until the last one joined again.

At the end of the load (the nodes still up) the runner reads the nodes' published load
records: ``rebalance_balance`` (the most agents a live node holds over the mean) and
``rebalance_rounds`` (the most rebalance rounds a live node ran that moved agents);
:mod:`agentrt.loadtest._cluster_balance`.

Each window is extended by ``cluster.settle``. Figures (docs/loadtest.md): the turn
accounting read from the generator's log (``lost``: sent, neither answered nor failed),
``duplicated`` (message ids stored twice in their conversation), ``response_*`` over the
answered turns, ``response_p95_outside_faults`` over the answered turns that overlap no
fault window, the faults carried out, and ``supervisor_shutdowns``: nodes that exited
without being killed by a fault. The report's ``faults`` block holds the fault windows,
the first duplicated message ids and the pids of every process started (all gone by
then), and ``logs``: the folder with the nodes' and the generator's logs and the turn log,
kept when the run failed (removed when it passed).

Failures: :class:`~agentrt.errors.AgentRTError` subclasses when a process could not be
started (redis-server missing, a node did not join, the generator did not start, or the
stop event was set while they started: :class:`ClusterRunError`); ``TimeoutError`` /
``RuntimeError`` when a node did not join in ``join_timeout`` or exited first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agentrt.errors import AgentRTError
from agentrt.loadtest._cluster_balance import read_balance
from agentrt.loadtest._cluster_cpu import CpuSampler
from agentrt.loadtest._cluster_procs import ClusterProcs, DurableRedisServer, stop_all
from agentrt.loadtest._cluster_spec import ClusterSpec
from agentrt.loadtest._engine import RunOutcome
from agentrt.loadtest._report import SCHEMA, environment, redacted_report
from agentrt.loadtest._scenario import Scenario
from agentrt.loadtest._thresholds import METRICS, evaluate, run_thresholds

__all__ = ["ClusterRunError", "run_cluster_scenario"]

_DRAIN_S = 5.0  # beyond turn_timeout, for the generator's last turns and its log


class ClusterRunError(AgentRTError, RuntimeError):
    """A process of a cluster run could not be started (the message says which)."""


T = TypeVar("T")
_KINDS = ("node_kill", "node_pause", "redis_restart", "drain", "join", "rolling_restart")


@dataclass
class _Faults:
    windows: list[tuple[str, float, float]] = field(default_factory=list)
    done: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    killed: set[str] = field(default_factory=set)
    starting: set[str] = field(default_factory=set)  # replacements not joined yet


def _schedule(scenario: Scenario) -> list[tuple[float, str, Any]]:
    faults = scenario.faults
    out: list[tuple[float, str, Any]] = []
    for kind in _KINDS:
        out += [(float(f.at), kind, f) for f in getattr(faults, kind)]
    return sorted(out, key=lambda item: item[0])


async def _inject(
    scenario: Scenario,
    procs: ClusterProcs | None,
    redis: DurableRedisServer | None,
    t0: float,
    record: _Faults,
) -> None:
    """Carry out the schedule (module docs); ``t0`` is the load's start (unix time).

    A killed node's replacement is waited for in a task of its own: on a loaded machine
    its start takes seconds, and the faults after it keep their times. Its window ends
    when the replacement has joined (or when the injection is cancelled: the load is
    over)."""
    turn = 0
    replacing: list[asyncio.Future[None]] = []
    try:
        for at, kind, fault in _schedule(scenario):
            await asyncio.sleep(max(0.0, t0 + at - time.time()))
            started = time.time()
            if kind == "redis_restart":
                assert redis is not None
                await asyncio.to_thread(redis.stop)
                await asyncio.sleep(float(fault.down))
                await asyncio.to_thread(redis.start)
            elif kind == "join":
                assert procs is not None
                for node_id in [procs.start_node() for _ in range(fault.count)]:
                    await asyncio.to_thread(procs.ready, node_id)
            elif kind == "rolling_restart":
                assert procs is not None
                for node_id in sorted(set(procs.nodes) - record.starting):
                    await asyncio.to_thread(procs.drain, node_id)
                    await asyncio.to_thread(procs.ready, procs.start_node(node_id))
            else:
                assert procs is not None
                live = sorted(set(procs.nodes) - record.killed - record.starting)
                while not live and any(not task.done() for task in replacing):
                    # every node is a replacement still starting: the fault waits for one
                    pending = [task for task in replacing if not task.done()]
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    live = sorted(set(procs.nodes) - record.killed - record.starting)
                victim = live[turn % len(live)]
                turn += 1
                if kind == "drain":
                    await asyncio.to_thread(procs.drain, victim)
                    if fault.replace:
                        await asyncio.to_thread(procs.ready, procs.start_node())
                elif kind == "node_kill":
                    await asyncio.to_thread(procs.kill, victim)
                    record.done[kind] += 1
                    new = procs.start_node()
                    record.starting.add(new)
                    ready = asyncio.to_thread(procs.ready, new)
                    window = _window(ready, new, started, t0, record)
                    replacing.append(asyncio.ensure_future(window))
                    continue
                else:
                    procs.signal(victim, signal.SIGSTOP)
                    try:
                        await asyncio.sleep(float(fault.duration))
                    finally:
                        procs.signal(victim, signal.SIGCONT)
            record.windows.append((kind, started - t0, time.time() - t0))
            record.done[kind] += 1
        await asyncio.gather(*replacing)
    finally:
        for task in replacing:
            task.cancel()
        await asyncio.gather(*replacing, return_exceptions=True)  # their windows recorded
        record.windows.sort(key=lambda window: window[1])


async def _window(
    ready: Awaitable[None], node_id: str, started: float, t0: float, record: _Faults
) -> None:
    """A node kill's window: from the kill until its replacement ``node_id`` joined
    (``ready``), or until this is cancelled. A pause never picks a node still starting."""
    try:
        await ready
    finally:
        record.starting.discard(node_id)
        record.windows.append(("node_kill", started - t0, time.time() - t0))


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def read_log(path: Path) -> dict[str, Any]:
    """The turns of a generator's log: ``sent`` {id: time}, ``ended`` {id: (time, error or
    None)}, and the duplicate check's line (None when it never ran)."""
    sent: dict[str, float] = {}
    ended: dict[str, tuple[float, str | None]] = {}
    dup: dict[str, Any] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # a line cut by a killed generator
            continue
        if row["e"] == "s":
            sent[row["m"]] = row["t"]
        elif row["e"] in ("a", "f"):
            ended[row["m"]] = (row["t"], row.get("err"))
        elif row["e"] in ("dup", "dup_error"):
            dup = row
    return {"sent": sent, "ended": ended, "dup": dup}


def figures_of_log(
    log: dict[str, Any], t0: float, faults: _Faults, settle: float, elapsed: float
) -> dict[str, float | None]:
    """The run's figures (module docs) from its log and fault windows."""
    sent, ended, dup = log["sent"], log["ended"], log["dup"]
    # the load window: from the start to the last turn's end (not the duplicate check)
    load_s = max((end for end, _ in ended.values()), default=t0) - t0 or elapsed
    answered = {m: end - sent[m] for m, (end, err) in ended.items() if err is None and m in sent}
    failed = sum(1 for m, (_, err) in ended.items() if err is not None and m in sent)
    windows = [(start, end + settle) for _, start, end in faults.windows]

    def calm(message: str) -> bool:
        begin, end = sent[message] - t0, ended[message][0] - t0
        return all(end < w0 or begin > w1 for w0, w1 in windows)

    times = sorted(answered.values())
    outside = sorted(v for m, v in answered.items() if calm(m))
    figures: dict[str, float | None] = {
        "agents": None,
        "turns_sent": len(sent),
        "turns_answered": len(answered),
        "turns_failed": failed,
        "lost": sum(1 for m in sent if m not in ended),
        "duplicated": dup["n"] if dup is not None and dup["e"] == "dup" else None,
        "restarted_turns": dup["restarted"] if dup is not None and dup["e"] == "dup" else None,
        "error_rate": failed / len(sent) if sent else None,
        "turns_per_s": (len(answered) + failed) / load_s if load_s > 0 else None,
        "response_p50": _quantile(times, 0.5),
        "response_p90": _quantile(times, 0.9),
        "response_p95": _quantile(times, 0.95),
        "response_p99": _quantile(times, 0.99),
        "response_max": times[-1] if times else None,
        "response_p95_outside_faults": _quantile(outside, 0.95),
        "turns_outside_faults": len(outside),
        **{f"{kind}s": faults.done[kind] for kind in _KINDS},
    }
    return figures


def _cpu_figures(sampler: CpuSampler, log: dict[str, Any], t0: float) -> dict[str, float | None]:
    """Cores used over the load window (the start to the last turn's end): by the run's
    processes together (``cpu_cores``), its nodes, its load generator, its redis-server."""
    end = max((t for t, _ in log["ended"].values()), default=t0)
    cores = sampler.cores(t0, end)
    if not cores:
        return {"cpu_cores": None, "node_cpu_cores": None, "loadgen_cpu_cores": None}
    return {
        "cpu_cores": sum(cores.values()),
        "node_cpu_cores": cores.get("nodes"),
        "loadgen_cpu_cores": cores.get("loadgen"),
    }


async def _unless(stop: asyncio.Event, work: Awaitable[T]) -> T:
    """``work``'s result, or ``ClusterRunError`` as soon as ``stop`` is set (Ctrl-C while
    the cluster starts: the caller's cleanup stops what was started)."""
    task, halt = asyncio.ensure_future(work), asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait((task, halt), return_when=asyncio.FIRST_COMPLETED)
    halt.cancel()
    if task in done:
        return task.result()
    task.cancel()
    raise ClusterRunError("interrupted while the cluster was starting")


async def _wait_line(proc: subprocess.Popen[bytes], prefix: bytes, timeout: float) -> bytes:
    assert proc.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = await asyncio.to_thread(proc.stdout.readline)
            if not line:
                raise ClusterRunError("the load generator exited before it started its load")
            if line.startswith(prefix):
                return line


def _plan(scenario: Scenario, spec: ClusterSpec, url: str, nodes: int) -> dict[str, Any]:
    think = scenario.think_time
    agents = scenario.agents
    return {
        "name": spec.name, "redis_url": url, "prefix": spec.prefix,
        "store_prefix": spec.store_prefix, "agent_prefix": spec.agent_prefix,
        "tag": f"lt{uuid.uuid4().hex[:6]}", "seed": scenario.seed, "agents": agents.count,
        "turns": agents.turns,
        "duration": None if agents.duration is None else float(agents.duration),
        "turn_timeout": float(scenario.turn_timeout), "nodes": max(nodes, 1),
        "join_timeout": float(spec.join_timeout),
        "think_time": {"distribution": think.distribution, "mean": float(think.mean),
                       "min": float(think.min), "max": float(think.max), "sigma": think.sigma},
    }  # fmt: skip


def _start_generator(plan: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "agentrt.loadtest._cluster_load", str(plan), str(log)]
    with open(plan.with_name("loadgen.log"), "ab") as err:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, start_new_session=True)


def _failed_by(log: dict[str, Any]) -> dict[str, int]:
    """Failed turns by error type."""
    return dict(Counter(err for _, err in log["ended"].values() if err is not None))


def _accounting(figures: dict[str, float | None]) -> dict[str, Any]:
    sent, answered = figures["turns_sent"], figures["turns_answered"]
    failed, lost = figures["turns_failed"], figures["lost"]
    return {"sent": sent, "answered": answered, "failed": failed, "lost": lost,
            "reconciled": lost == 0}  # fmt: skip


def _time_limit(scenario: Scenario) -> float:
    """The longest the load may run: its duration (or each user's turns at their longest)
    plus ``turn_timeout`` and a drain; at most ``max_duration``."""
    agents, timeout = scenario.agents, float(scenario.turn_timeout)
    if agents.duration is not None:  # the last turns, then the conversations read
        limit = float(agents.duration) + 2 * timeout + _DRAIN_S
    else:
        limit = (agents.turns or 1) * (timeout + float(scenario.think_time.max)) + _DRAIN_S
    if scenario.max_duration is not None:
        limit = min(limit, float(scenario.max_duration))
    return limit


async def run_cluster_scenario(scenario: Scenario, stop: asyncio.Event | None = None) -> RunOutcome:
    """Run ``scenario`` (which has a ``[cluster]`` table) and judge its thresholds;
    ``stop`` set ends the load early (the report of what ran is still built)."""
    spec = scenario.cluster
    assert spec is not None
    stop = stop or asyncio.Event()
    workdir = Path(tempfile.mkdtemp(prefix="agentrt-cluster-run-"))
    redis: DurableRedisServer | None = None
    procs: ClusterProcs | None = None
    loadgen: list[subprocess.Popen[bytes]] = []
    record = _Faults()

    def run_pids() -> dict[str, list[int]]:
        return {
            "nodes": [p.pid for p in (procs.started if procs is not None else [])],
            "loadgen": [p.pid for p in loadgen],
            "redis": [redis.pid] if redis is not None and redis.pid is not None else [],
        }

    sampler = CpuSampler(run_pids)
    sampling = asyncio.ensure_future(sampler.run())
    started_wall = time.time()
    t0 = started_wall
    try:
        url = spec.redis_url
        if url is None:
            redis = DurableRedisServer()
            await _unless(stop, asyncio.to_thread(redis.start))
            url = redis.url
        if spec.nodes:
            procs = ClusterProcs(spec, url, workdir, float(scenario.llm.mock.latency))
            ids = [procs.start_node() for _ in range(spec.nodes)]
            for node_id in ids:
                await _unless(stop, asyncio.to_thread(procs.ready, node_id))
        plan_path, log_path = workdir / "plan.json", workdir / "turns.jsonl"
        plan_path.write_text(json.dumps(_plan(scenario, spec, url, spec.nodes)), encoding="utf-8")
        loadgen.append(_start_generator(plan_path, log_path))
        line = await _unless(stop, _wait_line(loadgen[0], b"start ", float(spec.join_timeout)))
        t0 = float(line.split()[1])
        injector = asyncio.ensure_future(_inject(scenario, procs, redis, t0, record))
        limit = _time_limit(scenario)
        halt = asyncio.ensure_future(stop.wait())
        ended = asyncio.ensure_future(asyncio.to_thread(loadgen[0].wait))
        done, _ = await asyncio.wait(
            (ended, halt), timeout=limit,
            return_when=asyncio.FIRST_COMPLETED,
        )  # fmt: skip
        aborted = None if ended in done else ("interrupted" if halt in done else "time limit")
        if aborted is not None:  # turns in flight fail as Interrupted, then it exits
            loadgen[0].send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(float(scenario.turn_timeout) + _DRAIN_S):
                    await ended
            except TimeoutError:
                aborted += "; the load generator was killed"
        halt.cancel()
        if not injector.done():  # the load is over: a fault in progress ends now
            injector.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(injector), 30.0)
        if injector.done() and not injector.cancelled() and injector.exception() is not None:
            aborted = f"a fault could not be carried out: {injector.exception()}"
        balance = await read_balance(url, spec) if procs is not None else {}
        crashed = procs.exited_on_their_own() if procs is not None else []
        elapsed = time.time() - t0
        log = read_log(log_path)
        figures = figures_of_log(log, t0, record, float(spec.settle), elapsed)
        figures["agents"] = scenario.agents.count
        figures["supervisor_shutdowns"] = len(crashed)
        figures.update(balance)
        figures.update(_cpu_figures(sampler, log, t0))
    finally:
        sampling.cancel()
        stop_all(loadgen)
        if procs is not None:
            procs.close()
        if redis is not None:
            await asyncio.to_thread(redis.close)
    pids = [proc.pid for proc in [*loadgen, *(procs.started if procs is not None else [])]]
    results = evaluate(run_thresholds(scenario.parsed_thresholds), figures)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "scenario": {"name": scenario.name, "description": scenario.description,
                     "path": scenario.source, "settings": scenario.as_dict()},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_wall)),
        "elapsed_s": round(elapsed, 3),
        "passed": aborted is None and all(r.ok for r in results),
        "aborted": aborted,
        "environment": environment(),
        "figures": figures,
        "units": {name: m.unit for name, m in METRICS.items()},
        "accounting": {**_accounting(figures), "failed_by": _failed_by(log)},
        "thresholds": [r.as_dict() for r in results],
        "faults": {"windows": [{"kind": k, "start_s": round(a, 3), "end_s": round(b, 3)}
                               for k, a, b in record.windows],
                   "nodes_exited": crashed, "pids": pids,
                   "duplicated_ids": (log["dup"] or {}).get("ids")},
        "series": {},
        "events": [],
    }  # fmt: skip
    if report["passed"]:
        shutil.rmtree(workdir, ignore_errors=True)
    else:  # the nodes' and the generator's logs, the turn log: kept to look into
        report["faults"]["logs"] = str(workdir)
    return RunOutcome(redacted_report(report))
