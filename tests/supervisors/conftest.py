from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agentrt.actor import Node, NodeConfig


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    async with Node(NodeConfig(watchdog=False, shutdown_timeout=2.0)) as n:
        yield n
