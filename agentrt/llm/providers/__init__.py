"""Provider adapters: OpenAI-compatible and Anthropic wire formats, and the in-process mock."""

from __future__ import annotations

from agentrt.llm.providers.mock import MockProvider

__all__ = [
    "MockProvider",
]
