"""The semantic cache's in-process vector index: numpy brute force, bounded, with TTLs.

Entries are grouped by context key (``agentrt.llm._semkey``): a lookup compares the
question's vector only with the entries of its own context, by one matrix-vector product
over that group's unit vectors (cosine similarity), masks the expired rows, and returns
the best entry when its similarity is at least the threshold. Cost grows linearly with
the entries of one context: loadtest/bench/semantic_cache.py measures it up to 100,000
entries (docs/llm.md, "Semantic cache", for the figures and where it stops being cheap).

Bounded: at most ``max_entries`` entries in all (default 10,000); adding past the bound
evicts the oldest entry first. A vector whose dimension differs from its group's, or
whose norm is 0, is never stored and never matches (counted in ``rejected``).
Expired entries are removed when a lookup or an add meets them.

Example::

    index = SemanticIndex(max_entries=1000)
    index.add("ctx", [0.1, 0.9], answer, ttl=600, tags=("faq",))
    index.search("ctx", [0.1, 0.8], threshold=0.95)   # (answer, 0.99...) or None
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from agentrt.errors import ConfigError

__all__ = ["SemanticIndex"]

_Floats = npt.NDArray[np.float32]


class _Group:
    """The entries of one context: rows ``0..count-1`` of ``vectors`` are live."""

    __slots__ = ("answers", "count", "expires", "ids", "rows", "tags", "vectors")

    def __init__(self, dim: int) -> None:
        self.vectors: _Floats = np.zeros((8, dim), dtype=np.float32)
        self.expires: npt.NDArray[np.float64] = np.zeros(8, dtype=np.float64)
        self.ids: list[int] = []
        self.answers: list[Any] = []
        self.tags: list[tuple[str, ...]] = []
        self.rows: dict[int, int] = {}
        self.count = 0

    def append(self, entry_id: int, unit: _Floats, expires: float, answer: Any, tags: Any) -> None:
        if self.count == len(self.vectors):
            grown = np.zeros((2 * len(self.vectors), self.vectors.shape[1]), dtype=np.float32)
            grown[: self.count] = self.vectors
            self.vectors = grown
            self.expires = np.concatenate([self.expires, np.zeros(len(self.expires))])
        row = self.count
        self.vectors[row] = unit
        self.expires[row] = expires
        self.ids.append(entry_id)
        self.answers.append(answer)
        self.tags.append(tags)
        self.rows[entry_id] = row
        self.count += 1

    def remove(self, entry_id: int) -> None:
        """Drop an entry: the last row moves into its place."""
        row = self.rows.pop(entry_id)
        last = self.count - 1
        if row != last:
            moved = self.ids[last]
            self.vectors[row] = self.vectors[last]
            self.expires[row] = self.expires[last]
            self.ids[row] = moved
            self.answers[row] = self.answers[last]
            self.tags[row] = self.tags[last]
            self.rows[moved] = row
        self.ids.pop()
        self.answers.pop()
        self.tags.pop()
        self.count = last


class SemanticIndex:
    """In-process vectors of cached questions, by context (see the module docs).

    ``max_entries``: the bound over all contexts (default 10,000; 1 to 10,000,000).
    ``clock``: seconds, for TTLs (default ``time.monotonic``). ``redis_vector_search``:
    what the node's Redis offers, when the runtime asked (reported in :meth:`stats`; a
    Redis-backed index is not built, docs/llm.md). Not thread-safe: one event loop owns
    it (the pool's)."""

    #: where the vectors are searched (reported in the pool's stats)
    backend = "in_process"

    def __init__(
        self,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        redis_vector_search: str | None = None,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise ConfigError("max_entries", f"expected an int, got {max_entries!r}")
        if not 1 <= max_entries <= 10_000_000:
            raise ConfigError("max_entries", f"must be 1..10000000, got {max_entries}")
        self.max_entries = max_entries
        self.redis_vector_search = redis_vector_search
        self._clock = clock
        self._groups: dict[str, _Group] = {}
        self._order: OrderedDict[int, str] = OrderedDict()  # entry id -> context, oldest first
        self._next_id = 0
        self.evicted = 0
        self.expired = 0
        self.rejected = 0

    def __len__(self) -> int:
        return len(self._order)

    def search(
        self, context: str, vector: Sequence[float], threshold: float
    ) -> tuple[Any, float] | None:
        """The answer of the closest live entry of ``context`` and its cosine
        similarity, when that is at least ``threshold``; else None."""
        group = self._groups.get(context)
        if group is None or group.count == 0:
            return None
        unit = self._unit(vector, group)
        if unit is None:
            return None
        count = group.count
        similarity = group.vectors[:count] @ unit
        dead = group.expires[:count] <= self._clock()
        if dead.any():
            similarity[dead] = -np.inf
        best = int(np.argmax(similarity))
        score = float(similarity[best])
        answer = group.answers[best]  # before the purge moves rows
        if dead.any():
            self._purge(context, group, dead)
        if score < threshold:
            return None
        return answer, score

    def add(
        self,
        context: str,
        vector: Sequence[float],
        answer: Any,
        *,
        ttl: float,
        tags: Sequence[str] = (),
    ) -> bool:
        """Store ``answer`` for a question with ``vector`` under ``context`` for ``ttl``
        seconds; False when the vector was rejected (zero norm, wrong dimension)."""
        group = self._groups.get(context)
        unit = self._unit(vector, group)
        if unit is None:
            return False
        while len(self._order) >= self.max_entries:
            oldest, where = next(iter(self._order.items()))
            self._remove(where, oldest)
            self.evicted += 1
        group = self._groups.get(context)  # the eviction may have emptied it
        if group is None:
            group = self._groups[context] = _Group(len(unit))
        entry_id = self._next_id
        self._next_id += 1
        group.append(entry_id, unit, self._clock() + ttl, answer, tuple(tags))
        self._order[entry_id] = context
        return True

    def answers(self, context: str) -> list[Any]:
        """The answers stored under ``context`` (live or not yet purged)."""
        group = self._groups.get(context)
        return [] if group is None else list(group.answers[: group.count])

    def discard(self, context: str, answer: Any) -> bool:
        """Drop the entry of ``context`` whose answer is ``answer`` (the same object);
        True when there was one."""
        group = self._groups.get(context)
        if group is None:
            return False
        for entry_id, stored in zip(group.ids, group.answers, strict=True):
            if stored is answer:
                self._remove(context, entry_id)
                return True
        return False

    def invalidate_tag(self, tag: str) -> int:
        """Drop every entry stored with ``tag``; how many."""
        doomed = [
            (context, entry_id)
            for context, group in self._groups.items()
            for entry_id, tags in zip(group.ids, group.tags, strict=True)
            if tag in tags
        ]
        for context, entry_id in doomed:
            self._remove(context, entry_id)
        return len(doomed)

    def stats(self) -> dict[str, Any]:
        """The backend, what Redis offers (None: not asked), entries, contexts, the
        bound, and evicted / expired / rejected counts."""
        return {
            "backend": self.backend,
            "redis_vector_search": self.redis_vector_search,
            "entries": len(self._order),
            "contexts": len(self._groups),
            "max_entries": self.max_entries,
            "evicted": self.evicted,
            "expired": self.expired,
            "rejected": self.rejected,
        }

    def _unit(self, vector: Sequence[float], group: _Group | None) -> _Floats | None:
        unit = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(unit)) if unit.ndim == 1 else 0.0
        if (
            norm == 0.0
            or not np.isfinite(norm)
            or (group is not None and unit.shape[0] != group.vectors.shape[1])
        ):
            self.rejected += 1
            return None
        return unit / norm

    def _purge(self, context: str, group: _Group, dead: npt.NDArray[np.bool_]) -> None:
        for entry_id in [group.ids[int(row)] for row in np.flatnonzero(dead)]:
            self._remove(context, entry_id)
            self.expired += 1

    def _remove(self, context: str, entry_id: int) -> None:
        group = self._groups[context]
        group.remove(entry_id)
        del self._order[entry_id]
        if group.count == 0:
            del self._groups[context]
