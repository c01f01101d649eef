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
   (:mod:`agentrt.memory._summary`). Once a chunk is summarized and stored, it may be evicted
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
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Sequence

from agentrt.errors import InvalidArgument
from agentrt.memory import _durable as durable
from agentrt.memory._chunks import SealedChunks
from agentrt.memory._codec import ChunkMeta, encode_message
from agentrt.memory._config import ConversationConfig, ConversationStats, message_bytes
from agentrt.memory._context import assemble
from agentrt.memory._dictionary import DictionaryRegistry
from agentrt.memory._durability import Journal
from agentrt.memory._epoch import new_epoch
from agentrt.memory._errors import (
    ConversationClosed,
    StoreError,
)
from agentrt.memory._quarantine import Quarantined
from agentrt.memory._recent import RecentWindow
from agentrt.memory._snapshot import (
    ConversationState,
    check_tenant,
    encode_log_record,
    encode_state,
)
from agentrt.memory._summary import RollingSummary, Summarizer, Summary
from agentrt.memory._window import match_messages
from agentrt.memory.stores._base import Store
from agentrt.memory.stores._fencing import Fence
from agentrt.messages import Message, check_message
from agentrt.tokens import TokenEstimator, estimate_tokens, message_tokens

__all__ = ["Conversation"]

_log = logging.getLogger("agentrt.memory.conversation")

# Measured with tracemalloc (CPython 3.11-3.13): an empty conversation with its window
# and sealed tier (its lock and summary state are made when first needed: 423 B less
# than when they were made at once); and per window message, its slots in the window's
# two parallel lists plus the int object of its token count.
_BASE_BYTES = 1_515  # 8 B of it: the slot of the latest turn id (``append_user``)

_WINDOW_SLOT_BYTES = 16  # two list slots, and the token count when past the small ints
_DEFAULT_CONFIG = ConversationConfig()  # frozen: one shared instance, not one per conversation


class Conversation:
    """One agent's conversation memory. See the module docstring."""

    __slots__ = (
        "_append_lock",
        "_closed",
        "_epoch",
        "_estimator",
        "_inline",
        "_journal",
        "_lock_users",
        "_registry",
        "_rolling",
        "_sealed",
        "_summarizer",
        "_system",
        "_turn",
        "_window",
        "config",
        "key",
        "quarantined",
        "tenant",
    )

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
        tenant: str | None = None,
    ) -> None:
        self.key = key
        #: whose conversation this is (the agent's ``tenant``; None: nobody's), recorded
        #: in its head and snapshot for ``list_conversations(store, tenant=...)``
        self.tenant = check_tenant(tenant)
        self.config = config or _DEFAULT_CONFIG
        self._registry = registry
        self._estimator = estimator
        self._journal = journal
        self._system = Message.system(system) if isinstance(system, str) else system
        if self._system is not None:
            check_message(self._system, "system")
        self._epoch = new_epoch(journal.fence if journal is not None else None)
        self._sealed = SealedChunks(key, registry, journal)
        self._window = RecentWindow()
        self._inline = 0  # messages below this index not sealed live in the head only
        #: the turn id of the latest user message appended with one (``append_user``)
        self._turn: str | None = None
        self._closed = False
        self.quarantined: Quarantined | None = None
        """Set by :meth:`open` when it moved damaged records away and started fresh."""
        # made when needed (``_locked``, ``_roll``): the lock exists only while appends,
        # compaction or close run (an idle conversation holds none), and the summary state
        # from the first sealed chunk on
        self._append_lock: asyncio.Lock | None = None
        self._lock_users = 0
        self._summarizer = summarizer
        self._rolling: RollingSummary | None = None

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        """Hold the append lock: made by the first caller in, dropped by the last one
        out, so that an idle conversation holds no lock (88 B)."""
        lock = self._append_lock
        if lock is None:
            lock = self._append_lock = asyncio.Lock()
        self._lock_users += 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users -= 1
            if not self._lock_users:
                self._append_lock = None

    def _roll(self) -> RollingSummary:
        """The summary state, made at the first sealed chunk or restored summary."""
        rolling = self._rolling
        if rolling is None:
            rolling = self._rolling = RollingSummary(
                self._summarizer,
                self.config.summary,
                name=self.key,
                read_chunks=self._sealed.read,
                on_summary=self._summarized,
            )
        return rolling

    @property
    def _covered(self) -> int:
        """Messages the summary covers (0 before any)."""
        return 0 if self._rolling is None else self._rolling.covered

    # -- writing ---------------------------------------------------------------------

    def __len__(self) -> int:
        return self._sealed.stop + len(self._window)

    @property
    def system(self) -> Message | None:
        """The system prompt (not counted among the messages)."""
        return self._system

    @property
    def summary(self) -> Summary | None:
        """The current rolling summary, if any."""
        return None if self._rolling is None else self._rolling.summary

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
        return await self._append(message, None)

    async def append_user(self, message: Message, turn_id: str) -> bool:
        """Append user ``message`` of the turn ``turn_id`` (the turn's cross-node message
        id: ``Turn.msg_id``) once: True when it was appended (as :meth:`append`), False,
        appending nothing, when ``turn_id`` is the turn id of the latest user message
        appended with one. A turn run again by a new node after its owner died with its
        user message stored thus continues from the stored state instead of storing the
        message twice.

        The id is stored with the message (its log record, then the head and snapshots:
        one id per conversation, the latest) and survives restarts, failovers and
        passivation. Only the latest counts: a turn run again after a newer turn of the
        same agent appended its own user message is appended again. ``InvalidArgument``
        for a ``message`` that is not a user message or an empty ``turn_id``; otherwise
        raises like :meth:`append`."""
        if message.role != "user":
            raise InvalidArgument("message", f"takes a user message, got {message.role!r}")
        if not isinstance(turn_id, str) or not turn_id:
            raise InvalidArgument("turn_id", f"must be non-empty text, got {turn_id!r}")
        if turn_id == self._turn:
            if self._closed:
                raise ConversationClosed(self.key)
            return False
        return await self._append(message, turn_id) >= 0

    async def _append(self, message: Message, turn: str | None) -> int:
        """:meth:`append`, recording ``turn`` with a user message; -1 when ``turn`` was
        appended by another call while this one waited for the lock."""
        if self._closed:
            raise ConversationClosed(self.key)
        check_message(message)
        journal = self._journal
        if journal is None:  # nothing below awaits: appends cannot interleave, no lock
            if turn is not None:
                self._turn = turn
            return self._append_unlogged(message)
        return await self._append_logged(journal, (message,), turn)

    async def extend(self, messages: Sequence[Message]) -> None:
        """Append ``messages`` in order. All are checked before the first is added, so a
        bad one adds none (an assistant tool call is never stored without its results).
        With a store, they are journaled in one write: a ``StoreError`` adds none of them."""
        for n, message in enumerate(messages):
            check_message(message, f"messages[{n}]")
        if not messages:
            return
        if self._closed:
            raise ConversationClosed(self.key)
        journal = self._journal
        if journal is None:
            for message in messages:
                self._append_unlogged(message)
            return
        await self._append_logged(journal, messages)

    def _append_unlogged(self, message: Message) -> int:
        tokens = message_tokens(message, self._estimator)
        if self._registry.wants_samples:
            self._registry.offer(encode_message(message))
        return self._hold(message, tokens)

    async def _append_logged(
        self, journal: Journal, messages: Sequence[Message], turn: str | None = None
    ) -> int:
        """Journal ``messages`` (checked) in one write, then hold them; the index of the
        first. Under the append lock (inlined: this is every turn's path), since
        concurrent appends would race for an index. ``turn``: the turn id of a single
        user message (``append_user``), recorded with it; -1, nothing appended, when a
        call that held the lock first appended that turn."""
        lock = self._append_lock
        if lock is None:
            lock = self._append_lock = asyncio.Lock()
        self._lock_users += 1
        try:
            async with lock:
                if self._closed:  # closed while this append waited for its turn
                    raise ConversationClosed(self.key)
                if turn is not None and turn == self._turn:  # appended while this one waited
                    return -1
                index = len(self)
                records: dict[str, bytes] = {}
                tokens: list[int] = []
                mkey, epoch, offer = self._sealed.mkey, self._epoch, self._registry.offer
                for n, message in enumerate(messages):
                    tokens.append(message_tokens(message, self._estimator))
                    payload = encode_message(message)
                    offer(payload)
                    records[mkey(index + n)] = encode_log_record(epoch, message, payload, turn)
                await journal.put_many(records)
                chunks = len(self._sealed)
                if turn is not None:
                    self._turn = turn
                for message, count in zip(messages, tokens, strict=True):
                    self._hold(message, count)
                if len(self._sealed) > chunks:  # sealed now (a failed write retries then too)
                    await self._persist_sealed()
                return index
        finally:
            self._lock_users -= 1
            if not self._lock_users:
                self._append_lock = None

    def _hold(self, message: Message, tokens: int) -> int:
        """Put ``message`` in the window and seal what is due (never awaits: a sealed
        chunk is stored by the caller, ``_persist_sealed``); returns its index."""
        index = len(self)
        window = self._window
        window.hold(message, tokens)
        if window.seal_due(self.config):
            while window.seal_due(self.config):
                self._sealed.add(window.take(self.config.chunk_messages))
            self._roll().notify(len(self._sealed))
            self._evict()
        return index

    async def _persist_sealed(self) -> None:
        """Store the chunks sealed since the last write, with the head naming them."""
        try:
            await self._sealed.persist(self._head())
        except StoreError as exc:  # the messages are in the log: retried at next seal
            _log.warning("conversation %s: storing chunk failed: %s", self.key, exc)
        self._evict()

    def _head(self) -> bytes:
        table = self._sealed.table
        inline = self._window.messages[: max(self._inline - self._sealed.stop, 0)]
        state = ConversationState(
            self._epoch, self._system, self.summary, table, [], inline, self._turn
        )
        return encode_state(state, self._registry, self.tenant)

    async def _summarized(self, summary: Summary) -> None:
        if self._journal is not None:
            await self._journal.put(self._sealed.head_key, self._head())
        self._evict()

    def _evict(self) -> None:
        self._sealed.evict(self.config.resident_chunks, self._covered)

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
        return assemble(
            self._system,
            self.summary,
            (self._window.messages, self._window.tokens),
            budget_tokens,
            self._estimator,
            self._sealed.resident_back(self._covered, self._estimator),
        )

    async def history(self, start: int = 0, stop: int | None = None) -> list[Message]:
        """Messages ``[start:stop]`` (slice semantics, negative indices allowed), sealed or
        not, exactly as appended. Evicted chunks are read from the store."""
        span = range(len(self))[start:stop]
        if not span:
            return []
        lo, hi = span.start, span.stop
        base = self._sealed.stop
        out = await self._sealed.slice(lo, hi)
        out.extend(self._window.messages[max(lo - base, 0) : max(hi - base, 0)])
        return out

    async def iter_history(self, start: int = 0) -> AsyncIterator[Message]:
        """The messages from index ``start`` (negative counts from the end) to the end, as
        appended, one chunk decoded at a time: reading a long conversation never builds
        the whole list. Evicted chunks are read from the store. Messages appended while
        iterating may or may not be included."""
        lo = range(len(self))[start:].start
        sealed = self._sealed
        n = max(0, bisect.bisect_right(sealed.table, lo, key=lambda c: c.start) - 1)
        while n < len(sealed):
            meta = sealed.table[n]
            if meta.stop > lo:
                for message in (await sealed.messages(n))[max(lo - meta.start, 0) :]:
                    yield message
            n += 1
        base = sealed.stop
        for message in list(self._window.messages[max(lo - base, 0) :]):
            yield message

    async def search(self, text: str, *, limit: int = 20) -> list[tuple[int, Message]]:
        """Up to ``limit`` ``(index, message)`` pairs whose content or tool-call arguments
        contain ``text`` (case-insensitive, Unicode casefold), the newest matches, returned
        oldest first. Sealed chunks that cannot match are skipped before decoding."""
        needle = text.casefold()
        if not needle or limit <= 0:
            return []
        found = match_messages(self._window.messages, self._sealed.stop, needle, limit)
        found += await self._sealed.search(needle, limit - len(found))
        return sorted(found, key=lambda pair: pair[0])

    # -- snapshots and durability ----------------------------------------------------

    async def snapshot(self) -> bytes:
        """The whole conversation (system, summary, chunks, window) as one versioned blob.
        Evicted chunks are read back from the store."""
        return await durable.snapshot(self)

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
        fence: Fence | None = None,
    ) -> Conversation:
        """Rebuild a conversation from :meth:`snapshot` bytes (its tenant included).

        Reads every snapshot version (:mod:`agentrt.memory._snapshot`). Raises
        :class:`CorruptSnapshot` naming ``key`` when the bytes do not decode, and
        :class:`UnknownDictionary` when the snapshot's or a chunk's dictionary cannot be
        loaded. With ``store``, the conversation is written there under ``key`` (a new
        epoch) and continues durably; with a ``fence`` too (cluster mode), every write
        is fenced (see :class:`Journal`) and the epoch derives from its token.
        """
        return await durable.restore(
            cls,
            data,
            registry=registry,
            key=key,
            store=store,
            config=config or _DEFAULT_CONFIG,
            summarizer=summarizer,
            estimator=estimator,
            fence=fence,
        )

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
        fence: Fence | None = None,
        tenant: str | None = None,
    ) -> Conversation:
        """The durable conversation ``key`` in ``store``: resumed if it exists (its stored
        system prompt wins), created with ``system`` otherwise. With a ``fence`` (cluster
        mode: the token this incarnation claimed), every write of the conversation is
        fenced (``StaleWrite`` once another node has claimed the agent) and a new
        conversation's epoch derives from the token.

        ``tenant`` (None): whose conversation it is, recorded in its head (rewritten at
        once when a resumed head records another; None keeps the stored one) and listed
        by ``list_conversations(store, tenant=...)``. ``InvalidArgument`` unless None or
        non-empty text of at most 65,535 UTF-8 bytes.

        A record that does not decode: with ``config.on_corrupt="fresh"`` (default) every
        record of ``key`` is moved under a quarantine key first (never overwritten, see
        :mod:`agentrt.memory._quarantine`) and an empty conversation is returned, its
        :attr:`quarantined` saying where the data went; with ``"fail"``,
        :class:`CorruptSnapshot` naming the record's key, the store untouched. A head or
        chunk naming a dictionary version that is neither loaded nor in the store counts
        as damaged (the ``CorruptSnapshot`` names the dictionary id)."""
        options = {"system": system, "summarizer": summarizer, "estimator": estimator}
        options["tenant"] = check_tenant(tenant)
        return await durable.open_stored(
            cls, store, key, registry, config or _DEFAULT_CONFIG, options, fence
        )

    async def wait_summarized(self) -> None:
        """Wait until no summary work is pending (returns at once without a summarizer)."""
        if self._rolling is not None:
            await self._rolling.wait_idle()

    async def flush(self) -> None:
        """Write everything buffered (write-behind) and any chunk whose store write failed."""
        if self._journal is None:
            return
        if self._sealed.unpersisted:
            await self._sealed.persist(self._head())
        await self._journal.flush()

    async def compact(self) -> None:
        """Move the unsealed messages into the head record, one frame compressed with the
        runtime's dictionary, and delete their one-record-per-message entries: a short
        conversation at rest is then one small record. :meth:`aclose` (so passivation and
        shutdown) runs it; a no-op without a store or when nothing was appended since.
        Raises ``StoreError``; a crash half-way loses nothing (the head is written first,
        and a reader ignores message records the head already holds)."""
        if self._journal is None:
            return
        async with self._locked():
            await self._compact()

    async def _compact(self) -> None:
        await durable.compact(self)

    async def erase(self) -> None:
        """Delete this conversation's records from its store (no-op without a store)."""
        await durable.erase(self)

    def memory_bytes(self) -> int:
        """Estimated bytes held in memory: window objects (with the UTF-8 copy CPython
        caches on non-ASCII strings once they are encoded), resident chunk bytes, the
        chunk table, summary and system prompt (the shared dictionaries are not counted).

        Never negative; the test suite holds it within 10% of ``tracemalloc`` on
        mixed-language chat text (``tests/memory/test_memory_bytes.py``), and the memory
        benchmark reports the ratio."""
        recent, compressed, summary = self.memory_tiers()
        system = message_bytes(self._system) if self._system else 0
        turn = sys.getsizeof(self._turn) if self._turn is not None else 0
        return _BASE_BYTES + recent + compressed + summary + system + turn

    def memory_tiers(self) -> tuple[int, int, int]:
        """Estimated bytes held per tier: ``(recent, compressed, summary)``: the recent
        window's messages, the resident compressed chunks with the chunk table, the
        rolling summary. ``memory_bytes()`` is their sum plus the system prompt and a
        fixed overhead. O(chunks)."""
        summary = sys.getsizeof(self.summary.text) + 80 if self.summary else 0
        window = self._window.bytes_held() + len(self._window) * _WINDOW_SLOT_BYTES
        return window, self._sealed.memory_bytes(), summary

    @property
    def chunks(self) -> tuple[ChunkMeta, ...]:
        """The sealed chunks, oldest first: where each starts, how many messages it holds,
        the dictionary that compressed it and its sizes."""
        return tuple(self._sealed.table)

    def stats(self) -> ConversationStats:
        """Sizes, compression ratio, summary coverage and pending writes."""
        rolling = self._roll().stats()
        sealed = self._sealed
        return ConversationStats(
            messages=len(self),
            recent_messages=len(self._window),
            window_tokens=self._window.token_total,
            chunks=len(sealed),
            resident_chunks=sum(d is not None for d in sealed.data),
            raw_bytes=sealed.raw,
            stored_bytes=sealed.stored,
            ratio=round(sealed.raw / sealed.stored, 3) if sealed.stored else 0.0,
            summary_chunks=rolling["summary_chunks"],
            summary_messages=rolling["summary_messages"],
            summary_coverage=(
                round(rolling["summary_messages"] / sealed.stop, 4) if sealed.stop else 0.0
            ),
            summary_calls=rolling["summary_calls"],
            summary_failures=rolling["summary_failures"],
            summary_last_error=rolling["summary_last_error"],
            memory_bytes=self.memory_bytes(),
            window_bytes=self._window.bytes_held(),
            chunk_memory_bytes=self._sealed.memory_bytes(),
            summary_bytes=self.memory_tiers()[2],
            pending_writes=self._journal.pending if self._journal else 0,
        )

    async def aclose(self) -> None:
        """Let an append in flight finish, stop the summary task, :meth:`compact` (a store
        failure there only skips it), then flush the journal (``StoreError`` if that
        fails). Leaves no task behind. Idempotent; the store itself
        is not closed."""
        if self._closed:
            return
        self._closed = True
        async with self._locked():
            if self._rolling is not None:
                await self._rolling.aclose()
            if self._journal is not None:
                if self._sealed.unpersisted:
                    await self._sealed.persist(self._head())
                try:
                    await self._compact()
                except StoreError as exc:  # every message is still in its own record
                    _log.info("conversation %s: compaction skipped: %s", self.key, exc)
                await self._journal.aclose()
