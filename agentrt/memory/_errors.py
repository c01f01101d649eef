"""Errors of the conversation-memory layer.

::

    AgentRTError
    └── ConversationError                      any memory-layer failure
        ├── CorruptSnapshot (ValueError)       stored bytes do not decode; ``key`` names them
        ├── UnknownDictionary (LookupError)    a chunk names a dictionary nobody can load
        ├── StoreError (ConnectionError)       a store backend failed; ``backend``, ``key``
        │   └── StaleWrite                     a fenced write's token is stale (fenced out)
        └── ConversationClosed (RuntimeError)  the conversation was closed

Every error carries its context as attributes as well as in its message. The memory layer
never swallows a decode failure: a caller that restores a snapshot decides what to do with
:class:`CorruptSnapshot` (the agent layer starts fresh and reports it).
"""

from __future__ import annotations

from agentrt.errors import AgentRTError
from agentrt.redact import redact_text

__all__ = [
    "ConversationClosed",
    "ConversationError",
    "CorruptSnapshot",
    "StaleWrite",
    "StoreError",
    "UnknownDictionary",
]


class ConversationError(AgentRTError):
    """Base class of the memory layer's errors."""


class CorruptSnapshot(ConversationError, ValueError):
    """Bytes read back (a snapshot, a chunk, a stored value) do not decode.

    ``key`` names where they came from (a store key, or ``"<snapshot>"`` for bytes handed
    to :meth:`Conversation.restore` directly); ``reason`` says what was wrong.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"corrupt snapshot at key {key!r}: {reason}")
        self.key = key
        self.reason = reason


class UnknownDictionary(ConversationError, LookupError):
    """A sealed chunk was compressed with dictionary ``dict_id``, which cannot be loaded."""

    def __init__(self, dict_id: int, where: str = "") -> None:
        detail = f" ({where})" if where else ""
        super().__init__(f"unknown zstd dictionary {dict_id:#010x}{detail}")
        self.dict_id = dict_id


class StoreError(ConversationError, ConnectionError):
    """The ``backend`` store failed during ``operation`` (on ``key`` when one is known)."""

    def __init__(self, backend: str, operation: str, key: str = "", cause: str = "") -> None:
        where = f" key {key!r}" if key else ""
        why = f": {redact_text(cause)}" if cause else ""  # a driver may quote its URL
        super().__init__(f"{backend} store {operation} failed{where}{why}")
        self.backend = backend
        self.operation = operation
        self.key = key


class StaleWrite(StoreError):
    """A fenced write to ``key`` carried ``token``, older than the agent's ``current`` token:
    another incarnation claimed the agent since, so nothing was written. Not retried: this
    incarnation is fenced out for good (see ``agentrt.memory.stores._fencing``)."""

    def __init__(self, backend: str, key: str, token: int, current: int) -> None:
        super().__init__(
            backend, "fenced write", key, f"stale fencing token {token} (current {current})"
        )
        self.token = token
        self.current = current


class ConversationClosed(ConversationError, RuntimeError):
    """An operation was attempted on the closed conversation ``key``."""

    def __init__(self, key: str) -> None:
        super().__init__(f"conversation {key!r} is closed")
        self.key = key
