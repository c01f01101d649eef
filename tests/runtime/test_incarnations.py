"""One incarnation per agent id, whatever the interleaving of crashes and restarts
(issue 13, section 1: a restart storm of ``NameTaken`` failures after a store outage).

A hypothesis property test drives a real runtime through random sequences of asks,
crashes during a turn, kills, failing inits (a restart or an activation that fails, as
during a store outage), passivations, bursts of concurrent asks while an agent restarts,
and pauses that let backoff timers fire. Invariants: no agent ever starts while another
incarnation of its id is alive; no restart fails with ``NameTaken``; no supervisor gives
up; and once the faults stop, every agent answers.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.agents import fast_config

from agentrt.actor import ActorRef, NameTaken
from agentrt.agent import Agent, Reply, Turn
from agentrt.errors import AgentRTError
from agentrt.runtime import AgentsConfig, Runtime
from supervisors import RestartBackoff

IDS = ("a0", "a1")


class Plan:
    """State shared by every incarnation (spawn options are shared)."""

    def __init__(self) -> None:
        self.fail_init: Counter[str] = Counter()
        self.live: dict[ActorRef, str] = {}
        self.violations: list[str] = []

    def others(self, agent_id: str, ref: ActorRef) -> list[ActorRef]:
        return [r for r, i in self.live.items() if i == agent_id and r != ref and r.alive]


class Incarnated(Agent):
    async def setup(self, *, plan: Plan) -> None:
        if plan.fail_init[self.id] > 0:
            plan.fail_init[self.id] -= 1
            raise RuntimeError(f"init of {self.id} fails (a store outage)")
        others = plan.others(self.id, self.ref)
        if others:
            plan.violations.append(f"{self.id}: {self.ref!r} started while {others!r} live")
        plan.live[self.ref] = self.id

    async def respond(self, turn: Turn) -> Reply:
        if turn.text == "crash":
            raise RuntimeError("crash during a turn")
        return await super().respond(turn)


OPS = st.one_of(
    st.tuples(st.just("ask"), st.sampled_from(IDS)),
    st.tuples(st.just("crash_turn"), st.sampled_from(IDS)),
    st.tuples(st.just("kill"), st.sampled_from(IDS)),
    st.tuples(st.just("fail_inits"), st.sampled_from(IDS), st.integers(1, 4)),
    st.tuples(st.just("passivate"), st.sampled_from(IDS)),
    st.tuples(st.just("burst"), st.sampled_from(IDS)),
    st.tuples(st.just("sleep"), st.integers(0, 30)),
)


async def ask_quietly(rt: Runtime, agent_id: str, text: str) -> Any:
    try:
        return await rt.ask(agent_id, text, timeout=5.0)
    except (AgentRTError, RuntimeError) as exc:  # crashed, or its (re)activation failed
        return exc


async def apply(rt: Runtime, plan: Plan, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "ask":
        await ask_quietly(rt, op[1], "hello")
    elif kind == "crash_turn":
        await ask_quietly(rt, op[1], "crash")
    elif kind == "kill":
        await rt.inject_crash(op[1])
    elif kind == "fail_inits":
        plan.fail_init[op[1]] += op[2]
    elif kind == "passivate":
        try:
            await rt.passivate(op[1], force=True)
        except AgentRTError:
            pass
    elif kind == "burst":  # concurrent asks while the agent is killed and restarts
        asks = [asyncio.ensure_future(ask_quietly(rt, op[1], f"q{i}")) for i in range(4)]
        await asyncio.sleep(0)
        await rt.inject_crash(op[1])
        await asyncio.gather(*asks)
    else:
        await asyncio.sleep(op[1] / 1000)


async def scenario(ops: list[tuple[Any, ...]]) -> None:
    plan = Plan()
    config = fast_config(
        idle_timeout_s=None,
        restart_grace_s=0.005,  # the runtime reactivates while a restart is still pending
        restart_backoff=RestartBackoff(min_s=0.001, max_s=0.03, jitter=0.5, reset_after_s=1.0),
    )
    name_taken: list[Any] = []

    def on_start_error(_: Any, __: Mapping[str, float], meta: Mapping[str, Any], ___: Any) -> None:
        if isinstance(meta["reason"], NameTaken):
            name_taken.append(meta["child_id"])

    async with Runtime(config) as rt:
        rt.telemetry.events.attach("t", ("agentrt", "supervisor", "start_error"), on_start_error)
        for agent_id in IDS:
            await rt.spawn(Incarnated, id=agent_id, plan=plan)
        for op in ops:
            await apply(rt, plan, op)
        plan.fail_init.clear()
        for agent_id in IDS:  # faults over: each agent answers (bounded retries)
            for _ in range(200):
                if isinstance(await ask_quietly(rt, agent_id, "still there?"), Reply):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError(f"{agent_id} never answered again")
            live = [r for r, i in plan.live.items() if i == agent_id and r.alive]
            assert len(live) == 1, live
        assert plan.violations == []
        assert name_taken == []
        stats = rt.supervision.stats()
        assert stats.shutdowns == 0, stats
        assert "reached_max_restart_intensity" not in stats.reports


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=1, max_size=25))
def test_no_two_incarnations_under_any_interleaving(ops: list[tuple[Any, ...]]) -> None:
    asyncio.run(scenario(ops))


def test_a_stale_restart_after_reactivation_is_ignored() -> None:
    """The storm of issue 13, deterministically: a restart fails (outage) and waits; the
    runtime reactivates the agent for a message; the pending restart must then start
    nothing (no NameTaken retries), and the supervisor stays up."""
    ops: list[tuple[Any, ...]] = [
        ("fail_inits", "a0", 1),
        ("kill", "a0"),
        ("sleep", 5),
        ("ask", "a0"),
        ("sleep", 30),
        ("ask", "a0"),
    ]
    asyncio.run(scenario(ops))


def test_agents_config_refuses_a_bad_backoff() -> None:
    import pytest

    from agentrt.errors import ConfigError

    with pytest.raises(ConfigError, match="restart_backoff"):
        AgentsConfig(restart_backoff=0.5)  # type: ignore[arg-type]


async def test_a_supervisor_giving_up_is_counted_and_emitted() -> None:
    """What the load runs' built-in ``supervisor_shutdowns == 0`` threshold reads."""
    config = fast_config(idle_timeout_s=None, max_restarts=0, restart_backoff=None)
    events: list[tuple[str, Any]] = []

    def on_event(name: Any, _: Any, meta: Mapping[str, Any], __: Any) -> None:
        events.append((name[-1], meta["child_id"]))

    async with Runtime(config) as rt:
        for kind in ("child_terminated", "reached_max_restart_intensity"):
            rt.telemetry.events.attach(kind, ("agentrt", "supervisor", kind), on_event)
        plan = Plan()
        await rt.spawn(Incarnated, id="a0", plan=plan)
        assert rt.supervision.stats().shutdowns == 0
        await rt.inject_crash("a0")
        for _ in range(2000):
            if rt.supervision.stats().shutdowns >= 2:
                break
            await asyncio.sleep(0.001)
        stats = rt.supervision.stats()
        # the agents' supervisor gave up (1), and the root saw the agents' tree go down (1)
        assert stats.shutdowns == 2, stats
        assert stats.reports["reached_max_restart_intensity"] == 1
        assert ("reached_max_restart_intensity", "a0") in events
        assert ("child_terminated", "agents") in events
