"""Provider adapters: OpenAI-compatible and Anthropic wire formats, and the in-process mock."""

from __future__ import annotations

from agentrt.llm.providers.anthropic import AnthropicAdapter, AnthropicStreamDecoder
from agentrt.llm.providers.base import Adapter, SSEParser, StreamDecoder, error_for_status
from agentrt.llm.providers.mock import MockProvider
from agentrt.llm.providers.openai import OpenAIAdapter, OpenAIStreamDecoder

__all__ = [
    "Adapter",
    "AnthropicAdapter",
    "AnthropicStreamDecoder",
    "MockProvider",
    "OpenAIAdapter",
    "OpenAIStreamDecoder",
    "SSEParser",
    "StreamDecoder",
    "error_for_status",
]
