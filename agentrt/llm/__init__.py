"""LLM access: provider adapters, the shared pool, and the mock LLM server.

One :class:`LLMPool` per node is shared by every agent: per provider a pooled HTTP client,
a concurrency limit with a bounded fair queue, rpm/tpm token buckets, retries with
backoff honouring ``Retry-After``, circuit breakers, failover, replica balancing with
agent affinity, embedding micro-batching, coalescing of identical deterministic requests,
streaming with time-to-first-token, and per-provider/per-agent accounting. See
docs/llm.md.

Example::

    from agentrt.llm import ChatRequest, LLMPool, PoolConfig, ProviderConfig
    from agentrt.messages import Message

    config = PoolConfig(providers=(ProviderConfig(name="local", base_urls=(url,)),))
    async with LLMPool(config) as pool:
        reply = await pool.chat(ChatRequest(model="mock", messages=(Message.user("hi"),)))
"""

from __future__ import annotations

from agentrt.llm.accounting import AgentStats, AgentStatsTable, ProviderStats
from agentrt.llm.backend import Backend, ChunkSource, Endpoint, HTTPBackend
from agentrt.llm.balance import Balancer, stable_hash
from agentrt.llm.batching import Coalescer, EmbeddingBatcher
from agentrt.llm.breaker import BreakerState, CircuitBreaker
from agentrt.llm.cache import ResponseCache
from agentrt.llm.config import (
    DEFAULT_CONCURRENCY,
    BatchConfig,
    BreakerConfig,
    PoolConfig,
    ProviderConfig,
    ProviderKind,
    RetryPolicy,
    TransportKind,
)
from agentrt.llm.errors import (
    AuthenticationError,
    BadRequest,
    CircuitOpen,
    ContextLengthExceeded,
    DeadlineExceeded,
    InvalidRequest,
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
from agentrt.llm.mockreply import MockReply, mock_embedding, mock_reply
from agentrt.llm.mockserver import (
    MalformedMode,
    MockLLMServer,
    MockServerConfig,
    MockServerState,
    build_app,
    serve_mock_llm,
)
from agentrt.llm.pool import CHAT_EVENT, LLMPool
from agentrt.llm.presets import Anthropic, OpenAI, from_url, pool_config
from agentrt.llm.providers import (
    Adapter,
    AnthropicAdapter,
    AnthropicStreamDecoder,
    MockProvider,
    OpenAIAdapter,
    OpenAIStreamDecoder,
    SSEParser,
    StreamDecoder,
    error_for_status,
)
from agentrt.llm.queue import FairQueue
from agentrt.llm.ratelimit import RateLimiter, TokenBucket
from agentrt.llm.retry import (
    backoff_delay,
    is_retryable,
    parse_duration,
    parse_retry_after,
    retry_after_from_headers,
)
from agentrt.llm.streaming import ChatStream
from agentrt.llm.structured import SchemaValidators
from agentrt.llm.tokens import estimate_request_tokens, estimate_tokens
from agentrt.llm.transport import AiohttpTransport, create_client, read_response
from agentrt.llm.types import (
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

__all__ = [
    "CHAT_EVENT",
    "DEFAULT_CONCURRENCY",
    "Adapter",
    "AgentStats",
    "AgentStatsTable",
    "AiohttpTransport",
    "Anthropic",
    "AnthropicAdapter",
    "AnthropicStreamDecoder",
    "AuthenticationError",
    "Backend",
    "BadRequest",
    "Balancer",
    "BatchConfig",
    "BreakerConfig",
    "BreakerState",
    "ChatRequest",
    "ChatResponse",
    "ChatStream",
    "ChunkSource",
    "CircuitBreaker",
    "CircuitOpen",
    "Coalescer",
    "ContextLengthExceeded",
    "DeadlineExceeded",
    "EmbeddingBatcher",
    "EmbeddingResponse",
    "Endpoint",
    "FairQueue",
    "FinishReason",
    "HTTPBackend",
    "InvalidRequest",
    "JsonSchemaFormat",
    "LLMError",
    "LLMPool",
    "MalformedMode",
    "MalformedResponse",
    "MockLLMServer",
    "MockProvider",
    "MockReply",
    "MockServerConfig",
    "MockServerState",
    "OpenAI",
    "OpenAIAdapter",
    "OpenAIStreamDecoder",
    "Overloaded",
    "PoolClosed",
    "PoolConfig",
    "Priority",
    "ProviderConfig",
    "ProviderError",
    "ProviderKind",
    "ProviderStats",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RateLimiter",
    "ResponseCache",
    "ResponseTooLarge",
    "RetryPolicy",
    "SSEParser",
    "SchemaValidators",
    "StreamChunk",
    "StreamDecoder",
    "TokenBucket",
    "ToolSpec",
    "TransportKind",
    "Usage",
    "backoff_delay",
    "build_app",
    "create_client",
    "error_for_status",
    "estimate_request_tokens",
    "estimate_tokens",
    "from_url",
    "is_retryable",
    "mock_embedding",
    "mock_reply",
    "parse_duration",
    "parse_retry_after",
    "pool_config",
    "read_response",
    "request_key",
    "retry_after_from_headers",
    "serve_mock_llm",
    "stable_hash",
]
