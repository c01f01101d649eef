"""cancel_and_wait: a close always ends, even when a task swallowed its cancel."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agentrt._cancel import cancel_and_wait


async def test_a_task_that_swallowed_one_cancel_is_cancelled_again() -> None:
    swallowed = 0

    async def stubborn_once() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 1:
                    raise  # the second cancel ends it

    task = asyncio.ensure_future(stubborn_once())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, retry_s=0.01) == [None]
    assert swallowed == 2
    assert task.cancelled()


async def test_outcomes_in_order_a_failure_is_returned_not_raised() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    async def sleeps() -> None:
        await asyncio.sleep(3600)

    failed, sleeping = asyncio.ensure_future(fails()), asyncio.ensure_future(sleeps())
    await asyncio.sleep(0)
    outcomes = await cancel_and_wait(failed, sleeping)
    assert isinstance(outcomes[0], ValueError)
    assert outcomes[1] is None


async def test_a_task_that_never_ends_is_left_behind_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def deaf() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.ensure_future(deaf(), loop=None)
    task.set_name("deaf-renew")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="agentrt.tasks"):
        (outcome,) = await cancel_and_wait(task, retry_s=0.01, give_up_s=0.05)
    assert isinstance(outcome, TimeoutError)
    assert "deaf-renew" in caplog.text
    release.set()
    task.cancel()  # wakes its sleep: it sees release and ends
    await task
    assert task.done()
