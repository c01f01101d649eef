"""Public test helpers: the fakes and fixtures agentrt's own tests use.

Users get the same pieces for their tests: managed ``redis-server`` and ``memcached``
processes, and (from
each layer) in-memory fakes such as the mock LLM provider, in-memory stores and
in-memory OpenTelemetry providers. ``InMemoryMetricExporter`` and ``InMemoryOTel`` are
handed on lazily: importing this package loads no OpenTelemetry SDK until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.testing._llm import (
    MockLLMError,
    MockLLMProcess,
    MockProvider,
    MockServerConfig,
    serve_mock_llm,
)
from agentrt.testing._memcached_server import (
    MemcachedServer,
    MemcachedServerError,
    memcached_answers,
)
from agentrt.testing._memory import FlakyStore, ScriptedSummarizer
from agentrt.testing._redis_server import RedisServer, RedisServerError, redis_answers

if TYPE_CHECKING:
    from agentrt.testing._telemetry import InMemoryMetricExporter, InMemoryOTel
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        dict.fromkeys(["InMemoryMetricExporter", "InMemoryOTel"], "agentrt.testing._telemetry"),
    )

__all__ = [
    "FlakyStore",
    "InMemoryMetricExporter",
    "InMemoryOTel",
    "MemcachedServer",
    "MemcachedServerError",
    "MockLLMError",
    "MockLLMProcess",
    "MockProvider",
    "MockServerConfig",
    "RedisServer",
    "RedisServerError",
    "ScriptedSummarizer",
    "memcached_answers",
    "redis_answers",
    "serve_mock_llm",
]
