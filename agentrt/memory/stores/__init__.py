"""Persistence backends of conversation memory behind one small async interface."""

from __future__ import annotations

from agentrt.memory.stores.base import FRAME_RAW, FRAME_ZSTD, Store, frame_value, unframe_value
from agentrt.memory.stores.memory import MemoryStore
from agentrt.memory.stores.redis import RedisStore
from agentrt.memory.stores.sqlite import SQLiteStore

__all__ = [
    "FRAME_RAW",
    "FRAME_ZSTD",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "Store",
    "frame_value",
    "unframe_value",
]
