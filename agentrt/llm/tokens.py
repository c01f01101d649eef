"""Token estimates made before a call (for rate limits), reconciled afterwards with the
provider's reported usage.

The estimate is deliberately simple and fast (about four characters per token, plus a
few tokens of framing per message); it only has to be good enough to pace a token bucket.

Example::

    >>> estimate_tokens("hello world")
    3
"""

from __future__ import annotations

from agentrt.llm.types import ChatRequest

__all__ = ["estimate_request_tokens", "estimate_tokens"]

_PER_MESSAGE = 4
_DEFAULT_COMPLETION = 256


def estimate_tokens(text: str) -> int:
    """About one token per four characters; at least 1 for non-empty text."""
    return (len(text) + 3) // 4


def estimate_request_tokens(request: ChatRequest) -> int:
    """Input tokens of ``request`` plus its ``max_tokens`` (or 256) for the completion."""
    total = 0
    for message in request.messages:
        total += _PER_MESSAGE + estimate_tokens(message.content)
        for call in message.tool_calls:
            total += estimate_tokens(call.name) + estimate_tokens(call.arguments)
    for tool in request.tools:
        total += estimate_tokens(tool.name) + estimate_tokens(tool.description) + 16
    return total + (request.max_tokens or _DEFAULT_COMPLETION)
