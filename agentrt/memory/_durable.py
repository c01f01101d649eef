"""A :class:`~agentrt.memory.Conversation`'s life in a store: written as a snapshot and
rebuilt from one, opened (resumed from its records, or created; damaged records
quarantined first), compacted and erased.

The conversation's methods (``snapshot``, ``restore``, ``open``, ``compact``, ``erase``)
carry the documentation and call these; the recent window, the sealed tier and prompt
assembly live in their own modules (``_recent``, ``_chunks``, ``_context``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentrt.memory._config import ConversationConfig
from agentrt.memory._dictionary import DictionaryRegistry
from agentrt.memory._durability import Journal
from agentrt.memory._epoch import new_epoch
from agentrt.memory._errors import CorruptSnapshot, UnknownDictionary
from agentrt.memory._layout import read_chunks, read_log
from agentrt.memory._quarantine import quarantine
from agentrt.memory._snapshot import (
    ConversationState,
    decode_state,
    encode_state,
    snapshot_dictionary,
    snapshot_tenant,
)
from agentrt.memory._summary import Summarizer
from agentrt.memory.stores._base import Store
from agentrt.memory.stores._fencing import Fence
from agentrt.messages import Message
from agentrt.tokens import TokenEstimator, message_tokens

if TYPE_CHECKING:
    from agentrt.memory._conversation import Conversation

__all__ = ["compact", "erase", "open_stored", "restore", "snapshot"]


async def snapshot(conv: Conversation) -> bytes:
    """``Conversation.snapshot``: evicted chunks are read back from the store."""
    sealed = conv._sealed
    data = [await sealed.data_of(n) for n in range(len(sealed))]
    state = ConversationState(
        conv._epoch,
        conv._system,
        conv.summary,
        list(sealed.table),
        data,
        list(conv._window.messages),
        conv._turn,
    )
    return encode_state(state, conv._registry, conv.tenant)


def _adopt(
    conv: Conversation, state: ConversationState, data: list[bytes | None], recent: list[Message]
) -> None:
    """Take ``state``'s epoch, system prompt, chunks, summary and turn id, and ``recent``
    into the window."""
    conv._epoch = state.epoch
    conv._turn = state.turn
    conv._system = state.system
    conv._sealed.adopt(state.chunks, data)
    if state.summary is not None or len(conv._sealed):
        rolling = conv._roll()
        rolling.summary = state.summary
        rolling.notify(len(conv._sealed))
    for message in recent:
        conv._window.hold(message, message_tokens(message, conv._estimator))


async def restore(
    cls: type[Conversation],
    data: bytes,
    *,
    registry: DictionaryRegistry,
    key: str,
    store: Store | None,
    config: ConversationConfig,
    summarizer: Summarizer | None,
    estimator: TokenEstimator,
    fence: Fence | None,
) -> Conversation:
    """``Conversation.restore``: the conversation in snapshot ``data``, written to
    ``store`` under a new epoch when given."""
    await registry.load([snapshot_dictionary(key, data)])
    state = decode_state(key, data, registry)
    await registry.load(c.dict_id for c in state.chunks)
    journal = Journal(store, config.durability, fence=fence) if store is not None else None
    conv = cls(
        registry=registry,
        config=config,
        summarizer=summarizer,
        estimator=estimator,
        key=key,
        journal=journal,
        tenant=snapshot_tenant(key, data),
    )
    _adopt(conv, state, list(state.data), state.recent)
    if journal is not None:
        conv._epoch = new_epoch(fence)
        await conv._sealed.persist(conv._head())
        await conv._sealed.log_all(conv._epoch, conv._window.messages)
        conv._evict()
    return conv


async def open_stored(
    cls: type[Conversation],
    store: Store,
    key: str,
    registry: DictionaryRegistry,
    config: ConversationConfig,
    options: dict[str, Any],
    fence: Fence | None,
) -> Conversation:
    """``Conversation.open``: resumed, or created; with ``on_corrupt="fresh"`` a damaged
    record's conversation is quarantined first and started empty."""
    try:
        return await _resume(cls, store, key, registry, config, options, fence)
    except CorruptSnapshot as exc:
        if config.on_corrupt == "fail":
            raise
        moved = await quarantine(store, key, exc)
    conv = await _resume(cls, store, key, registry, config, options, fence)
    conv.quarantined = moved
    return conv


async def _resume(
    cls: type[Conversation],
    store: Store,
    key: str,
    registry: DictionaryRegistry,
    config: ConversationConfig,
    options: dict[str, Any],
    fence: Fence | None,
) -> Conversation:
    journal = Journal(store, config.durability, fence=fence)
    conv = cls(registry=registry, config=config, key=key, journal=journal, **options)
    head_key = f"{key}/head"
    head = await store.get(head_key)
    if head is None:
        await journal.write_now({head_key: conv._head()})
        return conv
    try:
        await registry.load([snapshot_dictionary(head_key, head)])
        state = decode_state(head_key, head, registry)
        stored_tenant = snapshot_tenant(head_key, head)
        await registry.load(c.dict_id for c in state.chunks)
    except UnknownDictionary as exc:
        raise CorruptSnapshot(head_key, str(exc)) from exc
    data = await read_chunks(store, key, state, config.resident_chunks)
    sealed = state.chunks[-1].stop if state.chunks else 0
    inline = sealed + len(state.recent)
    logged, turn = await read_log(store, key, inline, state.epoch)
    _adopt(conv, state, data, [*state.recent, *logged])
    if turn is not None:  # a user message logged after the head was written
        conv._turn = turn
    conv._inline = inline
    conv._sealed.persisted = len(state.chunks)
    if conv.tenant is None:
        conv.tenant = stored_tenant
    elif conv.tenant != stored_tenant:  # recorded now: it may never be written again
        await store.put(head_key, conv._head(), config.durability.ttl)
    return conv


async def compact(conv: Conversation) -> None:
    """``Conversation.compact``'s work, under its append lock: the unsealed messages
    into the head record (written first), then their own records deleted."""
    journal = conv._journal
    assert journal is not None
    sealed = conv._sealed
    if conv._inline >= len(conv) and not sealed.unpersisted:
        return
    stop = len(conv)
    first = max(sealed.stop, conv._inline)
    conv._inline = stop
    try:
        if sealed.unpersisted:
            await sealed.persist(conv._head())
        else:
            await journal.put(sealed.head_key, conv._head())
    except BaseException:
        conv._inline = first
        raise
    await journal.delete(*(sealed.mkey(i) for i in range(first, stop)))


async def erase(conv: Conversation) -> None:
    """``Conversation.erase``: every record of the conversation deleted (no-op without
    a store)."""
    journal = conv._journal
    if journal is None:
        return
    await journal.flush()
    sealed = conv._sealed
    keys = [sealed.head_key, *map(sealed.ckey, range(len(sealed)))]
    keys += [sealed.mkey(i) for i in range(sealed.stop, len(conv))]
    await journal.write_now({}, keys)
