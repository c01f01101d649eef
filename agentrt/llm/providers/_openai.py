"""The OpenAI-compatible wire format: chat completions (JSON and SSE) and embeddings.

Covers OpenAI, vLLM, llama.cpp server, Ollama's ``/v1`` API, LiteLLM proxy and other
compatible servers. Streams ask for ``stream_options.include_usage`` so the final chunk
carries token usage; tool-call fragments (``delta.tool_calls[i]``) are assembled by index
and delivered whole in the last :class:`StreamChunk`.

Content parts (``Message.content`` as a tuple) go out as OpenAI's typed parts: a
:class:`TextPart` as ``{"type": "text", "text"}``, an :class:`ImagePart` as
``{"type": "image_url", "image_url": {"url", "detail"}}``; only user messages carry
images, and other roles send their text as a string. A reply whose ``content`` is an array
of parts (some compatible servers send one) is read as its text parts joined.

Finish reasons: ``stop``, ``length``, ``tool_calls`` (and the legacy ``function_call``),
``content_filter``; a missing (null) one in a complete response counts as ``stop``; any
other value is a :class:`MalformedResponse`.

Example::

    adapter = OpenAIAdapter()
    body = adapter.encode_chat(request, "gpt-4o-mini", stream=False)
    response = adapter.decode_chat("openai", http_body)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

import msgspec

from agentrt.llm._errors import MalformedResponse
from agentrt.llm._types import (
    MAX_USAGE_TOKENS,
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    FinishReason,
    StreamChunk,
    Usage,
)
from agentrt.llm.providers._base import ServerError, error_object, server_error
from agentrt.messages import ContentPart, Message, TextPart, ToolCall

__all__ = ["OpenAIAdapter", "OpenAIStreamDecoder", "uses_max_completion_tokens"]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


class _Function(msgspec.Struct):
    name: str
    arguments: str = "{}"


class _ToolCall(msgspec.Struct):
    id: str
    function: _Function


class _Part(msgspec.Struct):
    type: str
    text: str = ""


def _text(content: str | list[_Part] | None) -> str:
    """A reply's content as text: a string as is, an array's text parts joined."""
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(p.text for p in content if p.type == "text")


class _Message(msgspec.Struct):
    content: str | list[_Part] | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct):
    message: _Message
    finish_reason: str | None = None


_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_USAGE_TOKENS)]


class _PromptDetails(msgspec.Struct):
    cached_tokens: _Count | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: _Count | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: _Count = 0
    completion_tokens: _Count = 0
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None


class _Completion(msgspec.Struct):
    choices: list[_Choice]
    id: str = ""
    model: str = ""
    usage: _Usage | None = None


class _FunctionDelta(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolDelta(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: _FunctionDelta | None = None


class _Delta(msgspec.Struct):
    content: str | list[_Part] | None = None
    tool_calls: list[_ToolDelta] | None = None


class _ChunkChoice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    choices: list[_ChunkChoice] = []
    usage: _Usage | None = None
    error: Any = None


class _Embedding(msgspec.Struct):
    index: int
    embedding: tuple[float, ...]


class _Embeddings(msgspec.Struct):
    data: list[_Embedding]
    model: str = ""
    usage: _Usage | None = None


_completion_decoder = msgspec.json.Decoder(_Completion)
_chunk_decoder = msgspec.json.Decoder(_Chunk)
_embeddings_decoder = msgspec.json.Decoder(_Embeddings)
_encoder = msgspec.json.Encoder()


def _finish(provider: str, reason: str | None) -> FinishReason:
    if reason is None:
        return "stop"
    try:
        return _FINISH[reason]
    except KeyError:
        raise MalformedResponse(provider, f"unknown finish reason {reason!r}") from None


def _usage(usage: _Usage | None) -> Usage:
    if usage is None:
        return Usage()
    prompt, completion = usage.prompt_tokens_details, usage.completion_tokens_details
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cache_read_tokens=(prompt.cached_tokens or 0) if prompt else 0,
        reasoning_tokens=(completion.reasoning_tokens or 0) if completion else 0,
    )


def _decode(provider: str, decoder: msgspec.json.Decoder[Any], body: bytes, what: str) -> Any:
    """``body`` decoded; an error object in it raises the server's error (see
    :func:`error_object`), anything else wrong a MalformedResponse."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        problem = f"{what}: {exc}"
    except msgspec.DecodeError as exc:
        problem = f"{what} is not valid JSON: {exc}"
    if (error := server_error(body)) is not None:
        raise error_object(provider, error, status=200) from None
    raise MalformedResponse(provider, problem) from None


def _wire_part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    return {"type": "image_url", "image_url": {"url": part.url, "detail": part.detail}}


def _wire_content(message: Message) -> Any:
    """The ``content`` of ``message``: a string, or (user messages) an array of parts."""
    content = message.content
    if isinstance(content, str):
        return content
    if message.role != "user":
        return message.text
    return [_wire_part(p) for p in content]


def _wire_message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": _wire_content(message)}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["content"] = message.text or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
    return out


def _tool_choice(choice: str) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


_COMPLETION_TOKENS_MODELS = re.compile(r"(^|/)(o\d|gpt-5)")


def uses_max_completion_tokens(model: str) -> bool:
    """True for OpenAI models that refuse ``max_tokens`` (o-series, gpt-5 family), also
    behind a proxy prefix such as ``openai/o3-mini``."""
    return _COMPLETION_TOKENS_MODELS.search(model) is not None


def encode_chat_body(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The JSON object of an OpenAI chat completion request."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [_wire_message(m) for m in request.messages],
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
    if request.tool_choice:
        body["tool_choice"] = _tool_choice(request.tool_choice)
    for key in ("temperature", "top_p", "seed", "parallel_tool_calls"):
        if (value := getattr(request, key)) is not None:
            body[key] = value
    if request.max_tokens is not None:
        field = "max_completion_tokens" if uses_max_completion_tokens(model) else "max_tokens"
        body[field] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    if (fmt := request.response_format) is not None:
        schema = {"name": fmt.name, "schema": fmt.schema, "strict": fmt.strict}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if request.extra_body:
        body.update(request.extra_body)
    return body


class OpenAIStreamDecoder:
    """Decodes one OpenAI chat completion SSE stream (see the module docstring)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]

    def feed(self, event: str, data: str) -> list[StreamChunk]:
        if data.strip() == "[DONE]":
            return [self._final()]
        if self.done:
            raise MalformedResponse(self.provider, "stream event after [DONE]")
        raw = data.encode()
        chunk: _Chunk = _decode(self.provider, _chunk_decoder, raw, "stream chunk")
        if chunk.error is not None:
            error = server_error(raw) or ServerError(str(chunk.error))
            raise error_object(self.provider, error)
        if chunk.usage is not None:
            self._usage = _usage(chunk.usage)
        out: list[StreamChunk] = []
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                if delta.tool_calls:
                    self._add_tool_deltas(delta.tool_calls)
                if text := _text(delta.content):
                    out.append(StreamChunk(delta=text))
            if choice.finish_reason is not None:
                self._finish = _finish(self.provider, choice.finish_reason)
        return out

    def _add_tool_deltas(self, deltas: list[_ToolDelta]) -> None:
        for d in deltas:
            call = self._calls.setdefault(d.index, ["", "", ""])
            if d.id:
                call[0] = d.id
            if d.function is not None:
                call[1] += d.function.name or ""
                call[2] += d.function.arguments or ""

    def _final(self) -> StreamChunk:
        self.done = True
        if self._finish is None:
            raise MalformedResponse(self.provider, "stream ended without a finish_reason")
        calls = tuple(
            ToolCall(cid, name, args or "{}")
            for _, (cid, name, args) in sorted(self._calls.items())
        )
        return StreamChunk(tool_calls=calls, finish_reason=self._finish, usage=self._usage)

    def end(self) -> None:
        if not self.done:
            raise MalformedResponse(self.provider, "stream truncated: ended before [DONE]")


class OpenAIAdapter:
    """The OpenAI-compatible adapter (stateless; one instance may serve many providers)."""

    kind = "openai"
    chat_path = "/chat/completions"
    embed_path: str | None = "/embeddings"

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return headers

    def encode_chat(self, request: ChatRequest, model: str, *, stream: bool) -> bytes:
        return _encoder.encode(encode_chat_body(request, model, stream=stream))

    def decode_chat(self, provider: str, body: bytes) -> ChatResponse:
        wire: _Completion = _decode(provider, _completion_decoder, body, "chat completion")
        if not wire.choices:
            if (error := server_error(body)) is not None:
                raise error_object(provider, error, status=200)
            raise MalformedResponse(provider, "chat completion has no choices")
        choice = wire.choices[0]
        message = choice.message
        calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()
        )
        return ChatResponse(
            content=_text(message.content),
            tool_calls=calls,
            finish_reason=_finish(provider, choice.finish_reason),
            usage=_usage(wire.usage),
            model=wire.model,
            id=wire.id,
            provider=provider,
        )

    def stream_decoder(self, provider: str) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(provider)

    def encode_embed(self, texts: Sequence[str], model: str) -> bytes:
        return _encoder.encode({"model": model, "input": list(texts), "encoding_format": "float"})

    def decode_embed(self, provider: str, body: bytes, count: int) -> EmbeddingResponse:
        wire: _Embeddings = _decode(provider, _embeddings_decoder, body, "embeddings response")
        if len(wire.data) != count:
            raise MalformedResponse(
                provider, f"embeddings response has {len(wire.data)} vectors for {count} inputs"
            )
        ordered = sorted(wire.data, key=lambda e: e.index)
        if [e.index for e in ordered] != list(range(count)):
            raise MalformedResponse(provider, "embeddings response indexes are not 0..n-1")
        return EmbeddingResponse(
            vectors=tuple(e.embedding for e in ordered), model=wire.model, usage=_usage(wire.usage)
        )
