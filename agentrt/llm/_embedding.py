"""Embeddings through the pool: micro-batched per model, retried and failed over.

``Embeddings`` is the part of :class:`~agentrt.llm._pool.LLMPool` behind ``pool.embed``:
one :class:`~agentrt.llm._batching.EmbeddingBatcher` per model (created on first use, with
the batch config of the model's first provider), whose batches go across the model's
provider chain like a chat request (``agentrt.llm._failover``), without a per-agent queue
place (a batch serves many callers). Each answered batch is charged to its provider's
stats (input tokens only: embeddings have no output).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agentrt.llm._batching import EmbeddingBatcher
from agentrt.llm._failover import across, attempt
from agentrt.llm._lane import ProviderLane
from agentrt.llm._types import EmbeddingResponse, Priority

__all__ = ["Embeddings"]


class Embeddings:
    """The pool's embedding batchers. ``chain(model)``: the providers serving ``model``
    (raises ``InvalidRequest`` when none); ``closed()``: whether the pool closed."""

    def __init__(
        self,
        chain: Callable[[str], tuple[ProviderLane, ...]],
        closed: Callable[[], bool],
    ) -> None:
        self._chain = chain
        self._closed = closed
        self._batchers: dict[str, EmbeddingBatcher] = {}

    async def embed(self, texts: Sequence[str], model: str, deadline: float) -> EmbeddingResponse:
        """Vectors for ``texts`` (in order), batched with other callers' texts."""
        batcher = self._batchers.get(model)
        if batcher is None:
            config = self._chain(model)[0].config.batch
            batcher = self._batchers[model] = EmbeddingBatcher(self._send, config)
        return await batcher.embed(texts, model=model, deadline=deadline)

    async def aclose(self) -> None:
        """Fail pending batches with ``PoolClosed``."""
        for batcher in self._batchers.values():
            await batcher.aclose()

    def stats(self) -> dict[str, Any]:
        """Each model's batcher stats."""
        return {m: b.stats() for m, b in self._batchers.items()}

    async def _send(self, texts: list[str], model: str, deadline: float) -> EmbeddingResponse:
        charged: set[object] = set()
        return await across(
            self._chain(model),
            lambda p, last: self._send_once(p, texts, model, deadline, charged, last),
            deadline,
            self._closed,
        )

    async def _send_once(
        self,
        provider: ProviderLane,
        texts: list[str],
        model: str,
        deadline: float,
        charged: set[object],
        last: bool,
    ) -> EmbeddingResponse:
        response, _ = await attempt(
            provider,
            model,
            "embeddings",
            deadline,
            last,
            lambda: provider.admit(None, None, deadline, Priority.NORMAL, model),
            lambda until: provider.backend.embed(texts, model=model, until=until, charged=charged),
            "waiting for embeddings",
            self._closed,
        )
        provider.queue.release()
        stats = provider.stats
        stats.succeeded += 1
        stats.embed_calls += 1
        stats.embed_inputs += len(texts)
        cost = provider.config.cost(response.usage.input_tokens, 0)  # embeddings: input only
        stats.add_usage(response.usage, cost, model)
        return response
