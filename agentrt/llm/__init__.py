"""LLM access: provider adapters, the shared pool, and the mock LLM server.

One :class:`LLMPool` per node is shared by every agent: per provider a pooled HTTP client,
a concurrency limit with a bounded fair queue, rpm/tpm token buckets, retries with
backoff honouring ``Retry-After``, circuit breakers, failover, replica balancing with
agent affinity, embedding micro-batching, coalescing of identical deterministic requests,
streaming with time-to-first-token, and per-provider accounting (per-agent usage goes
to the pool's ``recorder``: the runtime's ``Telemetry``). See docs/llm.md.

Example::

    from agentrt.llm import ChatRequest, LLMPool, PoolConfig, ProviderConfig
    from agentrt.messages import Message

    config = PoolConfig(providers=(ProviderConfig(name="local", base_urls=(url,)),))
    async with LLMPool(config) as pool:
        reply = await pool.chat(ChatRequest(model="mock", messages=(Message.user("hi"),)))
"""

from __future__ import annotations

from agentrt.llm._backend import Backend, ChunkSource, Endpoint, HTTPBackend
from agentrt.llm._cache import ResponseCache, ResponseCachePolicy, response_cache_key
from agentrt.llm._cachepath import CACHE_DECODE_ERROR_EVENT
from agentrt.llm._config import (
    DEFAULT_CONCURRENCY,
    BatchConfig,
    BreakerConfig,
    PoolConfig,
    ProviderConfig,
    ProviderKind,
    RetryPolicy,
    SharedLimits,
    TransportKind,
)
from agentrt.llm._errors import (
    AuthenticationError,
    BadRequest,
    CircuitOpen,
    ContextLengthExceeded,
    DeadlineExceeded,
    InvalidRequest,
    LimitStateDamaged,
    LLMError,
    MalformedResponse,
    Overloaded,
    PoolClosed,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ResponseTooLarge,
)
from agentrt.llm._mockserver import (
    MalformedMode,
    MockLLMServer,
    MockServerConfig,
    MockServerState,
    serve_mock_llm,
)
from agentrt.llm._pool import CHAT_EVENT, LLMPool
from agentrt.llm._presets import Anthropic, OpenAI
from agentrt.llm._semantic import SemanticCachePolicy, SemanticScope
from agentrt.llm._sempath import SEMANTIC_HIT_EVENT, SEMANTIC_INDEX_EVENT
from agentrt.llm._semshare import SEMANTIC_DAMAGED_EVENT, SemanticShare
from agentrt.llm._sharedlimit import SHARED_LIMIT_FALLBACK_EVENT, SHARED_LIMIT_RESTORED_EVENT
from agentrt.llm._streaming import ChatStream
from agentrt.llm._tokens import estimate_tokens
from agentrt.llm._transport import AiohttpTransport, BodyTooLarge, ByteSender
from agentrt.llm._types import (
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    FinishReason,
    JsonSchemaFormat,
    Priority,
    StreamChunk,
    ToolSpec,
    Usage,
    request_key,
)
from agentrt.llm.providers import MockProvider

__all__ = [
    "CACHE_DECODE_ERROR_EVENT",
    "CHAT_EVENT",
    "DEFAULT_CONCURRENCY",
    "SEMANTIC_DAMAGED_EVENT",
    "SEMANTIC_HIT_EVENT",
    "SEMANTIC_INDEX_EVENT",
    "SHARED_LIMIT_FALLBACK_EVENT",
    "SHARED_LIMIT_RESTORED_EVENT",
    "AiohttpTransport",
    "Anthropic",
    "AuthenticationError",
    "Backend",
    "BadRequest",
    "BatchConfig",
    "BodyTooLarge",
    "BreakerConfig",
    "ByteSender",
    "ChatRequest",
    "ChatResponse",
    "ChatStream",
    "ChunkSource",
    "CircuitOpen",
    "ContextLengthExceeded",
    "DeadlineExceeded",
    "EmbeddingResponse",
    "Endpoint",
    "FinishReason",
    "HTTPBackend",
    "InvalidRequest",
    "JsonSchemaFormat",
    "LLMError",
    "LLMPool",
    "LimitStateDamaged",
    "MalformedMode",
    "MalformedResponse",
    "MockLLMServer",
    "MockProvider",
    "MockServerConfig",
    "MockServerState",
    "OpenAI",
    "Overloaded",
    "PoolClosed",
    "PoolConfig",
    "Priority",
    "ProviderConfig",
    "ProviderError",
    "ProviderKind",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "ResponseCache",
    "ResponseCachePolicy",
    "ResponseTooLarge",
    "RetryPolicy",
    "SemanticCachePolicy",
    "SemanticIndex",
    "SemanticScope",
    "SemanticShare",
    "SharedLimits",
    "StreamChunk",
    "ToolSpec",
    "TransportKind",
    "Usage",
    "estimate_tokens",
    "request_key",
    "response_cache_key",
    "serve_mock_llm",
]

# SemanticIndex needs numpy (the `semantic` extra): loaded on first access only.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentrt.llm._semindex import SemanticIndex
else:
    from agentrt._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {"SemanticIndex": "agentrt.llm._semindex"})
