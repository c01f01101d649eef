"""``Conversation``: one agent's memory in three tiers.

1. **Recent window**: the last messages as :class:`~agentrt.messages.Message` objects, with
   their token estimates. When the window holds ``recent_messages + chunk_messages``
   messages (or, with ``recent_tokens``, when the messages after the oldest
   ``chunk_messages`` still hold ``recent_tokens`` tokens), the oldest ``chunk_messages``
   (the boundary moved back so that a tool call and its results stay together) are
   **sealed** into a chunk.
2. **Sealed chunks**: zstd frames compressed with the runtime's shared dictionary
   (:class:`~agentrt.memory.DictionaryRegistry`), ~50 messages each, held as bytes.
3. **Rolling summary**: when ``summary.after_chunks`` chunks are not yet summarized, a
   background task asks the :class:`~agentrt.memory.Summarizer` to condense them
   (:mod:`agentrt.memory.summary`). Once a chunk is summarized and stored, it may be evicted
   from memory (``resident_chunks``) and is read back from the store on demand.

``context(budget_tokens)`` returns system prompt + summary + the longest suffix of
unsummarized messages that fits, never splitting an assistant tool call from its results.
``history()`` and ``search()`` read everything back, sealed or not. With a store
(:meth:`Conversation.open`), every append is journaled in the configured durability mode
and a restarted agent resumes from the store; :meth:`snapshot`/:meth:`restore` move a
whole conversation as one versioned blob (passivation).

Example::

    registry = DictionaryRegistry()
    conv = Conversation(registry=registry, system="You are terse.")
    await conv.append(Message.user("Weather in Paris?"))
    prompt = conv.context(budget_tokens=8_000)
    blob = await conv.snapshot()
    again = await Conversation.restore(blob, registry=registry)
    await conv.aclose()
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import random
import secrets
import sys
from collections.abc import Sequence
from typing import Any

import msgspec
import zstandard

from agentrt.errors import InvalidArgument
from agentrt.memory.codec import ChunkMeta, decode_messages, encode_message, open_chunk, seal
from agentrt.memory.config import ConversationConfig, ConversationStats, message_bytes
from agentrt.memory.dictionary import DictionaryRegistry
from agentrt.memory.durability import Journal
from agentrt.memory.errors import ConversationClosed, CorruptSnapshot, StoreError
from agentrt.memory.layout import read_chunks, read_log
from agentrt.memory.quarantine import Quarantined, quarantine
from agentrt.memory.snapshot import (
    ConversationState,
    decode_chunk_record,
    decode_state,
    encode_chunk_record,
    encode_log_record,
    encode_state,
)
from agentrt.memory.stores.base import Store
from agentrt.memory.summary import RollingSummary, Summarizer, Summary
from agentrt.memory.window import fit_suffix, match_messages, seal_boundary, unit_start
from agentrt.messages import Message, check_message
from agentrt.tokens import TokenEstimator, estimate_tokens, message_tokens

__all__ = ["Conversation"]

_log = logging.getLogger(__name__)

# Measured with tracemalloc (CPython 3.11-3.13): an empty conversation with its lock,
# summary state and lists; and per window message, its slots in the three parallel lists
# plus the int objects of its token and byte counts.
_BASE_BYTES = 2_350

# Epochs only need to differ between incarnations: 63 bits from a generator seeded from
# the OS once (reseeded in a forked child), not a system call per conversation.
_epochs = random.Random(secrets.randbits(128))
os.register_at_fork(after_in_child=lambda: _epochs.seed(secrets.randbits(128)))
_WINDOW_SLOT_BYTES = 48


class Conversation:
    """One agent's conversation memory. See the module docstring."""

    def __init__(
        self,
        *,
        registry: DictionaryRegistry,
        config: ConversationConfig | None = None,
        system: str | Message | None = None,
        summarizer: Summarizer | None = None,
        estimator: TokenEstimator = estimate_tokens,
        key: str = "conversation",
        journal: Journal | None = None,
    ) -> None:
        self.key = key
        self.config = config or ConversationConfig()
        self._registry = registry
        self._estimator = estimator
        self._journal = journal
        self._system = Message.system(system) if isinstance(system, str) else system
        if self._system is not None:
            check_message(self._system, "system")
        self._epoch = _epochs.getrandbits(63)
        self._chunks: list[ChunkMeta] = []
        self._data: list[bytes | None] = []
        self._persisted_chunks = 0
        self._recent: list[Message] = []
        self._tokens: list[int] = []
        self._sizes: list[int] = []  # message_bytes of each window message, when added
        self._window_tokens = 0
        self._window_bytes = 0
        self._raw = self._stored = 0
        self._closed = False
        self.quarantined: Quarantined | None = None
        """Set by :meth:`open` when it moved damaged records away and started fresh."""
        self._append_lock = asyncio.Lock()
        self._rolling = RollingSummary(
            summarizer,
            self.config.summary,
            name=key,
            read_chunks=self._read_chunks,
            on_summary=self._summarized,
        )

    # -- writing ---------------------------------------------------------------------

    def __len__(self) -> int:
        return self._sealed + len(self._recent)

    @property
    def _sealed(self) -> int:
        return self._chunks[-1].stop if self._chunks else 0

    @property
    def system(self) -> Message | None:
        """The system prompt (not counted among the messages)."""
        return self._system

    @property
    def summary(self) -> Summary | None:
        """The current rolling summary, if any."""
        return self._rolling.summary

    async def append(self, message: Message) -> int:
        """Add ``message``; returns its index. With a store in write-through mode, the
        message is stored when this returns (``StoreError`` otherwise, and it is not added).
        May seal the oldest window messages into a chunk.

        ``message`` is checked first (:func:`~agentrt.messages.check_message`): a field of
        the wrong type raises :class:`~agentrt.messages.MessageTypeError`, a string with a
        lone surrogate :class:`~agentrt.messages.MessageValueError`, both naming the field.
        An append that raises (those, ``StoreError``, an estimator that raises) adds
        nothing, so retrying it never duplicates a message.
        """
        if self._closed:
            raise ConversationClosed(self.key)
        check_message(message)
        async with self._append_lock:  # concurrent appends would race for an index
            if self._closed:  # closed while this append waited for its turn
                raise ConversationClosed(self.key)
            index = len(self)
            payload, tokens, size = self._measure(message)
            if self._journal is not None:
                record = encode_log_record(self._epoch, message, payload)
                await self._journal.put(self._mkey(index), record)
            self._hold(message, tokens, size)
            while self._seal_due():
                await self._seal()
            return index

    async def extend(self, messages: Sequence[Message]) -> None:
        """Append ``messages`` in order. All are checked before the first is added, so a
        bad one adds none (an assistant tool call is never stored without its results)."""
        for n, message in enumerate(messages):
            check_message(message, f"messages[{n}]")
        for message in messages:
            await self.append(message)

    def _measure(self, message: Message) -> tuple[bytes, int, int]:
        """The message's msgpack bytes, tokens and bytes held. Encoding first makes
        CPython cache the UTF-8 form of each non-ASCII string (msgspec asks for it), so
        ``message_bytes`` counts that copy now, the same as when the message leaves."""
        payload = encode_message(message)
        return payload, message_tokens(message, self._estimator), message_bytes(message)

    def _seal_due(self) -> bool:
        size = self.config.chunk_messages
        if len(self._recent) >= self.config.recent_messages + size:
            return True
        limit = self.config.recent_tokens
        return (
            limit is not None
            and len(self._recent) > size
            and self._window_tokens - sum(self._tokens[:size]) >= limit
        )

    async def _seal(self) -> None:
        n = seal_boundary(self._recent, self.config.chunk_messages)
        batch = self._recent[:n]
        meta, data = seal(batch, start=self._sealed, registry=self._registry)
        self._chunks.append(meta)
        self._data.append(data)
        self._raw += meta.raw_size
        self._stored += meta.stored_size
        self._window_tokens -= sum(self._tokens[:n])
        self._window_bytes -= sum(self._sizes[:n])
        del self._recent[:n], self._tokens[:n], self._sizes[:n]
        if self._journal is not None:
            try:
                await self._persist_seals()
            except StoreError as exc:  # the messages are in the log: retried at next seal
                _log.warning("conversation %s: storing chunk failed: %s", self.key, exc)
        self._rolling.notify(len(self._chunks))
        self._evict()

    async def _persist_seals(self) -> None:
        assert self._journal is not None
        first = self._persisted_chunks
        items = {
            self._ckey(n): encode_chunk_record(self._chunk_bytes(n))
            for n in range(first, len(self._chunks))
        }
        items[f"{self.key}/head"] = self._head()
        await self._journal.put_many(items)
        low = self._chunks[first].start if first < len(self._chunks) else self._sealed
        self._persisted_chunks = len(self._chunks)
        await self._journal.delete(*(self._mkey(i) for i in range(low, self._sealed)))

    def _chunk_bytes(self, n: int) -> bytes:
        data = self._data[n]
        assert data is not None, "unpersisted chunks are never evicted"
        return data

    def _head(self) -> bytes:
        state = ConversationState(self._epoch, self._system, self.summary, self._chunks, [], [])
        return encode_state(state)

    async def _summarized(self, summary: Summary) -> None:
        if self._journal is not None:
            await self._journal.put(f"{self.key}/head", self._head())
        self._evict()

    def _evict(self) -> None:
        limit = self.config.resident_chunks
        if limit is None or self._journal is None:
            return
        resident = [n for n, data in enumerate(self._data) if data is not None]
        excess = len(resident) - limit
        stop = min(self._rolling.covered, self._persisted_chunks)
        for n in resident:
            if excess <= 0 or n >= stop:
                break
            self._data[n] = None
            excess -= 1

    def _mkey(self, index: int) -> str:
        return f"{self.key}/m/{index}"

    def _ckey(self, n: int) -> str:
        return f"{self.key}/c/{n}"

    # -- reading ---------------------------------------------------------------------

    def context(self, budget_tokens: int) -> list[Message]:
        """System prompt + summary + the newest messages that fit ``budget_tokens``.

        The system prompt is always included; the summary (as a system message naming the
        messages it covers) when it fits; then whole units (a message, or an assistant tool
        call with all its results) from the newest back, including unsummarized sealed
        chunks when the window is exhausted. Never awaits; never reads the store.
        """
        if budget_tokens < 0:
            raise InvalidArgument(
                "budget_tokens", f"budget_tokens must be >= 0, got {budget_tokens}"
            )
        out: list[Message] = []
        left = budget_tokens
        if self._system is not None:
            out.append(self._system)
            left -= message_tokens(self._system, self._estimator)
        summary = self.summary
        if summary is not None:
            note = Message.system(
                f"Summary of messages 0-{summary.end_message - 1} of this conversation:\n"
                + summary.text
            )
            cost = message_tokens(note, self._estimator)
            if cost <= left:
                out.append(note)
                left -= cost
        out.extend(self._fit(max(left, 0)))
        return out

    def _fit(self, budget: int) -> list[Message]:
        messages: list[Message] = self._recent
        tokens: list[int] = self._tokens
        chunk = len(self._chunks)
        while True:
            start, used = fit_suffix(messages, tokens, budget)
            needs_older = start == 0 or (start < len(messages) and unit_start(messages, start) < 0)
            if not (needs_older and chunk > self._rolling.covered and used < budget):
                return messages[start:]
            chunk -= 1
            data = self._data[chunk]
            if data is None:
                return messages[start:]
            older = self._open(chunk, data)
            messages = older + messages
            tokens = [message_tokens(m, self._estimator) for m in older] + tokens

    def _open(self, n: int, data: bytes) -> list[Message]:
        try:
            return open_chunk(self._chunks[n], data, self._registry)
        except (zstandard.ZstdError, msgspec.MsgspecError, ValueError) as exc:
            raise CorruptSnapshot(self._ckey(n), f"chunk does not decode: {exc}") from exc

    def _decompress(self, n: int, data: bytes) -> bytes:
        meta = self._chunks[n]
        try:
            return self._registry.decompress(meta.dict_id, data, meta.raw_size)
        except zstandard.ZstdError as exc:
            raise CorruptSnapshot(self._ckey(n), f"chunk does not decompress: {exc}") from exc

    async def _chunk_data(self, n: int) -> bytes:
        """Compressed bytes of chunk ``n``: resident, or read back from the store."""
        data = self._data[n]
        if data is not None:
            return data
        assert self._journal is not None, "chunks are evicted only with a store"
        key = self._ckey(n)
        record = await self._journal.read(key)
        if record is None:
            raise CorruptSnapshot(key, "sealed chunk missing from the store")
        return decode_chunk_record(key, record, self._chunks[n])

    async def _chunk_messages(self, n: int) -> list[Message]:
        return self._open(n, await self._chunk_data(n))

    async def _read_chunks(self, first: int, end: int) -> list[Message]:
        out: list[Message] = []
        for n in range(first, end):
            out.extend(await self._chunk_messages(n))
        return out

    async def history(self, start: int = 0, stop: int | None = None) -> list[Message]:
        """Messages ``[start:stop]`` (slice semantics, negative indices allowed), sealed or
        not, exactly as appended. Evicted chunks are read from the store."""
        span = range(len(self))[start:stop]
        if not span:
            return []
        lo, hi = span.start, span.stop
        out: list[Message] = []
        first = max(0, bisect.bisect_right(self._chunks, lo, key=lambda c: c.start) - 1)
        for n in range(first, len(self._chunks)):
            meta = self._chunks[n]
            if meta.start >= hi:
                break
            if meta.stop > lo:
                out.extend(
                    (await self._chunk_messages(n))[max(lo - meta.start, 0) : hi - meta.start]
                )
        base = self._sealed
        out.extend(self._recent[max(lo - base, 0) : max(hi - base, 0)])
        return out

    async def search(self, text: str, *, limit: int = 20) -> list[tuple[int, Message]]:
        """Up to ``limit`` ``(index, message)`` pairs whose content or tool-call arguments
        contain ``text`` (case-insensitive, Unicode casefold), the newest matches, returned
        oldest first. Sealed chunks that cannot match are skipped before decoding."""
        needle = text.casefold()
        if not needle or limit <= 0:
            return []
        found = match_messages(self._recent, self._sealed, needle, limit)
        probe = needle.encode() if needle.isascii() else None
        for n in range(len(self._chunks) - 1, -1, -1):
            if len(found) >= limit:
                break
            raw = self._decompress(n, await self._chunk_data(n))
            if probe is not None and raw.isascii() and probe not in raw.lower():
                continue  # cannot match: skip decoding
            try:
                messages = decode_messages(raw)
            except msgspec.MsgspecError as exc:
                raise CorruptSnapshot(self._ckey(n), f"chunk does not decode: {exc}") from exc
            start = self._chunks[n].start
            found.extend(match_messages(messages, start, needle, limit - len(found)))
        return sorted(found, key=lambda pair: pair[0])

    # -- snapshots and durability ----------------------------------------------------

    async def snapshot(self) -> bytes:
        """The whole conversation (system, summary, chunks, window) as one versioned blob.
        Evicted chunks are read back from the store."""
        data = [await self._chunk_data(n) for n in range(len(self._chunks))]
        state = ConversationState(
            self._epoch, self._system, self.summary, list(self._chunks), data, list(self._recent)
        )
        return encode_state(state)

    def _adopt(
        self, state: ConversationState, data: list[bytes | None], recent: list[Message]
    ) -> None:
        self._epoch = state.epoch
        self._system = state.system
        self._chunks = list(state.chunks)
        self._data = data
        self._raw = sum(c.raw_size for c in self._chunks)
        self._stored = sum(c.stored_size for c in self._chunks)
        self._rolling.summary = state.summary
        self._rolling.notify(len(self._chunks))
        for message in recent:
            _, tokens, size = self._measure(message)
            self._hold(message, tokens, size)

    def _hold(self, message: Message, tokens: int, size: int) -> None:
        self._recent.append(message)
        self._tokens.append(tokens)
        self._sizes.append(size)
        self._window_tokens += tokens
        self._window_bytes += size

    @classmethod
    async def restore(
        cls,
        data: bytes,
        *,
        registry: DictionaryRegistry,
        key: str = "<snapshot>",
        store: Store | None = None,
        config: ConversationConfig | None = None,
        summarizer: Summarizer | None = None,
        estimator: TokenEstimator = estimate_tokens,
    ) -> Conversation:
        """Rebuild a conversation from :meth:`snapshot` bytes.

        Raises :class:`CorruptSnapshot` naming ``key`` when the bytes do not decode, and
        :class:`UnknownDictionary` when a chunk's dictionary cannot be loaded. With
        ``store``, the conversation is written there under ``key`` (a new epoch) and
        continues durably.
        """
        state = decode_state(key, data)
        await registry.load(c.dict_id for c in state.chunks)
        cfg = config or ConversationConfig()
        journal = Journal(store, cfg.durability) if store is not None else None
        conv = cls(
            registry=registry,
            config=cfg,
            summarizer=summarizer,
            estimator=estimator,
            key=key,
            journal=journal,
        )
        conv._adopt(state, list(state.data), state.recent)
        if journal is not None:
            conv._epoch = _epochs.getrandbits(63)
            await conv._persist_seals()
            items = {
                conv._mkey(conv._sealed + i): encode_log_record(conv._epoch, m)
                for i, m in enumerate(conv._recent)
            }
            await journal.put_many(items)
            conv._evict()
        return conv

    @classmethod
    async def open(
        cls,
        store: Store,
        key: str,
        *,
        registry: DictionaryRegistry,
        system: str | Message | None = None,
        config: ConversationConfig | None = None,
        summarizer: Summarizer | None = None,
        estimator: TokenEstimator = estimate_tokens,
    ) -> Conversation:
        """The durable conversation ``key`` in ``store``: resumed if it exists (its stored
        system prompt wins), created with ``system`` otherwise.

        A record that does not decode: with ``config.on_corrupt="fresh"`` (default) every
        record of ``key`` is moved under a quarantine key first (never overwritten, see
        :mod:`agentrt.memory.quarantine`) and an empty conversation is returned, its
        :attr:`quarantined` saying where the data went; with ``"fail"``,
        :class:`CorruptSnapshot` naming the record's key, the store untouched."""
        cfg = config or ConversationConfig()
        options = {"system": system, "summarizer": summarizer, "estimator": estimator}
        try:
            return await cls._resume(store, key, registry, cfg, options)
        except CorruptSnapshot as exc:
            if cfg.on_corrupt == "fail":
                raise
            moved = await quarantine(store, key, exc)
        conv = await cls._resume(store, key, registry, cfg, options)
        conv.quarantined = moved
        return conv

    @classmethod
    async def _resume(
        cls,
        store: Store,
        key: str,
        registry: DictionaryRegistry,
        cfg: ConversationConfig,
        options: dict[str, Any],
    ) -> Conversation:
        conv = cls(
            registry=registry,
            config=cfg,
            key=key,
            journal=Journal(store, cfg.durability),
            **options,
        )
        head = await store.get(f"{key}/head")
        if head is None:
            await store.put(f"{key}/head", conv._head(), cfg.durability.ttl)
            return conv
        state = decode_state(f"{key}/head", head)
        await registry.load(c.dict_id for c in state.chunks)
        data = await read_chunks(store, key, state, cfg.resident_chunks)
        sealed = state.chunks[-1].stop if state.chunks else 0
        conv._adopt(state, data, await read_log(store, key, sealed, state.epoch))
        conv._persisted_chunks = len(state.chunks)
        return conv

    async def wait_summarized(self) -> None:
        """Wait until no summary work is pending (returns at once without a summarizer)."""
        await self._rolling.wait_idle()

    async def flush(self) -> None:
        """Write everything buffered (write-behind) and any chunk whose store write failed."""
        if self._journal is None:
            return
        if self._persisted_chunks < len(self._chunks):
            await self._persist_seals()
        await self._journal.flush()

    async def erase(self) -> None:
        """Delete this conversation's records from its store (no-op without a store)."""
        if self._journal is None:
            return
        await self._journal.flush()
        keys = [f"{self.key}/head", *map(self._ckey, range(len(self._chunks)))]
        keys += [self._mkey(i) for i in range(self._sealed, len(self))]
        await self._journal.store.delete(*keys)

    def memory_bytes(self) -> int:
        """Estimated bytes held in memory: window objects (with the UTF-8 copy CPython
        caches on non-ASCII strings once they are encoded), resident chunk bytes, the
        chunk table, summary and system prompt (the shared dictionaries are not counted).

        Never negative; the test suite holds it within 10% of ``tracemalloc`` on
        mixed-language chat text (``tests/memory/test_memory_bytes.py``), and the memory
        benchmark reports the ratio."""
        chunk_bytes = sum(sys.getsizeof(d) + 8 for d in self._data if d is not None)
        table = len(self._chunks) * (sys.getsizeof(self._chunks[0]) + 8) if self._chunks else 0
        summary = sys.getsizeof(self.summary.text) + 80 if self.summary else 0
        system = message_bytes(self._system) if self._system else 0
        window = self._window_bytes + len(self._recent) * _WINDOW_SLOT_BYTES
        return _BASE_BYTES + window + chunk_bytes + table + summary + system

    @property
    def chunks(self) -> tuple[ChunkMeta, ...]:
        """The sealed chunks, oldest first: where each starts, how many messages it holds,
        the dictionary that compressed it and its sizes."""
        return tuple(self._chunks)

    def stats(self) -> ConversationStats:
        """Sizes, compression ratio, summary coverage and pending writes."""
        rolling = self._rolling.stats()
        sealed = self._sealed
        return ConversationStats(
            messages=len(self),
            recent_messages=len(self._recent),
            window_tokens=self._window_tokens,
            chunks=len(self._chunks),
            resident_chunks=sum(d is not None for d in self._data),
            raw_bytes=self._raw,
            stored_bytes=self._stored,
            ratio=round(self._raw / self._stored, 3) if self._stored else 0.0,
            summary_chunks=rolling["summary_chunks"],
            summary_messages=rolling["summary_messages"],
            summary_coverage=round(rolling["summary_messages"] / sealed, 4) if sealed else 0.0,
            summary_calls=rolling["summary_calls"],
            summary_failures=rolling["summary_failures"],
            summary_last_error=rolling["summary_last_error"],
            memory_bytes=self.memory_bytes(),
            window_bytes=self._window_bytes,
            pending_writes=self._journal.pending if self._journal else 0,
        )

    async def aclose(self) -> None:
        """Let an append in flight finish, stop the summary task, then flush the journal
        (``StoreError`` if that fails). Leaves no task behind. Idempotent; the store itself
        is not closed."""
        if self._closed:
            return
        self._closed = True
        async with self._append_lock:
            await self._rolling.aclose()
            if self._journal is not None:
                if self._persisted_chunks < len(self._chunks):
                    await self._persist_seals()
                await self._journal.aclose()
