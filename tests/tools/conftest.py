from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agentrt.actor import Node, NodeConfig


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    """A running node for resource executors' supervisors."""
    async with Node(NodeConfig(watchdog=False, shutdown_timeout=2.0)) as n:
        yield n


def other_tasks() -> list[asyncio.Task[object]]:
    """Tasks still pending besides the current one."""
    me = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not me and not t.done()]


Factory = Callable[[], Awaitable[object]]
