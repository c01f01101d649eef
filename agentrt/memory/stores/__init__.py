"""Persistence backends of conversation memory behind one small async interface.

``RedisStore`` and ``SQLiteStore`` are handed on lazily (``agentrt._lazy``): importing
this package loads neither redis nor sqlite3 until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.memory.stores._base import Store
from agentrt.memory.stores._fencing import Fence
from agentrt.memory.stores._memory import MemoryStore

if TYPE_CHECKING:
    from agentrt.memory.stores._redis import RedisStore
    from agentrt.memory.stores._sqlite import SQLiteStore
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "RedisStore": "agentrt.memory.stores._redis",
            "SQLiteStore": "agentrt.memory.stores._sqlite",
        },
    )

__all__ = [
    "Fence",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "Store",
]
