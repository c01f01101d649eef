"""Fixtures for the LLM layer's tests: a mock LLM HTTP server per test and pool builders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentrt.llm import (
    BreakerConfig,
    ChatRequest,
    LLMPool,
    MockLLMServer,
    PoolConfig,
    ProviderConfig,
    RetryPolicy,
    serve_mock_llm,
)
from agentrt.messages import Message
from agentrt.telemetry import Telemetry

FAST_RETRY = RetryPolicy(max_retries=3, base_delay_s=0.001, max_delay_s=0.005)


@pytest.fixture
async def server() -> AsyncIterator[MockLLMServer]:
    async with serve_mock_llm() as running:
        yield running


def provider(url: str, name: str = "mock", **kwargs: Any) -> ProviderConfig:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("breaker", BreakerConfig(failure_threshold=100))
    urls = tuple(url) if isinstance(url, list) else (url,)
    return ProviderConfig(name=name, base_urls=urls, **kwargs)


def make_pool(*providers: ProviderConfig, **kwargs: Any) -> LLMPool:
    """A pool reporting per-agent usage to a ``Telemetry`` of its own (``agent_view``)."""
    return LLMPool(PoolConfig(providers=providers, **kwargs), recorder=Telemetry())


def agent_view(pool: LLMPool, agent_id: str) -> dict[str, Any] | None:
    """The usage ``pool`` reported for ``agent_id`` (its ``Telemetry`` record's view)."""
    recorder = pool.recorder
    assert isinstance(recorder, Telemetry)
    return recorder.agent(agent_id)


def ask(text: str, **kwargs: Any) -> ChatRequest:
    return ChatRequest(model="mock", messages=(Message.user(text),), **kwargs)
