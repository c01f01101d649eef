"""A router agent dispatching questions to a pool of worker agents (fan-out / fan-in).

A user asks the router one turn holding several questions, with a deadline
(``rt.ask(..., timeout=...)``). The router answers it with its own code: it overrides
``respond`` and asks its workers concurrently with ``self.ask``, round-robin, giving them
its turn's deadline less ``--fan-in-ms`` (100 ms) to fan in. The deadline travels to
every worker's turn (and on to its LLM and tool calls): one question needs a slow tool
(2 s), so that worker's turn stops at the deadline with ``TurnTimeout`` instead of at its
own 60 s ``turn_timeout``, while the other answers come back in time. Exits 1 if the
timings show otherwise. (The mock LLM calls a tool when a question holds
``[[tool:NAME {json args}]]``.)

    python examples/router_workers.py [--workers 3] [--deadline 0.5] [--fan-in-ms 100]
    # deadline < 2 s; on a busy machine give the answers more room: --deadline 1.8
    # --fan-in-ms 600 (the tests do)
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import agentrt
from agentrt.actor import Caller
from agentrt.agent import Turn


@agentrt.tool
async def research(topic: str) -> str:
    """Thorough research on a topic (slow: 2 s)."""
    await asyncio.sleep(2)
    return f"all about {topic}"


class Worker(agentrt.Agent):
    system_prompt = "You answer one question at a time."
    tools = (research,)


class Router(agentrt.Agent):
    async def setup(self, *, workers: list[str], fan_in_s: float = 0.1) -> None:
        self.workers = workers
        self.fan_in_s = fan_in_s
        self.answers: list[tuple[str, str, str]] = []

    async def respond(self, turn: Turn) -> agentrt.Reply:
        async def dispatch(i: int, question: str) -> tuple[str, str, str]:
            worker = self.workers[i % len(self.workers)]
            try:
                # keep fan_in_s of this turn's deadline to fan in
                reply = await self.ask(worker, question, deadline=fan_in)
            except agentrt.TurnTimeout:
                return worker, question, "(TurnTimeout: missed the router's deadline)"
            return worker, question, reply.text

        fan_in = (self.deadline or 0.0) - self.fan_in_s
        questions = turn.text.split("\n")
        self.answers = list(
            await asyncio.gather(*(dispatch(i, q) for i, q in enumerate(questions)))
        )
        return self.make_reply(turn, "\n".join(answer for _, _, answer in self.answers))

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if msg == "answers":
            return self.answers
        return await super().handle_call(msg, caller)


TIMER_SLACK = 0.005  # s: uvloop fires a timer up to ~1 ms before its time

QUESTIONS = [
    "What is an actor?",
    "What does a supervisor do?",
    'Research OTP, please. [[tool:research {"topic": "OTP"}]]',
    "What is a mailbox?",
    "Why bound every queue?",
]


async def main(workers: int, deadline_s: float, fan_in_s: float) -> int:
    loop = asyncio.get_running_loop()
    async with agentrt.Runtime() as rt:
        pool = await rt.spawn_swarm(Worker, workers, prefix="worker-")
        await rt.spawn(Router, id="router", workers=pool, fan_in_s=fan_in_s)
        started = loop.time()
        await rt.ask("router", "\n".join(QUESTIONS), timeout=deadline_s)
        took = loop.time() - started
        answers = await rt.call("router", "answers")
    for worker, question, answer in answers:
        print(f"{worker:<9} {question.split(' [[')[0]:<28} -> {answer}")
    missed = [q for _, q, a in answers if "TurnTimeout" in a]
    print(
        f"{len(answers)} questions, {workers} workers, {len(missed)} missed the deadline; "
        f"fan-in after {took:.2f} s (deadline {deadline_s:g} s)"
    )
    # the slow worker stopped at the router's fan-in deadline, and the router answered;
    # a timer may fire up to TIMER_SLACK early (uvloop rounds its timers to whole ms)
    fanned_in = deadline_s - fan_in_s - TIMER_SLACK
    return 0 if QUESTIONS[2] in missed and fanned_in <= took < deadline_s else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=0.5, help="seconds")
    parser.add_argument(
        "--fan-in-ms", type=float, default=100.0, help="ms of the deadline kept to fan in"
    )
    args = parser.parse_args()
    raise SystemExit(agentrt.run(main(args.workers, args.deadline, args.fan_in_ms / 1000)))
