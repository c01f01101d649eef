"""The failure modes of real servers and proxies, as the mock LLM server plays them.

Pure functions building what a misbehaving server sends: the "wait this long" headers
in each form servers use (:func:`retry_headers`), a context-length error in each server's
dialect (:func:`context_error`), usage with cached and reasoning tokens
(:func:`usage_body`). :mod:`agentrt.llm._mockserver` picks them per request.

Example::

    >>> retry_headers("x-ratelimit-reset", 360.0)["x-ratelimit-reset-requests"]
    '6m0s'
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Literal

__all__ = [
    "DIALECTS",
    "RETRY_HEADERS",
    "ErrorDialect",
    "RetryHeader",
    "context_error",
    "go_duration",
    "retry_headers",
    "usage_body",
]

RetryHeader = Literal[
    "retry-after",
    "retry-after-date",
    "retry-after-ms",
    "llm_provider-retry-after",
    "x-ratelimit-reset",
    "x-ratelimit-reset-tokens",
]
"""How the mock says "wait": ``Retry-After`` in seconds or as an HTTP date,
``retry-after-ms``, LiteLLM's ``llm_provider-retry-after``, or OpenAI's
``x-ratelimit-remaining-requests: 0`` + ``x-ratelimit-reset-requests`` duration (with
``x-ratelimit-reset-tokens``: the token budget is spent instead, the request budget is
not, ``x-ratelimit-remaining-tokens: 0`` + ``x-ratelimit-reset-tokens``)."""
RETRY_HEADERS: tuple[RetryHeader, ...] = (
    "retry-after",
    "retry-after-date",
    "retry-after-ms",
    "llm_provider-retry-after",
    "x-ratelimit-reset",
    "x-ratelimit-reset-tokens",
)

ErrorDialect = Literal["openai", "anthropic", "litellm", "vllm", "ollama", "llamacpp"]
"""Whose words the mock uses for a context-length error."""
DIALECTS: tuple[ErrorDialect, ...] = (
    "openai",
    "anthropic",
    "litellm",
    "vllm",
    "ollama",
    "llamacpp",
)


def go_duration(seconds: float) -> str:
    """``seconds`` the way OpenAI's rate-limit headers write it: ``20ms``, ``1s``,
    ``6m0s``, ``1h2m3s``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"{int(hours)}h" if hours else ""
    if hours or minutes:
        out += f"{int(minutes)}m"
    return out + f"{secs:g}s"


def retry_headers(form: RetryHeader, seconds: float) -> dict[str, str]:
    """The headers telling a client to wait ``seconds``, in the ``form`` given."""
    if form == "retry-after-date":
        return {"Retry-After": email.utils.formatdate(time.time() + seconds, usegmt=True)}
    if form == "retry-after-ms":
        return {"retry-after-ms": str(round(seconds * 1000))}
    if form == "llm_provider-retry-after":
        return {"llm_provider-retry-after": f"{seconds:g}"}
    if form == "x-ratelimit-reset-tokens":
        return {
            "x-ratelimit-remaining-requests": "99",
            "x-ratelimit-reset-requests": "1ms",
            "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset-tokens": go_duration(seconds),
        }
    if form == "x-ratelimit-reset":
        return {
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": go_duration(seconds),
        }
    return {"Retry-After": f"{seconds:g}"}


def context_error(dialect: ErrorDialect, prompt: int, window: int) -> dict[str, Any]:
    """The 400 body a server of ``dialect`` sends for a ``prompt``-token request to a
    model whose window is ``window`` tokens."""
    if dialect == "anthropic":
        message = f"prompt is too long: {prompt} tokens > {window} maximum"
        return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    if dialect == "litellm":
        message = (
            "litellm.ContextWindowExceededError: litellm.BadRequestError: "
            f"ContextWindowExceededError: prompt of {prompt} tokens, window {window}"
        )
        return {"error": {"message": message, "type": None, "param": None, "code": "400"}}
    if dialect == "vllm":
        message = (
            f"This model's maximum context length is {window} tokens. However, you "
            f"requested {prompt} tokens. Please reduce the length of the messages."
        )
        return {"object": "error", "message": message, "type": "BadRequestError", "code": 400}
    if dialect == "ollama":
        return {"error": "the input length exceeds the context length"}
    if dialect == "llamacpp":
        message = f"request ({prompt} tokens) exceeds the available context size ({window} tokens)"
        return {"error": {"code": 400, "message": message, "type": "exceed_context_size_error"}}
    message = (
        f"This model's maximum context length is {window} tokens. However, your messages "
        f"resulted in {prompt} tokens. Please reduce the length of the messages."
    )
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }


def usage_body(prompt: int, completion: int, *, details: bool, bad: bool = False) -> dict[str, Any]:
    """OpenAI's usage object; ``details`` adds cached (half the prompt) and reasoning
    (half the completion) tokens; ``bad`` makes the counts negative."""
    sign = -1 if bad else 1
    usage: dict[str, Any] = {
        "prompt_tokens": sign * prompt,
        "completion_tokens": sign * completion,
        "total_tokens": sign * (prompt + completion),
    }
    if details:
        usage["prompt_tokens_details"] = {"cached_tokens": prompt // 2}
        usage["completion_tokens_details"] = {"reasoning_tokens": completion // 2}
    return usage
