"""A supervised swarm that survives crashes injected in the middle of turns.

``--agents`` agents each hold a conversation of ``--turns`` turns with a simulated user,
against the mock LLM at 50 ms latency. Meanwhile ``--crashes`` agents are killed while a
turn is in progress (``rt.inject_crash``): that turn's caller gets ``AgentCrashed``, the
agents' supervisor restarts the agent from its stored conversation, and the user carries
on with the next turn. At the end, one crashed agent is asked (through a plain ``call``
handled by ``handle_call``) for its history: its first message is still there. The turn
accounting (``rt.turn_stats()``) shows that every turn was answered or failed back to
its caller: lost == 0. Exits 1 if any of this does not hold.

    python examples/swarm_crashes.py [--agents 300] [--turns 4] [--crashes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
from typing import Any

import agentrt
from agentrt.actor import Caller
from agentrt.llm import PoolConfig, ProviderConfig


class Assistant(agentrt.Agent):
    system_prompt = "You are a patient assistant."

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if msg == "history":  # what this incarnation remembers
            return [m.content for m in await self.conversation.history()]
        return await super().handle_call(msg, caller)


async def main(agents: int, turns: int, crashes: int) -> int:
    logging.basicConfig(level=logging.CRITICAL)  # the crash reports are expected here
    mock = ProviderConfig(name="mock", kind="mock", mock_latency_ms=50, max_concurrency=1024)
    config = agentrt.RuntimeConfig(llm=PoolConfig(providers=(mock,)))
    rng = random.Random(7)
    loop = asyncio.get_running_loop()
    busy: dict[str, float] = {}  # agent -> when its turn began (turns after the first)
    killed: list[str] = []
    crashed_turns = 0

    async with agentrt.Runtime(config) as rt:
        ids = await rt.spawn_swarm(Assistant, agents)

        async def user(agent_id: str) -> None:
            nonlocal crashed_turns
            await rt.ask(agent_id, f"Hi, I am the user of {agent_id}.", timeout=10)
            for i in range(1, turns):
                busy[agent_id] = loop.time()
                try:
                    await rt.ask(agent_id, f"Question {i}, please.", timeout=10)
                except agentrt.AgentCrashed:
                    crashed_turns += 1
                finally:
                    del busy[agent_id]
                await asyncio.sleep(rng.random() * 0.05)

        users = asyncio.gather(*(user(i) for i in ids))
        while len(killed) < crashes and not users.done():  # chaos, every 10 ms
            await asyncio.wait([users], timeout=0.01)
            started = loop.time() - 0.01  # in the turn for 10 ms: waiting for the LLM
            victims = sorted(a for a, t in busy.items() if t < started and a not in killed)
            if victims and await rt.inject_crash(victim := rng.choice(victims)):
                killed.append(victim)
        await users
        for _ in range(100):  # restarts are asynchronous: give the last one a moment
            if (live := rt.stats()["agents"]["live"]) == agents:
                break
            await asyncio.sleep(0.02)
        witness = killed[0] if killed else ids[0]
        history = await rt.call(witness, "history")
        stats = rt.turn_stats()

    remembered = f"Hi, I am the user of {witness}." in history
    print(f"agents           {agents} x {turns} turns, {live} alive at the end")
    print(f"crashes injected {len(killed)} (mid-turn); callers got AgentCrashed {crashed_turns}x")
    print(
        f"turns            {stats.accepted} accepted, {stats.answered} answered, "
        f"{stats.failed} failed {stats.failures}"
    )
    print(
        f"memory           {witness} crashed, restarted, still remembers its first "
        f"message: {remembered} ({len(history)} messages)"
    )
    print(f"lost             {stats.lost} (in flight {stats.in_flight})")
    ok = (
        stats.lost == stats.in_flight == 0
        and live == agents
        and remembered
        and 0 < crashed_turns <= len(killed)
        and stats.failed == crashed_turns
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--crashes", type=int, default=20)
    args = parser.parse_args()
    raise SystemExit(agentrt.run(main(args.agents, args.turns, args.crashes)))
