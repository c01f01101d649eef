"""A steady turn load for cluster tests: workers asking agents in turn, each turn's text
a unique id, so an agent's conversation is the log of the turns it took."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import redis.asyncio as aioredis

from agentrt import Runtime
from agentrt.cluster import ClusterNode

__all__ = ["TurnLoad", "cluster_of", "logs_once", "owners"]


class TurnLoad:
    """Workers asking the agents in turn from the given runtimes until stopped; each turn's
    text is a unique id. Counts answers and failures (with their errors)."""

    def __init__(self, callers: list[Runtime], ids: list[str], workers: int = 6) -> None:
        self.callers, self.ids = callers, ids
        self.answered = 0
        self.failed: list[BaseException] = []
        self.sent: dict[str, list[str]] = {i: [] for i in ids}
        self._n = itertools.count()
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self._work(w)) for w in range(workers)]

    async def _work(self, w: int) -> None:
        while not self._stop.is_set():
            n = next(self._n)
            agent_id = self.ids[n % len(self.ids)]
            rt = self.callers[(n + w) % len(self.callers)]
            text = f"m{n}"
            self.sent[agent_id].append(text)
            try:
                reply = await rt.ask(agent_id, text, timeout=20)
            except Exception as exc:
                self.failed.append(exc)
            else:
                assert reply.text == f"echo: {text}"
                self.answered += 1

    async def stop(self) -> None:
        self._stop.set()
        async with asyncio.timeout(60):
            await asyncio.gather(*self._tasks)


async def logs_once(rt: Runtime, load: TurnLoad) -> None:
    """Every turn answered is in its agent's conversation exactly once."""
    for agent_id, texts in load.sent.items():
        stored = [m.text for m in await rt.history(agent_id, timeout=20) if m.role == "user"]
        assert sorted(stored) == sorted(texts), agent_id


def cluster_of(rt: Runtime) -> ClusterNode:
    """The cluster node of a runtime in cluster mode."""
    return rt.directory.cluster  # type: ignore[attr-defined, no-any-return]


async def owners(client: aioredis.Redis, prefix: str, ids: list[str]) -> Counter[str]:
    """How many of ``ids`` each node owns, read from the directory of cluster ``t``
    under ``prefix`` (``""``: not placed)."""
    out: Counter[str] = Counter()
    for agent_id in ids:
        raw = await client.hget(f"{prefix}cl:t:{{agent:{agent_id}}}:dir", "o")
        out[raw.decode() if raw else ""] += 1
    return out
