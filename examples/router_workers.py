"""A router agent dispatching questions to a pool of worker agents (fan-out / fan-in).

The router receives a ``Route`` request (a plain ``call``, handled by ``on_call``) with
a few questions and the deadline by which all answers are due. It asks its workers
concurrently with ``self.ask(..., deadline=...)``, round-robin, and gathers the
replies. The deadline travels unchanged to every worker's turn (and on to its LLM and
tool calls): one question needs a slow tool (2 s), so that worker's turn stops at the
router's deadline with ``TurnTimeout``, instead of at its own 60 s ``turn_timeout``,
while the other answers come back in time. Exits 1 if the timings show otherwise.
(The mock LLM calls a tool when a question holds ``[[tool:NAME {json args}]]``; the
router serves one ``Route`` at a time, like any actor handling a call.)

    python examples/router_workers.py [--workers 3] [--deadline 0.5]     # deadline < 2 s
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Any

import agentrt
from agentrt.actor import Caller


@agentrt.tool
async def research(topic: str) -> str:
    """Thorough research on a topic (slow: 2 s)."""
    await asyncio.sleep(2)
    return f"all about {topic}"


@dataclass(frozen=True)
class Route:
    questions: list[str]
    deadline: float  # loop.time() by which every answer is due


class Worker(agentrt.Agent):
    system_prompt = "You answer one question at a time."
    tools = (research,)


class Router(agentrt.Agent):
    async def setup(self, *, workers: list[str]) -> None:
        self.workers = workers

    async def on_call(self, msg: Any, caller: Caller) -> Any:
        if not isinstance(msg, Route):
            return await super().on_call(msg, caller)

        async def dispatch(i: int, question: str) -> tuple[str, str, str]:
            worker = self.workers[i % len(self.workers)]
            try:
                reply = await self.ask(worker, question, deadline=msg.deadline)
            except agentrt.TurnTimeout:
                return worker, question, "(TurnTimeout: missed the router's deadline)"
            return worker, question, reply.text

        return await asyncio.gather(*(dispatch(i, q) for i, q in enumerate(msg.questions)))


QUESTIONS = [
    "What is an actor?",
    "What does a supervisor do?",
    'Research OTP, please. [[tool:research {"topic": "OTP"}]]',
    "What is a mailbox?",
    "Why bound every queue?",
]


async def main(workers: int, deadline_s: float) -> int:
    loop = asyncio.get_running_loop()
    async with agentrt.Runtime() as rt:
        pool = await rt.spawn_swarm(Worker, workers, prefix="worker-")
        await rt.spawn(Router, id="router", workers=pool)
        started = loop.time()
        route = Route(QUESTIONS, deadline=started + deadline_s)
        answers = await rt.call("router", route, timeout=deadline_s + 1)
        took = loop.time() - started
    for worker, question, answer in answers:
        print(f"{worker:<9} {question.split(' [[')[0]:<28} -> {answer}")
    missed = [q for _, q, a in answers if "TurnTimeout" in a]
    print(
        f"{len(answers)} questions, {workers} workers, {len(missed)} missed the deadline; "
        f"fan-in after {took:.2f} s (deadline {deadline_s:g} s)"
    )
    # the worker stopped itself at the deadline: before the router's call margin (1 s)
    return 0 if QUESTIONS[2] in missed and deadline_s <= took < deadline_s + 0.9 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=0.5, help="seconds")
    args = parser.parse_args()
    raise SystemExit(agentrt.run(main(args.workers, args.deadline)))
