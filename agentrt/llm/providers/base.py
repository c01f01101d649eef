"""What every HTTP provider adapter shares: the adapter protocol, the SSE parser and the
mapping of HTTP error statuses onto the exception tree.

An *adapter* is a codec, free of I/O: it turns a :class:`ChatRequest` into a request body
and a response body (or a stream of SSE events) into :class:`ChatResponse` /
:class:`StreamChunk`. Every problem in what the server sent becomes a
:class:`MalformedResponse` naming the provider and the problem.

Status mapping (:func:`error_for_status`):

=============================  ==========================================
400, 404, 413, 422, other 4xx  :class:`BadRequest` (never retried)
401, 403                       :class:`AuthenticationError` (never retried)
408                            :class:`ProviderTimeout` (retried)
409, 5xx, 529                  :class:`ProviderUnavailable` (retried)
429                            :class:`RateLimited` with ``retry_after`` (retried)
anything else                  :class:`MalformedResponse`
=============================  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import msgspec

from agentrt.llm.errors import (
    AuthenticationError,
    BadRequest,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from agentrt.llm.retry import parse_retry_after
from agentrt.llm.types import ChatRequest, ChatResponse, EmbeddingResponse, StreamChunk

__all__ = ["Adapter", "SSEParser", "StreamDecoder", "error_for_status"]


class StreamDecoder(Protocol):
    """Turns the SSE events of one streamed response into chunks."""

    def feed(self, event: str, data: str) -> list[StreamChunk]:
        """Chunks carried by one event (often one, sometimes none)."""
        ...

    def end(self) -> None:
        """The stream ended: raise MalformedResponse unless it ended properly."""
        ...


class Adapter(Protocol):
    """A provider's wire format (see the module docstring)."""

    kind: str
    chat_path: str
    embed_path: str | None

    def headers(self, api_key: str | None) -> dict[str, str]: ...

    def encode_chat(self, request: ChatRequest, model: str, *, stream: bool) -> bytes: ...

    def decode_chat(self, provider: str, body: bytes) -> ChatResponse: ...

    def stream_decoder(self, provider: str) -> StreamDecoder: ...

    def encode_embed(self, texts: Sequence[str], model: str) -> bytes: ...

    def decode_embed(self, provider: str, body: bytes, count: int) -> EmbeddingResponse: ...


class SSEParser:
    """Incremental Server-Sent Events parser: bytes in, ``(event, data)`` pairs out.

    Follows the SSE rules that matter for LLM APIs: ``event:`` and ``data:`` fields (several
    ``data:`` lines are joined with newlines), comments (``:``) ignored, an event dispatched
    at a blank line, ``\\n``, ``\\r\\n`` and ``\\r`` line ends. :attr:`pending` tells
    whether the stream stopped in the middle of an event.
    """

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []

    @property
    def pending(self) -> bool:
        """True when an unfinished line or event is buffered (a truncated stream)."""
        return bool(self._buffer.strip() or self._data)

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        text = self._buffer + chunk.decode("utf-8", errors="replace")
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._buffer = lines.pop()
        out: list[tuple[str, str]] = []
        for line in lines:
            if not line:
                if self._data:
                    out.append((self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                self._data.append(value)
            elif field == "event":
                self._event = value
        return out


class _ErrorBody(msgspec.Struct):
    message: str = ""
    type: str = ""


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorBody | str | None = None


def _error_message(body: bytes) -> str:
    try:
        envelope = msgspec.json.decode(body, type=_ErrorEnvelope)
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = body[:200].decode("utf-8", errors="replace").strip()
        return text or "no error details"
    if isinstance(envelope.error, _ErrorBody):
        kind = f"{envelope.error.type}: " if envelope.error.type else ""
        return kind + (envelope.error.message or "no message")
    return envelope.error or "no error details"


def error_for_status(
    provider: str, status: int, body: bytes, headers: Mapping[str, str]
) -> ProviderError:
    """The exception for an HTTP error answer (see the table in the module docstring)."""
    message = _error_message(body)
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        return RateLimited(provider, message, status=status, retry_after=retry_after)
    if status in (401, 403):
        return AuthenticationError(provider, message, status=status)
    if status == 408:
        return ProviderTimeout(provider, message, status=status)
    if status == 409 or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"))
        return ProviderUnavailable(provider, message, status=status, retry_after=retry_after)
    if 400 <= status < 500:
        return BadRequest(provider, message, status=status)
    return MalformedResponse(provider, f"unexpected HTTP status: {message}", status=status)
