"""The semantic LLM cache's policy and its exact part: what must match besides the question.

A semantic hit answers a request with the answer stored for an earlier request whose
**final user question** is close in meaning (cosine similarity of their embeddings at
least the policy's ``threshold``). Everything else must match exactly, so the context key
(``agentrt.llm._semkey``) is a 128-bit BLAKE2b of: the scope's principal (shared, the
agent id or the tenant id), the embedding model, and the normalised request without
its last message's content, as :func:`~agentrt.llm._cache.response_cache_key` sees it
(the model, the system prompt and every earlier message, the tools, ``tool_choice``,
``response_format`` and the sampling parameters). Only the final user question is
compared by embedding.

A request has a question (:func:`final_question`) when its last message is a user
message whose content is text (a string, or only text parts); a request ending in a tool
result or carrying an image is not looked up semantically.

Example::

    policy = SemanticCachePolicy(enabled=True, embedding_model="text-embedding-3-small")
    pool_policy = ResponseCachePolicy(semantic=policy)   # exact cache off, semantic on
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.llm._types import ChatRequest

__all__ = [
    "DEFAULT_THRESHOLD",
    "SEMANTIC_OFF",
    "SemanticCachePolicy",
    "SemanticScope",
    "final_question",
]

#: Who shares semantic entries: everyone, one agent, or the agents of one tenant.
SemanticScope = Literal["shared", "agent", "tenant"]
_SCOPES = ("shared", "agent", "tenant")
_INSTALL = "pip install 'agentrt-actors[semantic]'"

#: The default similarity threshold, chosen from loadtest/bench/semantic_cache.py's curve
#: with all-MiniLM-L6-v2 (docs/llm.md, "Semantic cache"): the lowest threshold with at
#: most 1% false hits on the labelled near misses and 1% wrong answers in the cache
#: simulation. It trades hits for safety (about 9% of paraphrases hit at 0.96 with that
#: model); re-measure with the embedding model you deploy.
DEFAULT_THRESHOLD = 0.96


@dataclass(frozen=True, kw_only=True)
class SemanticCachePolicy:
    """Whether and how paraphrased questions are answered from the cache (docs/llm.md,
    "Semantic cache"). Off by default; it rides on a ``ResponseCachePolicy``
    (``ResponseCachePolicy(semantic=...)``), so it is chosen per request, per agent or
    per pool like the exact cache, independently of that cache's ``enabled``.

    - ``enabled``: look questions up by embedding (default False);
    - ``embedding_model``: the model the pool's ``embed`` uses for questions (required
      when enabled; one embedding call per looked-up request, batched with others);
    - ``threshold``: the least cosine similarity that counts as the same question
      (default :data:`DEFAULT_THRESHOLD`; in (0, 1]);
    - ``scope``: ``"shared"`` (default), ``"agent"`` or ``"tenant"``: whose earlier
      answers a request may get (a tenant-scoped lookup needs the caller's tenant);
    - ``ttl_s``: seconds an entry stays (default 3600; > 0, at most 30 days);
    - ``tags``: for ``LLMPool.invalidate_cache_tag`` (every entry also carries ``"llm"``);
    - ``allow_nonzero_temperature``: look up requests whose temperature is not 0
      (default False).

    Raises :class:`~agentrt.errors.ConfigError` naming the field; enabling it without
    numpy installed (``pip install 'agentrt-actors[semantic]'``) is a ``ConfigError``.

    Example::

        SemanticCachePolicy(enabled=True, embedding_model="mock-embed", scope="tenant")
    """

    enabled: bool = False
    embedding_model: str = ""
    threshold: Annotated[float, Bounds(low=0, open_low=True, high=1)] = DEFAULT_THRESHOLD
    scope: SemanticScope = "shared"
    ttl_s: Annotated[float, Bounds(low=0, open_low=True, high=30 * 86_400)] = 3600.0
    tags: tuple[str, ...] = ()
    allow_nonzero_temperature: bool = False

    def __post_init__(self) -> None:
        for name in ("enabled", "allow_nonzero_temperature"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"expected a bool, got {getattr(self, name)!r}")
        if self.scope not in _SCOPES:
            raise ConfigError("scope", f"must be one of {_SCOPES}, got {self.scope!r}")
        if not isinstance(self.embedding_model, str):
            raise ConfigError("embedding_model", f"expected a string, got {self.embedding_model!r}")
        tags: Any = self.tags
        if isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags):
            raise ConfigError("tags", f"expected a tuple of non-empty strings, got {tags!r}")
        object.__setattr__(self, "tags", tuple(self.tags))
        check_fields(self)
        if self.enabled:
            if not self.embedding_model:
                raise ConfigError("embedding_model", "required when the semantic cache is enabled")
            try:
                import numpy  # noqa: F401
            except ImportError:
                raise ConfigError(
                    "enabled",
                    "the semantic cache needs numpy: pip install 'agentrt-actors[semantic]'",
                ) from None


def final_question(request: ChatRequest) -> str | None:
    """The text of ``request``'s last message when it is a user message of text only
    (a string, or text parts joined with newlines); None otherwise."""
    if not request.messages:
        return None
    last = request.messages[-1]
    if last.role != "user":
        return None
    content: Any = last.content
    if isinstance(content, str):
        return content
    texts = [getattr(part, "text", None) for part in content]
    if not texts or not all(isinstance(t, str) for t in texts):
        return None
    return "\n".join(str(t) for t in texts)


#: The default: off.
SEMANTIC_OFF = SemanticCachePolicy()
