"""Conversation memory: recent window, zstd-compressed history with a trained dictionary,
rolling LLM summaries, and durable snapshots (see docs/memory.md).

The runtime owns one :class:`DictionaryRegistry` (and usually one :class:`Store`) and hands
them to every :class:`Conversation`. ``RedisStore`` and ``SQLiteStore`` are handed on
lazily: importing this package loads neither redis nor sqlite3 until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.memory.codec import (
    ChunkMeta,
    decode_message,
    decode_messages,
    encode_message,
    encode_messages,
    open_chunk,
    seal,
)
from agentrt.memory.config import ConversationConfig, ConversationStats
from agentrt.memory.conversation import Conversation
from agentrt.memory.dictionary import DictionaryConfig, DictionaryRegistry, dictionary_id
from agentrt.memory.durability import Durability, DurabilityConfig, Journal
from agentrt.memory.errors import (
    ConversationClosed,
    ConversationError,
    CorruptSnapshot,
    StoreError,
    UnknownDictionary,
)
from agentrt.memory.quarantine import (
    QUARANTINE_EVENT,
    QUARANTINE_PREFIX,
    Quarantined,
    quarantine,
)
from agentrt.memory.snapshot import SNAPSHOT_VERSION, ConversationState, decode_state, encode_state
from agentrt.memory.stores import MemoryStore, Store
from agentrt.memory.summary import RollingSummary, Summarizer, Summary, SummaryConfig, retry_delay
from agentrt.memory.window import fit_suffix, seal_boundary, unit_start
from agentrt.tokens import TokenEstimator, estimate_tokens, message_tokens

if TYPE_CHECKING:
    from agentrt.memory.stores import RedisStore, SQLiteStore
else:  # the stores package hands them on lazily in turn
    __getattr__, __dir__ = lazy_exports(
        __name__, dict.fromkeys(["RedisStore", "SQLiteStore"], "agentrt.memory.stores")
    )

__all__ = [
    "QUARANTINE_EVENT",
    "QUARANTINE_PREFIX",
    "SNAPSHOT_VERSION",
    "ChunkMeta",
    "Conversation",
    "ConversationClosed",
    "ConversationConfig",
    "ConversationError",
    "ConversationState",
    "ConversationStats",
    "CorruptSnapshot",
    "DictionaryConfig",
    "DictionaryRegistry",
    "Durability",
    "DurabilityConfig",
    "Journal",
    "MemoryStore",
    "Quarantined",
    "RedisStore",
    "RollingSummary",
    "SQLiteStore",
    "Store",
    "StoreError",
    "Summarizer",
    "Summary",
    "SummaryConfig",
    "TokenEstimator",
    "UnknownDictionary",
    "decode_message",
    "decode_messages",
    "decode_state",
    "dictionary_id",
    "encode_message",
    "encode_messages",
    "encode_state",
    "estimate_tokens",
    "fit_suffix",
    "message_tokens",
    "open_chunk",
    "quarantine",
    "retry_delay",
    "seal",
    "seal_boundary",
    "unit_start",
]
