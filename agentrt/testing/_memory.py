"""Fakes for testing code that uses conversation memory.

- :class:`ScriptedSummarizer`: a deterministic async summarizer that records every call
  and can be told to fail its next calls.
- :class:`FlakyStore`: a :class:`~agentrt.memory.MemoryStore` that fails every operation
  while ``down`` is true (simulates a Redis or disk outage).

Example::

    summarizer = ScriptedSummarizer(fail_next=2)     # two failures, then success
    conv = Conversation(registry=DictionaryRegistry(), summarizer=summarizer)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence

from agentrt.memory import MemoryStore, StoreError
from agentrt.messages import Message

__all__ = ["FlakyStore", "ScriptedSummarizer"]


class ScriptedSummarizer:
    """Summarizes as ``"<previous> | <n> messages: <first words>"``; may fail on purpose.

    ``fail_next`` calls raise ``RuntimeError("scripted summarizer failure")``; ``calls``
    records ``(messages, previous)`` of every call, failed ones included; ``gate``, when
    set, is awaited by every call (lets a test hold a summary in flight).
    """

    def __init__(self, *, fail_next: int = 0) -> None:
        self.fail_next = fail_next
        self.calls: list[tuple[list[Message], str | None]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, messages: Sequence[Message], previous: str | None, /) -> str:
        self.calls.append((list(messages), previous))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            raise RuntimeError("scripted summarizer failure")
        head = " ".join(messages[0].text.split()[:5]) if messages else ""
        text = f"{len(messages)} messages: {head}"
        return f"{previous} | {text}" if previous else text


class FlakyStore(MemoryStore):
    """A ``MemoryStore`` whose operations raise :class:`StoreError` while ``down`` is set."""

    name = "flaky"

    def __init__(self, *, max_bytes: int = 256 * 1024 * 1024) -> None:
        super().__init__(max_bytes=max_bytes)
        self.down = False
        self.failures = 0

    def _check(self, operation: str, key: str) -> None:
        if self.down:
            self.failures += 1
            raise StoreError(self.name, operation, key, "store is down (FlakyStore)")

    async def get(self, key: str) -> bytes | None:
        self._check("get", key)
        return await super().get(key)

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        self._check("get_many", "")
        return await super().get_many(keys)

    async def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._check("put", key)
        await super().put(key, value, ttl)

    async def put_many(self, items: Mapping[str, bytes], ttl: float | None = None) -> None:
        self._check("put_many", next(iter(items), ""))
        await super().put_many(items, ttl)

    async def keys(self, prefix: str) -> list[str]:
        self._check("keys", prefix)
        return await super().keys(prefix)

    async def rename_many(self, renames: Mapping[str, str]) -> None:
        self._check("rename", next(iter(renames), ""))
        await super().rename_many(renames)

    async def delete(self, *keys: str) -> None:
        self._check("delete", keys[0] if keys else "")
        await super().delete(*keys)
