from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentrt.memory import (
    DictionaryConfig,
    DictionaryRegistry,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    Store,
)
from agentrt.messages import Message, ToolCall


@pytest.fixture
async def registry() -> AsyncIterator[DictionaryRegistry]:
    reg = DictionaryRegistry(DictionaryConfig(auto_train=False))
    yield reg
    await reg.aclose()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[Store]:
    """Each of the three stores, for real: SQLite on a file, Redis on the test server."""
    made: Store
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "memory.db")
    else:
        made = RedisStore(redis_url, prefix=redis_prefix, max_connections=4)
    yield made
    await made.aclose()


def chat(n: int, *, seed: int = 0) -> list[Message]:
    """``n`` messages of varied, realistic-looking turns (tool calls included)."""
    out: list[Message] = []
    i = 0
    while len(out) < n:
        i += 1
        out.append(Message.user(f"question {seed}-{i}: how do I configure the cache for {i}?"))
        if i % 3 == 0:
            call = ToolCall(f"c{seed}-{i}", "search_docs", f'{{"query": "cache {i}"}}')
            out.append(Message.assistant("", tool_calls=(call,)))
            out.append(Message.tool_result(call.id, f'{{"hits": [{i}, {i + 1}]}}'))
        out.append(Message.assistant(f"answer {seed}-{i}: set max_size to {i * 10} " * 4))
    return out[:n]
