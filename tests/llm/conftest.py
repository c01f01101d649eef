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
    return LLMPool(PoolConfig(providers=providers, **kwargs))


def ask(text: str, **kwargs: Any) -> ChatRequest:
    return ChatRequest(model="mock", messages=(Message.user(text),), **kwargs)
