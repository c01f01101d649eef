"""The sealed tier of a conversation: compressed chunks, their table and their records.

:class:`SealedChunks` holds what :class:`~agentrt.memory.Conversation` has sealed: the
chunk table (:class:`~agentrt.memory.ChunkMeta`, oldest first) and each chunk's zstd bytes,
or ``None`` once the chunk is evicted (stored and summarized: read back on demand). It
names the durable keys of one conversation ``K`` (``K/head``, ``K/c/{n}``, ``K/m/{i}``,
see :mod:`agentrt.memory._snapshot`) and writes chunk records through the conversation's
:class:`~agentrt.memory._durability.Journal`. It is plain state, not a task: the
conversation's append lock serializes every change.

A chunk that does not decompress or decode, or whose record is missing from the store,
raises :class:`~agentrt.memory._errors.CorruptSnapshot` naming the chunk's key.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterator, Sequence

import msgspec
import zstandard

from agentrt.memory._codec import ChunkMeta, decode_messages, open_chunk, seal
from agentrt.memory._dictionary import DictionaryRegistry
from agentrt.memory._durability import Journal
from agentrt.memory._errors import CorruptSnapshot
from agentrt.memory._snapshot import decode_chunk_record, encode_chunk_record, encode_log_record
from agentrt.memory._window import fit_suffix, match_messages
from agentrt.messages import Message
from agentrt.tokens import TokenEstimator, message_tokens

__all__ = ["SealedChunks"]

# The empty table and bodies every tier starts with; never mutated (``add`` replaces them)
_NO_TABLE: list[ChunkMeta] = []
_NO_DATA: list[bytes | None] = []
_NO_TOTALS: list[int] = []
_UNKNOWN, _SPLIT = -2, -1  # a chunk's token total not computed yet / not whole units


class SealedChunks:
    """The sealed chunks of the conversation ``key`` (see the module docstring).

    ``table``: one :class:`ChunkMeta` per chunk, contiguous from message 0; ``data``: the
    chunk's compressed bytes, ``None`` when evicted; ``persisted``: how many chunks (from
    the first) are in the store; ``raw``/``stored``: total sizes before/after compression.
    ``totals``: per chunk, its messages' token total when they are whole units (see
    :meth:`resident_back`), computed on first use (chunks never change once sealed).
    """

    __slots__ = (
        "_journal", "_registry", "data", "key", "persisted", "raw", "stored", "table", "totals",
    )  # fmt: skip

    def __init__(self, key: str, registry: DictionaryRegistry, journal: Journal | None) -> None:
        self.key = key
        self._registry = registry
        self._journal = journal
        # the shared empty lists until the first chunk (most conversations never seal
        # one): 112 B less per conversation; ``add`` and ``adopt`` make its own
        self.table: list[ChunkMeta] = _NO_TABLE
        self.data: list[bytes | None] = _NO_DATA
        self.totals: list[int] = _NO_TOTALS
        self.persisted = 0
        self.raw = self.stored = 0

    def __len__(self) -> int:
        return len(self.table)

    @property
    def stop(self) -> int:
        """How many messages are sealed (the index of the first one that is not)."""
        return self.table[-1].stop if self.table else 0

    def mkey(self, index: int) -> str:
        """The store key of unsealed message ``index``."""
        return f"{self.key}/m/{index}"

    def ckey(self, n: int) -> str:
        """The store key of chunk ``n``."""
        return f"{self.key}/c/{n}"

    @property
    def head_key(self) -> str:
        """The store key of the conversation's head record."""
        return f"{self.key}/head"

    def add(self, batch: Sequence[Message]) -> None:
        """Seal ``batch`` (the oldest window messages) into a new resident chunk."""
        meta, data = seal(batch, start=self.stop, registry=self._registry)
        if self.table is _NO_TABLE:  # the first chunk: the lists become this tier's own
            self.table, self.data, self.totals = [], [], []
        self.table.append(meta)
        self.data.append(data)
        self.totals.append(_UNKNOWN)
        self.raw += meta.raw_size
        self.stored += meta.stored_size

    def adopt(self, table: Sequence[ChunkMeta], data: list[bytes | None]) -> None:
        """Take a restored chunk table and its bytes (``None`` for evicted chunks)."""
        if not table:  # nothing sealed: keep the shared empty lists
            self.table, self.data, self.totals = _NO_TABLE, _NO_DATA, _NO_TOTALS
        else:
            self.table, self.data = list(table), data
            self.totals = [_UNKNOWN] * len(table)
        self.raw = sum(c.raw_size for c in self.table)
        self.stored = sum(c.stored_size for c in self.table)

    @property
    def unpersisted(self) -> bool:
        """Whether a sealed chunk is not in the store yet (its store write failed)."""
        return self.persisted < len(self.table)

    async def persist(self, head: bytes) -> None:
        """Store every chunk not stored yet with ``head``, then delete the message-log
        records those chunks replace. Raises ``StoreError``; a failed call is retried
        whole by the next one."""
        assert self._journal is not None
        first = self.persisted
        items = {
            self.ckey(n): encode_chunk_record(self._resident(n)) for n in range(first, len(self))
        }
        items[self.head_key] = head
        await self._journal.put_many(items)
        low = self.table[first].start if first < len(self) else self.stop
        self.persisted = len(self)
        await self._journal.delete(*(self.mkey(i) for i in range(low, self.stop)))

    async def log_all(self, epoch: int, messages: Sequence[Message]) -> None:
        """Store ``messages`` as the message log of ``epoch`` after the sealed ones."""
        assert self._journal is not None
        base = self.stop
        items = {self.mkey(base + i): encode_log_record(epoch, m) for i, m in enumerate(messages)}
        await self._journal.put_many(items)

    def _resident(self, n: int) -> bytes:
        data = self.data[n]
        assert data is not None, "unpersisted chunks are never evicted"
        return data

    def evict(self, limit: int | None, covered: int) -> None:
        """Drop the bytes of the oldest resident chunks beyond ``limit`` that are both
        stored and among the first ``covered`` (summarized). No-op without a store or
        without a limit."""
        if limit is None or self._journal is None:
            return
        resident = [n for n, data in enumerate(self.data) if data is not None]
        excess = len(resident) - limit
        stop = min(covered, self.persisted)
        for n in resident:
            if excess <= 0 or n >= stop:
                break
            self.data[n] = None
            excess -= 1

    def open(self, n: int, data: bytes) -> list[Message]:
        """The messages of chunk ``n`` from its bytes ``data``."""
        try:
            return open_chunk(self.table[n], data, self._registry)
        except (zstandard.ZstdError, msgspec.MsgspecError, ValueError) as exc:
            raise CorruptSnapshot(self.ckey(n), f"chunk does not decode: {exc}") from exc

    def _decompress(self, n: int, data: bytes) -> bytes:
        meta = self.table[n]
        try:
            return self._registry.decompress(meta.dict_id, data, meta.raw_size)
        except zstandard.ZstdError as exc:
            raise CorruptSnapshot(self.ckey(n), f"chunk does not decompress: {exc}") from exc

    async def data_of(self, n: int) -> bytes:
        """Compressed bytes of chunk ``n``: resident, or read back from the store."""
        data = self.data[n]
        if data is not None:
            return data
        assert self._journal is not None, "chunks are evicted only with a store"
        key = self.ckey(n)
        record = await self._journal.read(key)
        if record is None:
            raise CorruptSnapshot(key, "sealed chunk missing from the store")
        return decode_chunk_record(key, record, self.table[n])

    async def messages(self, n: int) -> list[Message]:
        """The messages of chunk ``n``, resident or not."""
        return self.open(n, await self.data_of(n))

    async def read(self, first: int, end: int) -> list[Message]:
        """The messages of chunks ``first`` to ``end`` (exclusive), in order."""
        out: list[Message] = []
        for n in range(first, end):
            out.extend(await self.messages(n))
        return out

    async def slice(self, lo: int, hi: int) -> list[Message]:
        """The sealed messages with indices in ``[lo, hi)``, decoding only the chunks
        that hold some of them."""
        out: list[Message] = []
        first = max(0, bisect.bisect_right(self.table, lo, key=lambda c: c.start) - 1)
        for n in range(first, len(self)):
            meta = self.table[n]
            if meta.start >= hi:
                break
            if meta.stop > lo:
                out.extend((await self.messages(n))[max(lo - meta.start, 0) : hi - meta.start])
        return out

    def resident_back(
        self, stop: int, estimator: TokenEstimator
    ) -> Iterator[tuple[list[Message], int | None]]:
        """``(messages, total)`` of each chunk from the newest back to chunk ``stop``,
        decoded lazily; ends early at the first evicted chunk. ``total``: the chunk's
        tokens (by ``estimator``, the conversation's own) when its messages are whole
        units (:func:`~agentrt.memory._window.fit_suffix` takes all of them given the
        budget), else None; kept per chunk after the first use, so a prompt that holds
        whole chunks does not estimate their messages again."""
        totals = self.totals
        for n in range(len(self) - 1, stop - 1, -1):
            data = self.data[n]
            if data is None:
                return
            messages = self.open(n, data)
            total = totals[n]
            if total == _UNKNOWN:
                tokens = [message_tokens(m, estimator) for m in messages]
                first, used = fit_suffix(messages, tokens, sys.maxsize)
                total = totals[n] = used if first == 0 else _SPLIT
            yield messages, (None if total == _SPLIT else total)

    async def search(self, needle: str, limit: int) -> list[tuple[int, Message]]:
        """Up to ``limit`` ``(index, message)`` pairs matching the casefolded ``needle``,
        newest chunks first. A chunk whose ASCII bytes cannot hold an ASCII ``needle`` is
        skipped before decoding."""
        found: list[tuple[int, Message]] = []
        probe = needle.encode() if needle.isascii() else None
        for n in range(len(self) - 1, -1, -1):
            if len(found) >= limit:
                break
            raw = self._decompress(n, await self.data_of(n))
            if probe is not None and raw.isascii() and probe not in raw.lower():
                continue  # cannot match: skip decoding
            try:
                messages = decode_messages(raw)
            except msgspec.MsgspecError as exc:
                raise CorruptSnapshot(self.ckey(n), f"chunk does not decode: {exc}") from exc
            start = self.table[n].start
            found.extend(match_messages(messages, start, needle, limit - len(found)))
        return found

    def memory_bytes(self) -> int:
        """Bytes held by the resident chunks and the chunk table."""
        chunk_bytes = sum(sys.getsizeof(d) + 8 for d in self.data if d is not None)
        table = len(self.table) * (sys.getsizeof(self.table[0]) + 8 + 36) if self.table else 0
        return chunk_bytes + table  # + 36: a chunk's token total (an int and its slot)
