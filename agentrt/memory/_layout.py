"""Reading a conversation's durable layout back from a store (see :mod:`.snapshot`)."""

from __future__ import annotations

import logging

from agentrt.memory._errors import CorruptSnapshot
from agentrt.memory._quarantine import QUARANTINE_PREFIX
from agentrt.memory._snapshot import (
    ConversationState,
    check_tenant,
    decode_chunk_record,
    decode_log_record,
    log_record_turn,
    snapshot_tenant,
)
from agentrt.memory.stores._base import Store
from agentrt.messages import Message

__all__ = ["list_conversations", "read_chunks", "read_log"]

_LOG_BATCH = 64  # message-log records fetched per round trip
_HEAD_BATCH = 256  # heads fetched per round trip by list_conversations(tenant=...)
_log = logging.getLogger("agentrt.memory.layout")


async def read_log(
    store: Store, key: str, start: int, epoch: int
) -> tuple[list[Message], str | None]:
    """The contiguous run of this epoch's message records from index ``start``, and the
    turn id of the latest user message among them recorded with one (None: none was)."""
    out: list[Message] = []
    turn = None
    index = start
    while True:
        keys = [f"{key}/m/{i}" for i in range(index, index + _LOG_BATCH)]
        found = await store.get_many(keys)
        for k in keys:
            record = found.get(k)
            message = decode_log_record(k, record, epoch) if record is not None else None
            if message is None:
                return out, turn
            if message.role == "user" and record is not None:
                turn = log_record_turn(k, record) or turn
            out.append(message)
        index += _LOG_BATCH


async def read_chunks(
    store: Store, key: str, state: ConversationState, resident: int | None
) -> list[bytes | None]:
    """The chunk bytes of ``state`` that stay resident (``None`` for the others): every
    chunk not covered by the summary, and the newest ``resident`` (all when ``None``)."""
    covered = state.summary.end_chunk if state.summary else 0
    total = len(state.chunks)
    wanted = [n for n in range(total) if resident is None or n >= covered or n >= total - resident]
    keys = {n: f"{key}/c/{n}" for n in wanted}
    found = await store.get_many(keys.values())
    data: list[bytes | None] = [None] * total
    for n, chunk_key in keys.items():
        if chunk_key not in found:
            raise CorruptSnapshot(chunk_key, "sealed chunk missing from the store")
        data[n] = decode_chunk_record(chunk_key, found[chunk_key], state.chunks[n])
    return data


async def list_conversations(
    store: Store, prefix: str = "", *, tenant: str | None = None
) -> list[str]:
    """The keys of the conversations stored in ``store`` under ``prefix``, sorted: every
    key ``K`` with a ``K/head`` record, quarantined ones left out (unless ``prefix`` asks
    for them). One pass over the store's key listing (``Store.keys``: the dict in
    ``MemoryStore``, an indexed range query in ``SQLiteStore``, ``SCAN MATCH`` in
    ``RedisStore``, never ``KEYS``); without ``tenant`` no value is read.

    ``tenant``: only the conversations whose head records that tenant
    (``Conversation.tenant``; the runtime records each agent's ``tenant`` setting). The
    heads are read in batches of 256 (``get_many``: one ``MGET`` each on Redis) and only
    their uncompressed header is parsed (:func:`~agentrt.memory._snapshot.snapshot_tenant`);
    a head written before tenants were recorded has none, and a damaged one is left out
    with a warning (``Conversation.open`` quarantines it when its agent next starts).

    Keys name conversations too: the runtime keys agent ``A`` as ``agent/A``, so agents
    routed as ``acme:*`` are listed by ``await list_conversations(store, "agent/acme:")``.
    Raises ``StoreError``; ``InvalidArgument`` for a ``tenant`` that is not non-empty text.
    """
    check_tenant(tenant)
    quarantined = prefix.startswith(QUARANTINE_PREFIX)
    found = sorted(
        {
            k[: -len("/head")]
            for k in await store.keys(prefix)
            if k.endswith("/head") and (quarantined or not k.startswith(QUARANTINE_PREFIX))
        }
    )
    if tenant is None:
        return found
    out = []
    for first in range(0, len(found), _HEAD_BATCH):
        batch = [f"{k}/head" for k in found[first : first + _HEAD_BATCH]]
        heads = await store.get_many(batch)
        for head_key in batch:
            head = heads.get(head_key)  # None: deleted since the listing
            if head is not None and _tenant_of(head_key, head) == tenant:
                out.append(head_key[: -len("/head")])
    return out


def _tenant_of(head_key: str, head: bytes) -> str | None:
    try:
        return snapshot_tenant(head_key, head)
    except CorruptSnapshot as exc:
        _log.warning("list_conversations: %s left out: %s", head_key, exc)
        return None
