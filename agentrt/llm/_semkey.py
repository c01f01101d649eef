"""The exact part of a semantic lookup: everything but the final question's text.

:func:`semantic_context_key` is what a semantic hit must match exactly (docs/llm.md,
"Semantic cache"; ``agentrt.llm._semantic``): the scope's principal, the embedding model,
and the normalised request as the exact cache keys it
(:func:`~agentrt.llm._cache.normalised_request`) with the last message's content left
out.

Example::

    semantic_context_key(request, policy, "a1", None)   # "gpt-4o-mini:3f2a..."
"""

from __future__ import annotations

from hashlib import blake2b

from agentrt.llm._cache import canonical_json, normalised_request
from agentrt.llm._errors import InvalidRequest
from agentrt.llm._semantic import SemanticCachePolicy, SemanticScope
from agentrt.llm._types import ChatRequest

__all__ = ["semantic_context_key"]


def semantic_context_key(
    request: ChatRequest,
    policy: SemanticCachePolicy,
    agent_id: str | None,
    tenant_id: str | None,
) -> str:
    """``"{model}:{128-bit BLAKE2b}"`` of the principal, the embedding model and the
    request without its last message's content (see the module docs).

    Raises :class:`InvalidRequest` when the policy's scope is ``"agent"`` without an
    ``agent_id`` or ``"tenant"`` without a ``tenant_id``."""
    body = normalised_request(request)
    if body["messages"]:
        body["messages"][-1].pop("content", None)
    head = {"scope": _principal(policy.scope, agent_id, tenant_id), "embed": policy.embedding_model}
    digest = blake2b(canonical_json([head, body]), digest_size=16).hexdigest()
    return f"{request.model}:{digest}"


def _principal(scope: SemanticScope, agent_id: str | None, tenant_id: str | None) -> str:
    if scope == "agent":
        if not agent_id:
            raise InvalidRequest("agent_id", "the semantic cache's scope 'agent' needs one")
        return f"a:{agent_id}"
    if scope == "tenant":
        if not tenant_id:
            raise InvalidRequest("tenant_id", "the semantic cache's scope 'tenant' needs one")
        return f"t:{tenant_id}"
    return "s"
