"""A supervised actor tree that survives injected crashes.

A root supervisor (one_for_one) holds a `Stats` actor and a dynamic supervisor of 200
`Worker` actors. Workers handle jobs; 5% of jobs make a worker crash. Each crash is
restarted by the dynamic supervisor. A crash also fails the calls queued behind it (as in
OTP); their callers retry once the worker is back. Every job is accounted for: answered,
or failed back to its caller, never lost.

    python examples/supervised_tree.py [--workers 200] [--jobs 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import time
from typing import Any

from agentrt.actor import Actor, ActorDead, Caller, Node, run
from supervisors import ChildSpec, DynamicSupervisor, Supervisor


class Stats(Actor):
    """Counts what the workers report."""

    async def init(self) -> None:
        self.done = 0

    async def handle_cast(self, msg: str) -> None:
        self.done += 1

    async def handle_call(self, msg: Any, caller: Caller) -> int:
        return self.done


class Worker(Actor):
    """Squares numbers; crashes on poisoned jobs."""

    async def init(self, wid: int) -> None:
        self.wid = wid

    async def handle_call(self, job: tuple[int, bool], caller: Caller) -> int:
        value, fail = job
        if fail:
            raise RuntimeError(f"worker {self.wid}: injected crash on job {value}")
        await asyncio.sleep(0)  # pretend to do I/O
        stats = self.node.whereis("stats")
        if stats is not None:
            stats.cast_nowait("done")
        return value * value


async def main(workers: int, jobs: int) -> int:
    logging.basicConfig(level=logging.CRITICAL)  # crashes are expected here
    rng = random.Random(7)
    async with Node() as node:
        root = await Supervisor.start(
            node,
            [
                ChildSpec.worker("stats", Stats, name="stats"),
                ChildSpec.dynamic_supervisor("pool", name="pool", max_restarts=10_000),
            ],
            strategy="one_for_one",
        )
        pool = node.whereis("pool")
        assert pool is not None
        for i in range(workers):
            spec = ChildSpec.worker(i, Worker, i, name=("worker", i))
            await DynamicSupervisor.start_child(pool, spec)

        answered = failed = retried = 0
        t0 = time.perf_counter()

        async def submit(n: int) -> None:
            nonlocal answered, failed, retried
            poison = rng.random() < 0.05
            attempt = 0
            while True:
                ref = node.whereis(("worker", n % workers))
                try:
                    if ref is None:  # being restarted right now
                        raise ActorDead(None)
                    # No call timeout: a worker answers every job or crashes, which fails
                    # the calls queued behind it; a deadline here would only measure
                    # how busy the machine is.
                    assert await ref.call((n, poison), timeout=None) == n * n
                    answered += 1
                    return
                except ActorDead:
                    if poison:  # this job is the crash: report it, do not retry
                        failed += 1
                        return
                    if not pool.alive:  # the pool gave up: its workers never come back
                        failed += 1
                        return
                    retried += attempt == 0  # queued behind a crash: retry once restarted
                    attempt += 1
                    await asyncio.sleep(0.001 * min(attempt, 10))

        await asyncio.gather(*(submit(n) for n in range(jobs)))
        elapsed = time.perf_counter() - t0
        stats = node.whereis("stats")
        assert stats is not None
        counted = await stats.call("count", timeout=None)
        children = await DynamicSupervisor.count_children(pool)
        node_stats = node.stats()
        print(f"jobs sent      {jobs}")
        print(f"answered       {answered}  (stats actor counted {counted})")
        print(f"failed         {failed}  (the injected crashes: callers got ActorDead)")
        print(f"retried        {retried}  (queued behind a crash, answered after restart)")
        print(f"lost           {jobs - answered - failed}")
        print(f"crashes        {node_stats.crashes}, workers alive {children.active}/{workers}")
        print(f"throughput     {jobs / elapsed:,.0f} jobs/s")
        await Supervisor.which_children(root)
        ok = answered + failed == jobs and children.active == workers
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=5000)
    args = parser.parse_args()
    raise SystemExit(run(main(args.workers, args.jobs)))
