"""What every HTTP provider adapter shares: the adapter protocol, the SSE parser and the
mapping of HTTP error statuses onto the exception tree.

An *adapter* is a codec, free of I/O: it turns a :class:`ChatRequest` into a request body
and a response body (or a stream of SSE events) into :class:`ChatResponse` /
:class:`StreamChunk`. Every problem in what the server sent becomes a
:class:`MalformedResponse` naming the provider and the problem.

Status mapping (:func:`error_for_status`):

=============================  ==========================================
4xx saying "context too long"  :class:`ContextLengthExceeded` (never retried;
                               :data:`CONTEXT_LENGTH_SIGNS`, one row per server)
400, 404, 413, 422, other 4xx  :class:`BadRequest` (never retried)
401, 403                       :class:`AuthenticationError` (never retried)
408                            :class:`ProviderTimeout` (retried)
409, 5xx, 529                  :class:`ProviderUnavailable` (retried)
429                            :class:`RateLimited` with ``retry_after`` (retried)
anything else                  :class:`MalformedResponse`
=============================  ==========================================

``retry_after`` is read by :func:`agentrt.llm._retry.retry_after_from_headers` (every
header form). An error object without an error status (a 200 whose body is
``{"error": ...}``, an SSE error event) goes through :func:`error_object`, so the
server's own message always reaches the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, Protocol

import msgspec

from agentrt.llm._errors import (
    AuthenticationError,
    BadRequest,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ResponseTooLarge,
)
from agentrt.llm._retry import retry_after_from_headers
from agentrt.llm._types import ChatRequest, ChatResponse, EmbeddingResponse, StreamChunk

__all__ = [
    "CONTEXT_LENGTH_SIGNS",
    "TYPE_STATUS",
    "Adapter",
    "SSEParser",
    "ServerError",
    "StreamDecoder",
    "error_for_status",
    "error_object",
    "is_context_length",
    "server_error",
]

_NONE: Mapping[str, str] = MappingProxyType({})


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
    whether the stream stopped in the middle of an event. ``max_event_bytes`` (0: no
    limit) bounds one event's data and one unfinished line: past it :meth:`feed` raises
    :class:`ResponseTooLarge` naming ``provider``.
    """

    __slots__ = ("_buffer", "_data", "_event", "_limit", "_provider", "_size")

    def __init__(self, max_event_bytes: int = 0, provider: str = "?") -> None:
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._limit = max_event_bytes
        self._provider = provider

    @property
    def pending(self) -> bool:
        """True when an unfinished line or event is buffered (a truncated stream)."""
        return bool(self._buffer.strip() or self._data)

    def _too_large(self) -> ResponseTooLarge:
        limit = self._limit
        return ResponseTooLarge(
            self._provider, f"an SSE event is larger than max_event_bytes={limit}", limit=limit
        )

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        text = self._buffer + chunk.decode("utf-8", errors="replace")
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._buffer = lines.pop()
        out: list[tuple[str, str]] = []
        for line in lines:
            if not line:
                if self._data:
                    out.append((self._event or "message", "\n".join(self._data)))
                self._event, self._data, self._size = "", [], 0
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                self._data.append(value)
                self._size += len(value)
                if self._limit and self._size > self._limit:
                    raise self._too_large()
            elif field == "event":
                self._event = value
        if self._limit and len(self._buffer) > self._limit:
            raise self._too_large()
        return out


class _ErrorBody(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorBody | str | None = None
    object: str | None = None  # vLLM's flat form: {"object": "error", "message": ...}
    message: str | None = None
    type: str | None = None
    code: str | int | None = None


_envelope_decoder = msgspec.json.Decoder(_ErrorEnvelope)


class ServerError(NamedTuple):
    """An error object a server sent: its message, type and code (as far as given)."""

    message: str
    type: str = ""
    code: str = ""

    def text(self) -> str:
        """``type: message``, as shown in our errors."""
        return f"{self.type}: {self.message}" if self.type else self.message


def server_error(body: bytes) -> ServerError | None:
    """The error object of ``body`` (OpenAI/LiteLLM/vLLM/llama.cpp ``{"error": {...}}``,
    Anthropic ``{"type": "error", "error": {...}}``, Ollama ``{"error": "text"}``, older
    vLLM ``{"object": "error", "message": ...}``), or
    None when ``body`` is not such an object."""
    try:
        envelope = _envelope_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    error = envelope.error
    if isinstance(error, str):
        return ServerError(error or "no message")
    if error is None:
        if envelope.object != "error":
            return None
        error = _ErrorBody(envelope.message, envelope.type, envelope.code)
    code = "" if error.code is None else str(error.code)
    return ServerError(error.message or "no message", error.type or "", code)


#: How each server dialect says "the prompt does not fit the context window": the one
#: classification table (``field`` is where ``needle`` is looked for, lower-cased).
CONTEXT_LENGTH_SIGNS: tuple[tuple[str, str, str], ...] = (
    ("OpenAI", "code", "context_length_exceeded"),
    ("OpenAI, vLLM", "message", "maximum context length"),
    ("Anthropic", "message", "prompt is too long"),
    ("LiteLLM", "message", "contextwindowexceedederror"),
    ("LiteLLM", "type", "contextwindowexceedederror"),
    ("llama.cpp", "type", "exceed_context_size_error"),
    ("llama.cpp", "message", "exceeds the available context size"),
    ("Ollama", "message", "input length exceeds the context length"),
)

#: Error ``type`` (OpenAI, Anthropic) -> the HTTP status it stands for; used for error
#: objects that arrive without an error status (a 200 body, an SSE ``error`` event).
TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 529,
}


def is_context_length(error: ServerError) -> bool:
    """True when ``error`` matches a row of :data:`CONTEXT_LENGTH_SIGNS`."""
    return any(needle in getattr(error, field).lower() for _, field, needle in CONTEXT_LENGTH_SIGNS)


def _parsed(body: bytes) -> ServerError:
    error = server_error(body)
    if error is None:
        text = body[:300].decode("utf-8", errors="replace").strip()
        return ServerError(text or "no error details")
    return error


def _classify(
    provider: str, status: int, error: ServerError, headers: Mapping[str, str], shown: int
) -> ProviderError:
    message = error.text()
    if 400 <= status < 500 and status != 429 and is_context_length(error):
        return ContextLengthExceeded(provider, message, status=shown)
    if status == 429:
        retry_after = retry_after_from_headers(headers)
        return RateLimited(provider, message, status=shown, retry_after=retry_after)
    if status in (401, 403):
        return AuthenticationError(provider, message, status=shown)
    if status == 408:
        return ProviderTimeout(provider, message, status=shown)
    if status == 409 or status >= 500:
        retry_after = retry_after_from_headers(headers)
        return ProviderUnavailable(provider, message, status=shown, retry_after=retry_after)
    if 400 <= status < 500:
        return BadRequest(provider, message, status=shown)
    return MalformedResponse(provider, f"unexpected HTTP status: {message}", status=shown)


def error_for_status(
    provider: str, status: int, body: bytes, headers: Mapping[str, str]
) -> ProviderError:
    """The exception for an HTTP error answer (see the table in the module docstring)."""
    return _classify(provider, status, _parsed(body), headers, status)


def error_object(
    provider: str,
    error: ServerError,
    *,
    status: int | None = None,
    headers: Mapping[str, str] = _NONE,
) -> ProviderError:
    """The exception for an error object that came without an error status (a 200 body,
    an SSE ``error`` event): classified by its ``code`` when that is an HTTP status, else
    by its ``type`` (:data:`TYPE_STATUS`), else as a server error (500); a context-length
    message is always :class:`ContextLengthExceeded`."""
    code = int(error.code) if error.code.isdigit() and 400 <= int(error.code) < 600 else 0
    inferred = code or TYPE_STATUS.get(error.type.lower(), 500)
    if is_context_length(error):
        inferred = 400
    return _classify(provider, inferred, error, headers, inferred if status is None else status)
