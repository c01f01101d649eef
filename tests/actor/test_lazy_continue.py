"""``Continue(arg, lazy=True)``: ``handle_continue`` runs when the first message or
signal arrives, still ahead of it (issue 23 §1: a swarm's agents cost no load until
addressed); a stop that comes first ends the actor without it; supervision is unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from support.waiting import eventually

from agentrt.actor import Actor, Caller, Continue, Exit, Node
from supervisors import ChildSpec, DynamicSupervisor, Supervisor


class Sleeper(Actor):
    """Logs its continue, every message, exit and terminate into ``log``."""

    trap_exits = True

    async def init(self, log: list[Any], tag: str = "x") -> Any:
        self.log = log
        self.tag = tag
        log.append((tag, "init"))
        return Continue("load", lazy=True)

    async def handle_continue(self, arg: str) -> None:
        self.log.append((self.tag, arg))

    async def handle_cast(self, msg: Any) -> None:
        self.log.append((self.tag, msg))

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        self.log.append((self.tag, msg))
        return msg

    async def handle_info(self, msg: Any) -> None:
        if isinstance(msg, Exit):
            self.log.append((self.tag, "exit", msg.reason))
        else:
            self.log.append((self.tag, msg))

    async def terminate(self, reason: Any) -> None:
        self.log.append((self.tag, "terminate", reason))


async def test_a_lazy_continue_waits_for_the_first_message_and_runs_ahead_of_it(
    node: Node,
) -> None:
    log: list[Any] = []
    ref = await node.spawn(Sleeper, log)
    for _ in range(5):  # the loop runs: nothing is scheduled for the actor
        await asyncio.sleep(0)
    assert log == [("x", "init")]
    assert ref.stats().depth == 0
    await ref.cast("a")
    ref.send("b")
    assert await ref.call("c") == "c"
    assert log == [("x", "init"), ("x", "load"), ("x", "a"), ("x", "b"), ("x", "c")]


async def test_a_stop_before_any_message_terminates_without_the_continue(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Sleeper, log)
    await node.stop(ref, "shutdown")
    assert log == [("x", "init"), ("x", "terminate", "shutdown")]


async def test_an_exit_signal_from_another_actor_runs_the_continue_first(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Sleeper, log)
    other = await node.spawn(Sleeper, [], "other")
    node.exit(ref, "shutdown", sender=other)  # not its parent: an Exit message
    await eventually(lambda: len(log) == 3, what="the exit handled")
    assert log == [("x", "init"), ("x", "load"), ("x", "exit", "shutdown")]
    assert ref.alive


async def test_kill_ends_a_lazy_actor_without_the_continue(node: Node) -> None:
    log: list[Any] = []
    ref = await node.spawn(Sleeper, log)
    done = node.watch(ref)
    node.kill(ref)
    assert await done == "killed"
    for _ in range(5):
        await asyncio.sleep(0)
    assert log == [("x", "init")]


async def test_lazy_children_shut_down_in_reverse_order_without_loading(node: Node) -> None:
    log: list[Any] = []
    specs = [ChildSpec.worker(tag, Sleeper, log, tag, name=tag) for tag in ("a", "b", "c")]
    sup = await Supervisor.start(node, specs)
    b = node.whereis("b")
    assert b is not None
    await b.cast("hello")  # b loads; a and c never do
    await node.stop(sup, "shutdown")
    assert log == [
        ("a", "init"),
        ("b", "init"),
        ("c", "init"),
        ("b", "load"),
        ("b", "hello"),
        ("c", "terminate", "shutdown"),
        ("b", "terminate", "shutdown"),
        ("a", "terminate", "shutdown"),
    ]


async def test_a_killed_lazy_child_is_restarted_lazily(node: Node) -> None:
    log: list[Any] = []
    sup = await DynamicSupervisor.start(node)
    (first,) = await DynamicSupervisor.start_children(
        sup, [ChildSpec.worker("w", Sleeper, log, name="w")]
    )
    assert first is not None
    node.kill(first)

    async def restarted() -> Any:
        ref = node.whereis("w")
        return ref if ref is not None and ref != first else None

    second = await eventually(restarted, what="the restarted child")
    assert log == [("x", "init"), ("x", "init")]  # neither incarnation loaded
    assert await second.call("hi") == "hi"
    assert log[2:] == [("x", "load"), ("x", "hi")]
    assert (await DynamicSupervisor.stats(sup)).restarts == 1
