"""Semantic entries shared between nodes through Redis; the search stays in process.

:class:`SemanticShare` is what the runtime gives the pool when its cache is on Redis
(``kind = "redis"``, or ``"two_level"`` with ``l2 = "redis"``; docs/llm.md, "Semantic
cache"). It keeps each node's :class:`~agentrt.llm._semindex.SemanticIndex` in step
with the entries every node wrote:

- **publish**: a node that stores a semantic entry writes the answer to the exact
  cache's shared store under its own key (``"sem:" +`` a BLAKE2b of the context and the
  question; the policy's TTL and tags, so ``invalidate_cache_tag`` reaches it) and then
  the entry (the question's vector as raw float32 bytes, that answer key, the expiry as
  wall-clock time, the tags; msgpack, never pickle) to the context's Redis stream
  (:class:`~agentrt.tools.cache._semantic_store.RedisSemanticStore`: bounded per
  context, server-side TTL);
- **sync**: before a search, a context this node has not loaded, or loaded more than
  ``refresh_s`` ago (default 5 s), is loaded from Redis into the local index: the
  entries added since the last load (each is read once per node), at most the store's
  ``max_per_context`` per load, within the index's ``max_entries``; entries already
  there, expired or damaged are skipped;
- **answer**: a hit is answered from the exact cache's store, which is authoritative:
  an answer that is gone there (invalidated by a tag on any node, or expired) is no hit;
  the entry is dropped here and from the Redis stream. So invalidation and TTL hold
  across nodes without a message between them.

Failure modes, none of which fails a request: an entry read back that does not decode
(not msgpack, fields missing or of the wrong type, a vector whose length differs from
the question's or that is not finite) is skipped, counted in ``damaged``, logged and
emitted as ``("agentrt", "llm", "semantic_entry_damaged")`` (measurement ``count``;
metadata ``context``, ``error``); an answer that does not decode is dropped the same way.
Redis down (an operation fails or times out): counted in ``errors``, logged once per
outage, and Redis is left alone for ``refresh_s`` (so a hung server costs one
``op_timeout`` per interval, not per request): the node searches its local index, and a
hit whose answer store cannot be reached is answered with the node's own copy when it
stored that entry itself (another node's entry is then a miss).

Example::

    share = SemanticShare(RedisSemanticStore(redis_config, "rt1"), llm_response_cache)
    pool = LLMPool(config, response_cache=llm_response_cache, semantic_share=share)
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from hashlib import blake2b
from typing import Any, Protocol

import msgspec

from agentrt.bounds import Bounds
from agentrt.llm._semantic import SemanticCachePolicy
from agentrt.llm._types import ChatResponse
from agentrt.telemetry import Events

__all__ = [
    "SEMANTIC_DAMAGED_EVENT",
    "SemanticShare",
    "SharedEntry",
    "SharedRef",
    "decode_entry",
    "encode_entry",
]

#: Emitted for each damaged shared entry (or shared answer) read back and skipped.
SEMANTIC_DAMAGED_EVENT = ("agentrt", "llm", "semantic_entry_damaged")

_log = logging.getLogger("agentrt.llm.cache")
_MAX_DIM = 65_536


class EntryStore(Protocol):
    """Where shared entries live (``agentrt.tools.cache.RedisSemanticStore``); every
    method raises on failure (``CacheBackendError``)."""

    async def push(self, context: str, entry: bytes, *, ttl: float) -> bytes: ...
    async def load(
        self, context: str, *, after: bytes | None = None
    ) -> list[tuple[bytes, bytes]]: ...
    async def remove(self, context: str, entry_id: bytes) -> int: ...
    async def aclose(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...


class AnswerStore(Protocol):
    """The exact cache's store (``agentrt.tools.cache.LLMResponseCache``): ``get`` raises
    when the store cannot answer; ``put`` never raises for the store's failures."""

    async def get(self, key: str) -> Any | None: ...
    async def put(
        self, key: str, value: Mapping[str, Any], *, cost: float, ttl: float, tags: Sequence[str]
    ) -> None: ...


class SharedEntry(msgspec.Struct, frozen=True):
    """One entry as stored in Redis: ``v`` the vector (raw little-endian float32),
    ``k`` the answer's key in the exact cache's store, ``e`` the expiry (Unix seconds),
    ``t`` the tags."""

    v: bytes
    k: str
    e: float
    t: tuple[str, ...] = ()


class SharedRef:
    """What the local index holds for a shared entry: the answer's key, the entry's id in
    Redis (None until written), the encoded entry and the answer itself when this node
    stored it (``b""`` and None for another node's: the answer is read from the store)."""

    __slots__ = ("entry_id", "key", "local", "raw")

    def __init__(
        self, key: str, entry_id: bytes | None, raw: bytes = b"", local: ChatResponse | None = None
    ) -> None:
        self.key = key
        self.entry_id = entry_id
        self.raw = raw
        self.local = local


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SharedEntry)


def encode_entry(
    vector: Sequence[float], key: str, expires_at: float, tags: Sequence[str]
) -> bytes:
    """The msgpack bytes of one shared entry (the vector as float32)."""
    import numpy as np

    raw = np.asarray(vector, dtype="<f4").tobytes()
    return _encoder.encode(SharedEntry(v=raw, k=key, e=expires_at, t=tuple(tags)))


def decode_entry(raw: bytes, dim: int) -> tuple[SharedEntry, Any]:
    """The entry in ``raw`` and its vector (numpy float32, ``dim`` long). Raises
    ValueError naming what is wrong: not msgpack, a field missing or of the wrong type,
    a vector of another length, a value that is not finite."""
    import numpy as np

    try:
        entry = _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"undecodable entry: {exc}") from None
    if len(entry.v) != 4 * dim or not 0 < dim <= _MAX_DIM:
        raise ValueError(f"vector of {len(entry.v)} bytes, expected {dim} float32 ({4 * dim})")
    vector = np.frombuffer(entry.v, dtype="<f4")
    if not bool(np.isfinite(vector).all()) or not math.isfinite(entry.e) or not entry.k:
        raise ValueError("a vector value or the expiry is not finite, or the key is empty")
    return entry, vector


def answer_key(context: str, question: str) -> str:
    """The key a shared entry's answer has in the exact cache's store."""
    digest = blake2b(f"{context}\n{question}".encode(), digest_size=16).hexdigest()
    return f"sem:{digest}"


class SemanticShare:
    """Semantic entries shared through Redis (see the module docs). ``refresh_s``: how
    old a context's loaded copy may be before it is loaded again (default 5.0; > 0);
    ``max_contexts``: how many contexts' load times are remembered (default 10,000);
    a bad value is a ``ConfigError`` naming it.
    ``clock`` (monotonic) and ``wall`` (Unix seconds) are for tests. Owns ``entries``
    (:meth:`aclose`), not ``answers``."""

    def __init__(
        self,
        entries: EntryStore,
        answers: AnswerStore,
        *,
        refresh_s: float = 5.0,
        max_contexts: int = 10_000,
        events: Events | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.entries = entries
        self.answers = answers
        self.refresh_s = float(
            Bounds(low=0, open_low=True, unit=" s").check(refresh_s, "refresh_s")
        )
        self._max_contexts = Bounds(low=1).check(max_contexts, "max_contexts", int)
        self._events = events
        self._clock = clock
        self._wall = wall
        # context -> (when loaded, the last stream id read)
        self._loaded: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()
        self._quiet_until = -math.inf  # Redis is left alone until then after a failure
        self.loads = 0
        self.loaded = 0
        self.published = 0
        self.stale = 0
        self.damaged = 0
        self.errors = 0
        self.local_answers = 0

    def ref(
        self,
        context: str,
        question: str,
        vector: Sequence[float],
        response: ChatResponse,
        policy: SemanticCachePolicy,
    ) -> SharedRef:
        """The local index's entry for an answer this node is about to store."""
        key = answer_key(context, question)
        raw = encode_entry(vector, key, self._wall() + policy.ttl_s, ("llm", *policy.tags))
        return SharedRef(key, None, raw, response)

    async def publish(self, context: str, ref: SharedRef, policy: SemanticCachePolicy) -> None:
        """Write ``ref``'s answer to the exact cache's store, then the entry to Redis."""
        assert ref.local is not None
        value = msgspec.to_builtins(ref.local)
        await self.answers.put(
            ref.key, value, cost=ref.local.cost, ttl=policy.ttl_s, tags=policy.tags
        )
        if self._quiet():
            return
        try:
            ref.entry_id = await self.entries.push(context, ref.raw, ttl=policy.ttl_s)
        except Exception as exc:
            self._failed("write an entry", exc)
            return
        self.published += 1

    async def sync(self, context: str, index: Any, dim: int) -> None:
        """Load ``context``'s shared entries into ``index`` unless loaded less than
        ``refresh_s`` ago (vectors must have ``dim`` values)."""
        now = self._clock()
        seen, after = self._loaded.get(context, (None, None))
        if (seen is not None and now - seen < self.refresh_s) or self._quiet():
            return
        self._loaded[context] = (now, after)
        self._loaded.move_to_end(context)
        while len(self._loaded) > self._max_contexts:
            self._loaded.popitem(last=False)
        try:
            found = await self.entries.load(context, after=after)
        except Exception as exc:
            self._failed("load entries", exc)
            return
        self.loads += 1
        if found and context in self._loaded:
            self._loaded[context] = (self._loaded[context][0], found[-1][0])
        present = {ref.key for ref in index.answers(context) if isinstance(ref, SharedRef)}
        wall = self._wall()
        for entry_id, raw in found:
            try:
                entry, vector = decode_entry(raw, dim)
            except ValueError as exc:
                self._damaged(context, exc)
                continue
            if entry.e <= wall or entry.k in present:
                continue
            present.add(entry.k)
            ref = SharedRef(entry.k, entry_id)
            if index.add(context, vector, ref, ttl=entry.e - wall, tags=entry.t):
                self.loaded += 1

    async def answer(self, context: str, ref: SharedRef, index: Any) -> ChatResponse | None:
        """The answer of the entry ``ref`` that matched: from the exact cache's store;
        None when it is gone there (the entry is dropped here and in Redis) or damaged;
        this node's own copy when the store cannot be reached (None for another
        node's entry)."""
        if self._quiet():
            return self._own(ref)
        try:
            value = await self.answers.get(ref.key)
        except Exception as exc:
            self._failed("read an answer", exc)
            return self._own(ref)
        if value is not None:
            try:
                return msgspec.convert(value, ChatResponse)
            except (msgspec.ValidationError, TypeError, ValueError) as exc:
                self._damaged(context, ValueError(f"answer does not decode: {exc}"))
        else:
            self.stale += 1
        index.discard(context, ref)
        if ref.entry_id is not None and not self._quiet():
            try:
                await self.entries.remove(context, ref.entry_id)
            except Exception as exc:
                self._failed("remove an entry", exc)
        return None

    def _own(self, ref: SharedRef) -> ChatResponse | None:
        self.local_answers += ref.local is not None
        return ref.local

    def _quiet(self) -> bool:
        return self._clock() < self._quiet_until

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        if not self._quiet():
            _log.warning(
                "semantic cache: could not %s on Redis (%s: %s); using this node's entries "
                "for %.1f s",
                what,
                type(exc).__name__,
                exc,
                self.refresh_s,
            )
        self._quiet_until = self._clock() + self.refresh_s

    def _damaged(self, context: str, exc: ValueError) -> None:
        self.damaged += 1
        _log.warning("semantic cache: skipping a damaged shared entry (%s): %s", context, exc)
        events = self._events
        if events is not None and events.listening(SEMANTIC_DAMAGED_EVENT):
            events.emit(
                SEMANTIC_DAMAGED_EVENT, {"count": 1}, {"context": context, "error": str(exc)}
            )

    async def aclose(self) -> None:
        """Close the entry store (its Redis client)."""
        await self.entries.aclose()

    def stats(self) -> dict[str, Any]:
        """Loads, entries loaded / published, stale hits (answer gone), damaged entries,
        Redis errors, answers given from this node's copy, the refresh interval, and the
        entry store's stats."""
        return {
            "refresh_s": self.refresh_s,
            "loads": self.loads,
            "loaded": self.loaded,
            "published": self.published,
            "stale": self.stale,
            "damaged": self.damaged,
            "errors": self.errors,
            "local_answers": self.local_answers,
            "store": self.entries.stats(),
        }
