"""Token estimates made before a call (for rate limits), reconciled afterwards with the
provider's reported usage.

The estimate is deliberately simple and fast (about four characters per token, plus a
few tokens of framing per message); it only has to be good enough to pace a token bucket.

Example::

    >>> estimate_tokens("hello world")
    3
"""

from __future__ import annotations

from agentrt.llm._types import ChatRequest
from agentrt.tokens import TokenEstimator, estimate_tokens, message_tokens

__all__ = ["estimate_request_tokens", "estimate_tokens"]

_DEFAULT_COMPLETION = 256


def estimate_request_tokens(
    request: ChatRequest, estimator: TokenEstimator = estimate_tokens
) -> int:
    """Input tokens of ``request`` plus its ``max_tokens`` (or 256) for the completion.

    ``estimator`` counts the tokens of one text (default: about four characters per
    token); pass a real tokenizer's count, as ``Conversation`` takes one
    (``LLMPool(estimator=...)``)."""
    total = sum(message_tokens(message, estimator) for message in request.messages)
    for tool in request.tools:
        total += estimator(tool.name) + estimator(tool.description) + 16
    return total + (request.max_tokens or _DEFAULT_COMPLETION)
