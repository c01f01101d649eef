"""The fair, bounded, prioritized wait queue in front of each provider."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentrt.llm import DeadlineExceeded, Overloaded, Priority
from agentrt.llm._queue import FairQueue


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _holder(queue: FairQueue, agent: str, log: list[str], gate: asyncio.Event) -> None:
    await queue.acquire(agent, Priority.NORMAL, None)
    log.append(agent)
    await gate.wait()
    queue.release()


async def test_fast_path_and_limit() -> None:
    queue = FairQueue("p", limit=2, max_waiting=10)
    assert queue.try_acquire()
    await queue.acquire("a", Priority.NORMAL, None)
    assert not queue.try_acquire()
    assert queue.stats()["active"] == 2
    queue.release()
    queue.release()
    assert queue.stats()["active"] == 0


async def test_round_robin_across_agents_not_fifo() -> None:
    """A flooding agent queued first cannot starve a quiet agent queued later."""
    queue = FairQueue("p", limit=1, max_waiting=100)
    await queue.acquire("blocker", Priority.NORMAL, None)
    order: list[str] = []
    gate = asyncio.Event()
    gate.set()
    tasks = [asyncio.create_task(_holder(queue, "flood", order, gate)) for _ in range(10)]
    await _settle()
    tasks.append(asyncio.create_task(_holder(queue, "quiet", order, gate)))
    await _settle()
    queue.release()
    await asyncio.gather(*tasks)
    assert order.index("quiet") == 1  # served right after the flood's first request
    assert queue.stats()["active"] == 0


async def test_higher_priority_served_first() -> None:
    queue = FairQueue("p", limit=1, max_waiting=100)
    await queue.acquire(None, Priority.NORMAL, None)
    order: list[Priority] = []

    async def waiter(priority: Priority) -> None:
        await queue.acquire("x", priority, None)
        order.append(priority)
        queue.release()

    tasks = [asyncio.create_task(waiter(p)) for p in (Priority.BACKGROUND, Priority.NORMAL)]
    await _settle()
    tasks.append(asyncio.create_task(waiter(Priority.INTERACTIVE)))
    await _settle()
    queue.release()
    await asyncio.gather(*tasks)
    assert order == [Priority.INTERACTIVE, Priority.NORMAL, Priority.BACKGROUND]


async def test_full_queue_without_deadline_is_overloaded_at_once() -> None:
    queue = FairQueue("p", limit=1, max_waiting=1)
    await queue.acquire(None, Priority.NORMAL, None)
    waiting = asyncio.create_task(queue.acquire("a", Priority.NORMAL, None))
    await _settle()
    with pytest.raises(Overloaded, match="'p' overloaded: wait queue full"):
        await queue.acquire("b", Priority.NORMAL, None)
    assert queue.stats()["overloaded"] == 1
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)


async def test_full_queue_waits_for_a_place_until_the_deadline() -> None:
    queue = FairQueue("p", limit=1, max_waiting=1)
    await queue.acquire(None, Priority.NORMAL, None)
    first = asyncio.create_task(queue.acquire("a", Priority.NORMAL, None))
    await _settle()
    loop = asyncio.get_running_loop()
    with pytest.raises(Overloaded):
        await queue.acquire("b", Priority.NORMAL, loop.time() + 0.02)
    # a caller waiting for a place gets in when one frees up
    late = asyncio.create_task(queue.acquire("c", Priority.NORMAL, loop.time() + 30))
    await _settle()
    assert queue.stats()["waiting_for_place"] == 1
    queue.release()  # "a" takes the slot, "c" takes a's place in the queue
    await first
    await _settle()
    assert queue.waiting == 1
    queue.release()
    await late
    queue.release()
    assert queue.stats()["active"] == 0


async def test_deadline_while_waiting_raises_deadline_exceeded() -> None:
    queue = FairQueue("p", limit=1, max_waiting=5)
    await queue.acquire(None, Priority.NORMAL, None)
    loop = asyncio.get_running_loop()
    with pytest.raises(DeadlineExceeded) as info:
        await queue.acquire("a", Priority.NORMAL, loop.time() + 0.01)
    assert isinstance(info.value, TimeoutError)
    assert queue.waiting == 0
    with pytest.raises(DeadlineExceeded):
        await queue.acquire("a", Priority.NORMAL, loop.time() - 1)  # already past
    assert queue.stats()["expired"] == 2


async def test_cancelled_waiter_frees_its_place_at_once() -> None:
    queue = FairQueue("p", limit=1, max_waiting=1)
    await queue.acquire(None, Priority.NORMAL, None)
    waiter = asyncio.create_task(queue.acquire("a", Priority.NORMAL, None))
    await _settle()
    assert queue.waiting == 1
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert queue.waiting == 0
    assert queue.stats()["waiting_agents"] == 0
    queue.release()
    assert queue.active == 0


async def test_slot_granted_to_a_cancelled_waiter_passes_on() -> None:
    queue = FairQueue("p", limit=1, max_waiting=5)
    await queue.acquire(None, Priority.NORMAL, None)
    doomed = asyncio.create_task(queue.acquire("a", Priority.NORMAL, None))
    nxt = asyncio.create_task(queue.acquire("b", Priority.NORMAL, None))
    await _settle()
    queue.release()  # grants the slot to "a"...
    doomed.cancel()  # ...which is cancelled before it runs
    await asyncio.gather(doomed, return_exceptions=True)
    await nxt  # "b" got the slot instead
    assert queue.active == 1
    queue.release()
    assert queue.active == 0


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(list(Priority))),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=1, max_value=4),
)
def test_every_waiter_is_served_and_slots_balance(
    requests: list[tuple[str, Priority]], limit: int
) -> None:
    async def scenario() -> None:
        queue = FairQueue("p", limit=limit, max_waiting=len(requests))
        served: list[str] = []
        peak = 0

        async def user(agent: str, priority: Priority) -> None:
            nonlocal peak
            await queue.acquire(agent, priority, None)
            peak = max(peak, queue.active)
            served.append(agent)
            await asyncio.sleep(0)
            queue.release()

        await asyncio.gather(*(user(a, p) for a, p in requests))
        assert len(served) == len(requests)
        assert peak <= limit
        assert queue.active == 0
        assert queue.waiting == 0

    asyncio.run(scenario())
