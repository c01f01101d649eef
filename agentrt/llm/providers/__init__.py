"""Provider adapters: OpenAI-compatible and Anthropic wire formats, and the in-process mock.

The wire adapters are internal codecs that ``ProviderConfig.kind`` selects; what users
use directly is :class:`MockProvider`, a scripted backend to pass to ``LLMPool(backends=)``.
"""

from __future__ import annotations

from agentrt.llm.providers._mock import MockProvider

__all__ = [
    "MockProvider",
]
