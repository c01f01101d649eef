"""Moving a damaged conversation out of the way, so that starting fresh destroys nothing.

When ``Conversation.open`` finds a record it cannot decode and its config says
``on_corrupt="fresh"``, it first calls :func:`quarantine`: every record of the
conversation ``K`` (``K/head``, ``K/c/{n}``, ``K/m/{i}``; never another conversation's,
even one whose key starts with ``K/``) is renamed, bytes untouched, to
``quarantine/K/{UTC time}-{random}/{rest}``, e.g. ``quarantine/agent/a1/20261207T044901Z-3f2a/head``
(under the store's own prefix, ``agentrt:mem:`` in Redis). The fresh conversation then
writes to empty keys, and the damaged data stays readable for a person to inspect or
repair. The move is logged (an ERROR record on ``agentrt.memory.quarantine`` whose
``extra`` fields are ``conversation``, ``quarantine_key``, ``records`` and ``reason``) and
the agent layer emits :data:`QUARANTINE_EVENT`.

A store that cannot list or rename keys cannot quarantine: the ``CorruptSnapshot`` is
raised instead, as with ``on_corrupt="fail"`` (nothing is ever deleted to make room).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass

from agentrt.memory._errors import CorruptSnapshot
from agentrt.memory.stores._base import Store

__all__ = ["QUARANTINE_EVENT", "QUARANTINE_PREFIX", "Quarantined", "quarantine"]

#: Telemetry event of a quarantine: measurements ``records`` | metadata
#: ``conversation``, ``quarantine_key``, ``reason`` (and ``agent_id`` from the agent layer).
QUARANTINE_EVENT = ("agentrt", "memory", "quarantine")
#: Logical key prefix under which damaged conversations are moved.
QUARANTINE_PREFIX = "quarantine/"

_log = logging.getLogger("agentrt.memory.quarantine")


@dataclass(frozen=True)
class Quarantined:
    """What :func:`quarantine` moved: the conversation ``key``, where its records went
    (``to``: prefix of the new keys), how many, and why (the ``CorruptSnapshot``)."""

    key: str
    to: str
    records: int
    reason: str
    at: float


def _own_records(key: str, found: list[str]) -> list[str]:
    """The keys of conversation ``key`` among ``found`` (not those of ``key/...``)."""
    mine = re.compile(re.escape(key) + r"/(?:head|[cm]/\d+)")
    return sorted(k for k in found if mine.fullmatch(k))


async def quarantine(store: Store, key: str, error: CorruptSnapshot) -> Quarantined:
    """Move every record of conversation ``key`` under a fresh quarantine key and log it.

    Raises ``error`` itself when the store cannot list or rename keys, and
    :class:`~agentrt.memory.StoreError` when the store fails; in both cases nothing was
    lost."""
    if not callable(getattr(store, "keys", None)) or not callable(
        getattr(store, "rename_many", None)
    ):
        raise error
    at = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at)) + "-" + secrets.token_hex(2)
    to = f"{QUARANTINE_PREFIX}{key}/{stamp}/"
    records = _own_records(key, await store.keys(f"{key}/"))
    await store.rename_many({k: to + k[len(key) + 1 :] for k in records})
    _log.error(
        "conversation %r is damaged (%s); its %d records were moved to %r and it starts fresh",
        key, error.reason, len(records), to,
        extra={"conversation": key, "quarantine_key": to, "records": len(records),
               "reason": str(error)},
    )  # fmt: skip
    return Quarantined(key=key, to=to, records=len(records), reason=str(error), at=at)
