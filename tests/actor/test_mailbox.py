"""Bounded mailboxes: every overflow policy, the system lane, and properties under
hypothesis (order, bounds, no loss except the counted drops)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.waiting import eventually

from agentrt.actor import Actor, Caller, MailboxConfig, MailboxFull, Node, NodeConfig
from agentrt.errors import ConfigError


class Gate(Actor):
    """Blocks on a gate while handling its first message, so the mailbox fills up."""

    async def init(self, gate: asyncio.Event, seen: list[Any]) -> None:
        self.gate = gate
        self.seen = seen

    async def handle_cast(self, msg: Any) -> None:
        await self.gate.wait()
        self.seen.append(msg)

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        await self.gate.wait()
        self.seen.append(msg)
        return msg


async def _blocked(node: Node, cfg: MailboxConfig) -> tuple[Any, asyncio.Event, list[Any]]:
    gate = asyncio.Event()
    seen: list[Any] = []
    ref = await node.spawn(Gate, gate, seen, mailbox=cfg)
    ref.cast_nowait("first")  # taken out of the mailbox, handler blocks on the gate
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return ref, gate, seen


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match=r"mailbox\.capacity"):
        MailboxConfig(capacity=0)
    with pytest.raises(ConfigError, match=r"mailbox\.overflow"):
        MailboxConfig(overflow="explode")  # type: ignore[arg-type]


async def test_reject_policy(node: Node) -> None:
    ref, gate, seen = await _blocked(node, MailboxConfig(capacity=2, overflow="reject"))
    ref.cast_nowait(1)
    await ref.cast(2)
    with pytest.raises(MailboxFull):
        ref.cast_nowait(3)
    with pytest.raises(MailboxFull):
        await ref.cast(3)
    with pytest.raises(MailboxFull):
        await ref.call(3)
    stats = ref.stats()
    assert stats.depth == 2
    assert stats.max_depth == 2
    assert stats.dropped == 0
    gate.set()
    while ref.stats().depth:
        await asyncio.sleep(0)
    await ref.call("end")
    assert seen == ["first", 1, 2, "end"]


async def test_wait_policy_applies_backpressure_in_order(node: Node) -> None:
    ref, gate, seen = await _blocked(node, MailboxConfig(capacity=2, overflow="wait"))
    await ref.cast(1)
    await ref.cast(2)
    blocked = [asyncio.ensure_future(ref.cast(i)) for i in (3, 4, 5)]
    await asyncio.sleep(0.01)
    assert not any(t.done() for t in blocked)
    with pytest.raises(MailboxFull):
        ref.cast_nowait("nowait")  # cannot wait
    assert ref.stats().depth == 2
    gate.set()
    await asyncio.gather(*blocked)
    await ref.call("end")
    assert seen == ["first", 1, 2, 3, 4, 5, "end"]
    assert ref.stats().max_depth == 2


async def test_wait_policy_call_times_out_while_waiting_for_space(node: Node) -> None:
    ref, gate, seen = await _blocked(node, MailboxConfig(capacity=1, overflow="wait"))
    await ref.cast(1)
    from agentrt.actor import CallTimeout

    with pytest.raises(CallTimeout):
        await ref.call("late", timeout=0.05)
    gate.set()
    await ref.call("end")
    assert "late" not in seen  # a call that gave up before admission is never handled


async def test_drop_newest(node: Node) -> None:
    ref, gate, seen = await _blocked(node, MailboxConfig(capacity=2, overflow="drop_newest"))
    for i in range(5):
        ref.cast_nowait(i)
    with pytest.raises(MailboxFull):
        await ref.call("rejected call")
    assert ref.stats().dropped == 4  # casts 2, 3, 4 and the call
    gate.set()
    await eventually(lambda: ref.stats().depth == 0, what="room in the mailbox")
    await ref.call("end")  # handled after everything queued before it
    assert seen == ["first", 0, 1, "end"]


async def test_drop_oldest_fails_a_dropped_call(node: Node) -> None:
    ref, gate, seen = await _blocked(node, MailboxConfig(capacity=2, overflow="drop_oldest"))
    dropped_call = asyncio.ensure_future(ref.call("old call"))
    await asyncio.sleep(0)
    for i in range(3):
        ref.cast_nowait(i)
    with pytest.raises(MailboxFull):
        await dropped_call
    assert ref.stats().dropped == 2
    gate.set()
    await eventually(lambda: ref.stats().depth == 0, what="room in the mailbox")
    await ref.call("end")  # handled after everything queued before it
    assert seen == ["first", 1, 2, "end"]


async def test_system_lane_ignores_capacity(node: Node) -> None:
    ref, gate, _seen = await _blocked(node, MailboxConfig(capacity=1, overflow="reject"))
    ref.cast_nowait(1)
    timer = node.send_after(ref, "tick", 0)  # system lane: not lost to a full mailbox
    await eventually(lambda: not timer.active, what="the timer fired")
    stop = asyncio.ensure_future(node.stop(ref))  # stop requests bypass the bound too
    await asyncio.sleep(0)
    gate.set()
    await stop
    assert not ref.alive


class Collector(Actor):
    async def init(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.seen: list[int] = []

    async def handle_cast(self, msg: int) -> None:
        await self.gate.wait()
        self.seen.append(msg)

    async def handle_call(self, msg: Any, caller: Caller) -> list[int]:
        return self.seen


@given(
    capacity=st.integers(1, 8),
    policy=st.sampled_from(["wait", "reject", "drop_oldest", "drop_newest"]),
    sends=st.lists(st.booleans(), min_size=1, max_size=40),
)
def test_mailbox_properties(capacity: int, policy: str, sends: list[bool]) -> None:
    """Whatever the interleaving of sends and handler progress: messages are handled in
    send order; the depth never exceeds the capacity; nothing is lost except under the
    drop policies, whose drops are exactly counted; rejected sends raise."""

    async def scenario() -> None:
        async with Node(NodeConfig(watchdog=False)) as node:
            gate = asyncio.Event()
            cfg = MailboxConfig(capacity=capacity, overflow=policy)  # type: ignore[arg-type]
            ref = await node.spawn(Collector, gate, mailbox=cfg)
            accepted: list[int] = []
            waiting: list[asyncio.Future[None]] = []
            for i, release in enumerate(sends):
                if release:  # let the actor make progress for one step
                    gate.set()
                    await asyncio.sleep(0)
                    gate.clear()
                if policy == "wait":
                    waiting.append(asyncio.ensure_future(ref.cast(i)))
                    accepted.append(i)
                    await asyncio.sleep(0)
                else:
                    try:
                        ref.cast_nowait(i)
                        accepted.append(i)
                    except MailboxFull:
                        assert policy == "reject"
                assert ref.stats().depth <= capacity
            gate.set()
            await asyncio.gather(*waiting)
            while ref.stats().depth:
                await asyncio.sleep(0)
            seen = await ref.call("seen")
            dropped = ref.stats().dropped
            assert seen == sorted(seen)  # order kept
            if policy in ("wait", "reject"):
                assert seen == accepted
                assert dropped == 0
            else:
                assert len(seen) + dropped == len(accepted)
                assert set(seen) <= set(accepted)

    asyncio.run(scenario())
