"""The pool's semantic-cache path: embed the question, search, answer or fill.

:class:`SemanticPath` sits in front of the pool's exact path (the exact response cache,
coalescing, the provider chain). For a request whose policy has the semantic cache on
(``ResponseCachePolicy.semantic``), a deterministic temperature (unless allowed) and a
text question (:func:`~agentrt.llm._semantic.final_question`):

1. the question is embedded through the pool's ``embed`` (micro-batched with other
   callers; charged to the agent like any embedding call);
2. the :class:`~agentrt.llm._semindex.SemanticIndex` is searched among the entries of
   the same context (:func:`~agentrt.llm._semkey.semantic_context_key`: model, system
   prompt, earlier turns, tools, sampling parameters and scope all match exactly);
3. a hit (similarity at least ``threshold``) returns the stored answer with
   ``cached=True``, zero usage and cost 0.0; what it saved is accounted by the exact
   cache's path (``CachePath.saved(..., semantic=True)``: the same per-agent and
   per-model figures, counted in ``semantic_hits`` too), and
   ``("agentrt", "llm", "semantic_cache_hit")`` is emitted (measurement ``similarity``;
   metadata ``model``, ``agent_id``, ``scope``);
4. a miss goes down the exact path; a fresh answer (not itself from the cache) is
   stored with the question's vector for ``ttl_s`` under the policy's tags.

With a ``share`` (:class:`~agentrt.llm._semshare.SemanticShare`, the runtime's when its
cache is on Redis), step 2 first loads the context's entries other nodes wrote, a hit is
answered from the exact cache's shared store (no hit when the answer is gone there), and
step 4 also writes the entry and its answer for the other nodes.

Failure modes: an embedding call that fails (an ``LLMError`` other than the caller's
deadline) is counted in ``embed_errors``, logged, and the request goes down the exact
path uncached: the semantic cache never fails a request. Concurrent paraphrases that
all miss each go to the provider (there is no single-flight between different
questions; identical ones share the exact cache's fill when that is on).

Example::

    path = SemanticPath(exact, pool.embed, events)
    policy = path.policy(request, response_policy)   # None: no semantic lookup
    response = await path.chat(request, policy, "a1", None, recorder, send, deadline, exact=False)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from agentrt.llm._cache import ResponseCachePolicy
from agentrt.llm._cachepath import CachePath
from agentrt.llm._errors import DeadlineExceeded, LLMError
from agentrt.llm._semantic import SemanticCachePolicy, final_question
from agentrt.llm._semkey import semantic_context_key
from agentrt.llm._semshare import SemanticShare, SharedRef
from agentrt.llm._types import ChatRequest, ChatResponse, EmbeddingResponse, Usage
from agentrt.telemetry import Events, UsageRecorder

if TYPE_CHECKING:
    from agentrt.llm._semindex import SemanticIndex

__all__ = ["SEMANTIC_HIT_EVENT", "SEMANTIC_INDEX_EVENT", "SemanticPath"]

#: Emitted on each semantic hit, with the similarity that made it one.
SEMANTIC_HIT_EVENT = ("agentrt", "llm", "semantic_cache_hit")
#: Emitted by the runtime at start when its pool's semantic cache is on and its cache is
#: on Redis: the index in use and what the Redis server offers (``agentrt.runtime``).
SEMANTIC_INDEX_EVENT = ("agentrt", "llm", "semantic_index")

_log = logging.getLogger("agentrt.llm.cache")
_NO_USAGE = Usage()

Embed = Callable[..., Awaitable[EmbeddingResponse]]


class SemanticPath:
    """The semantic cache as the pool uses it (see the module docs). ``index``: where
    vectors live (default: a :class:`SemanticIndex` of 10,000 entries, made on first
    use, so numpy loads only when the semantic cache is used). ``share``: entries shared
    with other nodes through Redis (``agentrt.llm._semshare``; None: this node's only)."""

    def __init__(
        self,
        exact: CachePath,
        embed: Embed,
        events: Events | None = None,
        index: SemanticIndex | None = None,
        share: SemanticShare | None = None,
    ) -> None:
        self._exact = exact
        self._embed = embed
        self._events = events
        self._index = index
        self._share = share
        self.lookups = 0
        self.hits = 0
        self.misses = 0
        self.skipped = 0
        self.embed_errors = 0
        self.stored = 0

    @property
    def index(self) -> SemanticIndex:
        """The vector index (made on first use)."""
        if self._index is None:
            from agentrt.llm._semindex import SemanticIndex

            self._index = SemanticIndex()
        return self._index

    def policy(
        self, request: ChatRequest, override: ResponseCachePolicy | None
    ) -> SemanticCachePolicy | None:
        """The semantic policy that looks ``request`` up (from ``override``, else the
        pool's default), or None (off; a nonzero temperature it does not allow, or no
        text question: counted in ``skipped``)."""
        semantic = (self._exact.default if override is None else override).semantic
        if not semantic.enabled:
            return None
        allowed = semantic.allow_nonzero_temperature or request.temperature == 0
        if not allowed or final_question(request) is None:
            self.skipped += 1
            return None
        return semantic

    async def chat(
        self,
        request: ChatRequest,
        policy: SemanticCachePolicy,
        agent_id: str | None,
        tenant_id: str | None,
        recorder: UsageRecorder | None,
        send: Callable[[], Awaitable[ChatResponse]],
        deadline: float,
        *,
        exact: bool,
    ) -> ChatResponse:
        """The answer to ``request``: a close question's stored answer, or ``send()``'s
        (then stored). ``exact``: ``send`` goes through the exact cache, which counts
        the miss (else it is counted here). Raises ``InvalidRequest`` for a scope
        without its principal."""
        context = semantic_context_key(request, policy, agent_id, tenant_id)
        question = final_question(request)
        assert question is not None  # policy() checked
        vector = await self._vector(question, policy, agent_id, deadline)
        if vector is None:
            return await send()
        self.lookups += 1
        share = self._share
        if share is not None:
            await share.sync(context, self.index, len(vector))
        found = self.index.search(context, vector, policy.threshold)
        stored: ChatResponse | None = None
        if found is not None:
            stored, similarity = found
            if share is not None and isinstance(stored, SharedRef):
                stored = await share.answer(context, stored, self.index)
        if stored is not None:
            self.hits += 1
            self._exact.saved(request.model, stored, agent_id, recorder, semantic=True)
            self._emit(request, agent_id, policy, similarity)
            return msgspec.structs.replace(stored, usage=_NO_USAGE, cost=0.0, cached=True)
        self.misses += 1
        if not exact:
            self._exact.missed(agent_id, recorder)
        response = await send()
        if not response.cached:
            await self._store(context, question, vector, response, policy)
        return response

    async def _store(
        self,
        context: str,
        question: str,
        vector: Sequence[float],
        response: ChatResponse,
        policy: SemanticCachePolicy,
    ) -> None:
        share = self._share
        answer: Any = response
        if share is not None:
            answer = share.ref(context, question, vector, response, policy)
        if not self.index.add(
            context, vector, answer, ttl=policy.ttl_s, tags=("llm", *policy.tags)
        ):
            return
        self.stored += 1
        if share is not None:
            await share.publish(context, answer, policy)

    async def _vector(
        self, question: str, policy: SemanticCachePolicy, agent_id: str | None, deadline: float
    ) -> Sequence[float] | None:
        try:
            response = await self._embed(
                [question], model=policy.embedding_model, agent_id=agent_id, deadline=deadline
            )
        except DeadlineExceeded:
            raise
        except LLMError as exc:
            self.embed_errors += 1
            _log.warning(
                "semantic cache: embedding with %r failed (%s: %s); asking without it",
                policy.embedding_model,
                type(exc).__name__,
                exc,
            )
            return None
        return response.vectors[0]

    def _emit(
        self,
        request: ChatRequest,
        agent_id: str | None,
        policy: SemanticCachePolicy,
        similarity: float,
    ) -> None:
        events = self._events
        if events is not None and events.listening(SEMANTIC_HIT_EVENT):
            events.emit(
                SEMANTIC_HIT_EVENT,
                {"similarity": similarity},
                {"model": request.model, "agent_id": agent_id, "scope": policy.scope},
            )

    def invalidate_tag(self, tag: str) -> int:
        """Drop the entries stored with ``tag`` (``"llm"``: all)."""
        return 0 if self._index is None else self._index.invalidate_tag(tag)

    def stats(self) -> dict[str, Any]:
        """Lookups, hits, misses, hit ratio, skipped, embedding errors, entries stored,
        the index's stats (``backend``: where vectors are searched), and ``shared``: the
        :class:`SemanticShare`'s stats (None: entries are this node's only)."""
        index: dict[str, Any] = {"backend": "in_process", "redis_vector_search": None}
        if self._index is not None:
            index = self._index.stats()
        share = None if self._share is None else self._share.stats()
        return {
            "lookups": self.lookups,
            "hits": self.hits,
            "misses": self.misses,
            "hit_ratio": round(self.hits / self.lookups, 4) if self.lookups else 0.0,
            "skipped": self.skipped,
            "embed_errors": self.embed_errors,
            "stored": self.stored,
            "index": index,
            "shared": share,
        }
