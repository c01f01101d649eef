"""The load generator of a ``[cluster]`` run: a client node in its own process.

``python -m agentrt.loadtest._cluster_load PLAN.json LOG.jsonl`` joins the cluster the plan
names as a client node (``ClusterConfig(placeable=False)``: it hosts no agent), prints
``start <unix time>`` once it sees the cluster's nodes, then runs one user per agent:
each turn's text is a fresh message id, asked with ``turn_timeout``; after a reply the user
thinks (the scenario's ``[think_time]``) and asks again, until its ``turns`` or the
run's ``duration`` are done. Every turn is written to ``LOG.jsonl`` as it happens (one
flushed line each), so that the runner can count what was accepted even if this process
dies: ``{"e": "s", "m": id, "t": time}`` when sent, then ``{"e": "a", ...}`` (answered)
or ``{"e": "f", ..., "err": type}`` (failed). At the end it reads each agent's stored
conversation (the per-conversation message-id log: the mock LLM's answer echoes the turn's
text, its id) and writes ``{"e": "dup", "n": N, "ids": [...], "restarted": R}``: how
many times message ids were answered more than once there (turns run twice to
completion), the first 50 such ids, and how many user messages were stored more than
once (0 expected: a turn started again after its node died stores its user message once
per message id, ``Conversation.append_user``);
``{"e": "dup_error", "err": ...}`` when a conversation could not be read or no answer
names its id. SIGTERM stops the users at once (turns in flight then fail with
``Interrupted``).

Exit code 0 after a run; 1 when the cluster could not be joined; 3 when the client node
did not close within 10 s (the log is complete by then).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import IO, Any

from agentrt.loadtest._conversation import think_seconds
from agentrt.loadtest._sections import ThinkTime

__all__ = ["main"]

_CLOSE_S = 10.0  # longest wait for the client node to close once the users are done


class _Log:
    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, **fields: Any) -> None:
        fields["t"] = time.time()
        self.out.write(json.dumps(fields) + "\n")
        self.out.flush()


async def _user(rt: Any, plan: dict[str, Any], i: int, log: _Log, stop: asyncio.Event) -> None:
    agent = f"{plan['agent_prefix']}{plan['tag']}-{i}"
    rng = random.Random(plan["seed"] * 1_000_003 + i)
    think = ThinkTime(**plan["think_time"])
    deadline = time.monotonic() + (plan["duration"] or 1e12)
    turn = 0
    while not stop.is_set() and turn < (plan["turns"] or 1 << 62) and time.monotonic() < deadline:
        message = f"m-{i}-{turn}-{uuid.uuid4().hex[:8]}"
        log.write(e="s", m=message, a=agent)
        try:
            ask = asyncio.ensure_future(rt.ask(agent, message, timeout=plan["turn_timeout"]))
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait((ask, halt), return_when=asyncio.FIRST_COMPLETED)
            halt.cancel()
            if not ask.done():
                ask.cancel()
                log.write(e="f", m=message, err="Interrupted")
                return
            ask.result()
        except Exception as exc:  # every error its caller sees is a failed turn
            log.write(e="f", m=message, err=type(exc).__name__)
        else:
            log.write(e="a", m=message)
        turn += 1
        await asyncio.sleep(think_seconds(think, rng))


_ID = re.compile(r"\bm-\d+-\d+-[0-9a-f]{8}\b")


async def _duplicates(rt: Any, plan: dict[str, Any], log: _Log) -> None:
    seen: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    try:
        for i in range(plan["agents"]):
            agent = f"{plan['agent_prefix']}{plan['tag']}-{i}"
            for message in await rt.history(agent, timeout=plan["turn_timeout"]):
                found = _ID.search(message.text)
                if found is not None and message.role in ("user", "assistant"):
                    (seen if message.role == "assistant" else asked)[found.group()] += 1
    except Exception as exc:
        log.write(e="dup_error", err=f"{type(exc).__name__}: {exc}")
        return
    if not seen:
        log.write(e="dup_error", err="no stored answer names its message id (echo agents only)")
        return
    twice = sorted(m for m, n in seen.items() if n > 1)
    restarted = sum(n - 1 for n in asked.values() if n > 1)
    log.write(e="dup", n=sum(seen[m] - 1 for m in twice), ids=twice[:50], restarted=restarted)


async def _run(plan: dict[str, Any], log: _Log) -> int:
    from agentrt import Runtime, RuntimeConfig
    from agentrt.cluster import ClusterConfig
    from agentrt.runtime._config import StoreConfig

    cluster = ClusterConfig(
        name=plan["name"], redis_url=plan["redis_url"], prefix=plan["prefix"],
        node_id=f"loadgen-{plan['tag']}", placeable=False, ttl_ms=2_000, renew_ms=200,
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=plan["redis_url"], prefix=plan["store_prefix"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    rt = Runtime(RuntimeConfig(store=store), cluster=cluster)
    await rt.start()
    try:
        membership = rt.directory.cluster.membership  # type: ignore[attr-defined]
        await membership.wait_for(plan["nodes"] + 1, timeout=plan["join_timeout"])
        print(f"start {time.time()}", flush=True)
        users = [_user(rt, plan, i, log, stop) for i in range(plan["agents"])]
        await asyncio.gather(*users)
        if not stop.is_set():
            await _duplicates(rt, plan, log)
    finally:
        try:
            async with asyncio.timeout(_CLOSE_S):
                await rt.aclose()
        except TimeoutError:  # every turn is logged already: do not wait on a stuck close
            print(f"load generator: the runtime did not close in {_CLOSE_S:g} s", file=sys.stderr)
            sys.stderr.flush()
            os._exit(3)
    return 0


def main(argv: list[str]) -> int:
    """Run the plan ``argv[0]`` (JSON), logging turns to ``argv[1]`` (module docs)."""
    plan = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    with open(argv[1], "a", encoding="utf-8") as out:
        try:
            return asyncio.run(_run(plan, _Log(out)))
        except Exception as exc:
            print(f"load generator: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
