"""The Anthropic Messages wire format (``POST /v1/messages``), JSON and SSE.

Requests: system messages become the top-level ``system`` text; assistant tool calls
become ``tool_use`` content blocks (their JSON arguments parsed into ``input``); tool
results become ``tool_result`` blocks in a user turn (consecutive results share one
turn); ``max_tokens`` is required by the API and defaults to 1024 here. A user message's
content parts become blocks: a :class:`TextPart` a ``text`` block, an :class:`ImagePart`
an ``image`` block whose ``source`` is ``{"type": "url", "url"}`` or, for a ``data:`` URL,
``{"type": "base64", "media_type", "data"}`` (``detail`` has no Anthropic equivalent and
is not sent); other roles send their text.

Streams use Anthropic's named events: ``message_start`` (input usage), then per content
block ``content_block_start`` / ``content_block_delta`` (``text_delta`` or
``input_json_delta``) / ``content_block_stop``, ``message_delta`` (stop reason, output
usage), ``message_stop``; ``ping`` and unknown events are ignored; an ``error`` event
(e.g. ``overloaded_error``, HTTP 529 outside a stream) raises the mapped error.

Stop reasons: ``end_turn``, ``stop_sequence``, ``pause_turn`` -> ``stop``; ``max_tokens``,
``model_context_window_exceeded`` -> ``length``; ``tool_use`` -> ``tool_calls``;
``refusal`` -> ``content_filter``; anything else is a :class:`MalformedResponse`.
Anthropic has no embeddings API: :meth:`AnthropicAdapter.encode_embed` raises
:class:`BadRequest`. Prompt caching (``ChatRequest.cache_prompt``) places ``cache_control``
breakpoints; the usage's ``cache_creation_input_tokens`` / ``cache_read_input_tokens`` are
added to the input tokens and reported as ``cache_write_tokens`` / ``cache_read_tokens``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import msgspec

from agentrt.llm._errors import BadRequest, MalformedResponse
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
from agentrt.messages import ImagePart, Message, TextPart, ToolCall

__all__ = ["AnthropicAdapter", "AnthropicStreamDecoder"]

DEFAULT_MAX_TOKENS = 1024

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_USAGE_TOKENS)]


class _Block(msgspec.Struct):
    type: str
    text: str = ""
    id: str = ""
    name: str = ""
    input: Any = None


class _Usage(msgspec.Struct):
    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_creation_input_tokens: _Count | None = None
    cache_read_input_tokens: _Count | None = None

    def usage(self) -> Usage:
        """Our Usage: cache reads and writes are part of the input."""
        read = self.cache_read_input_tokens or 0
        write = self.cache_creation_input_tokens or 0
        return Usage(
            input_tokens=self.input_tokens + read + write,
            output_tokens=self.output_tokens,
            cache_read_tokens=read,
            cache_write_tokens=write,
        )


class _Message(msgspec.Struct):
    content: list[_Block]
    stop_reason: str | None
    id: str = ""
    model: str = ""
    usage: _Usage = msgspec.field(default_factory=_Usage)


_message_decoder = msgspec.json.Decoder(_Message)
_event_decoder = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def _stop(provider: str, reason: str | None) -> FinishReason:
    if reason is None:
        raise MalformedResponse(provider, "message has no stop_reason")
    try:
        return _STOP[reason]
    except KeyError:
        raise MalformedResponse(provider, f"unknown stop reason {reason!r}") from None


def _arguments(value: Any) -> str:
    return json.dumps(value if value is not None else {}, separators=(",", ":"))


def _input(arguments: str) -> Any:
    try:
        return json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {"_raw_arguments": arguments}


def _image_block(part: ImagePart) -> dict[str, Any]:
    url = part.url
    if url[:5].lower() == "data:":  # data:image/<type>;base64,<data> (checked on the way in)
        head, _, data = url.partition(",")
        media_type = head[5:].partition(";")[0]
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _user_content(message: Message) -> Any:
    content = message.content
    if isinstance(content, str):
        return content
    return [
        {"type": "text", "text": p.text} if isinstance(p, TextPart) else _image_block(p)
        for p in content
    ]


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if text := message.text:
        blocks.append({"type": "text", "text": text})
    blocks.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c.arguments)}
        for c in message.tool_calls
    )
    return blocks


def _wire_messages(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            system.append(m.text)
        elif m.role == "assistant":
            out.append({"role": "assistant", "content": _assistant_blocks(m)})
        elif m.role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": m.tool_call_id,
                "content": m.text,
            }
            if m.is_error:
                block["is_error"] = True
            last = out[-1] if out else None
            if last and last["role"] == "user" and isinstance(last["content"], list):
                last["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        else:
            out.append({"role": "user", "content": _user_content(m)})
    return "\n\n".join(system), out


def _tool_choice(choice: str) -> dict[str, str]:
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def encode_messages_body(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The JSON object of an Anthropic Messages request."""
    system, messages = _wire_messages(request.messages)
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = system
    if request.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
    if request.tool_choice:
        body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if stream:
        body["stream"] = True
    if request.cache_prompt:
        _cache_breakpoints(body)
    if request.extra_body:
        body.update(request.extra_body)
    return body


_EPHEMERAL = {"type": "ephemeral"}


def _cache_breakpoints(body: dict[str, Any]) -> None:
    """Prompt caching: ``cache_control`` on the system prompt, the last tool and the last
    block of the conversation so far (3 of the 4 breakpoints Anthropic allows), so each
    turn reads the prefix the previous one wrote."""
    if isinstance(system := body.get("system"), str) and system:
        body["system"] = [{"type": "text", "text": system, "cache_control": _EPHEMERAL}]
    if tools := body.get("tools"):
        tools[-1] = {**tools[-1], "cache_control": _EPHEMERAL}
    if messages := body.get("messages"):
        last = messages[-1]
        content = last["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if content:
            content[-1] = {**content[-1], "cache_control": _EPHEMERAL}
        messages[-1] = {**last, "content": content}


class AnthropicStreamDecoder:
    """Decodes one Anthropic Messages SSE stream (see the module docstring)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False
        self._start = Usage()
        self._output_tokens = 0
        self._stop: FinishReason | None = None
        self._tools: dict[int, list[str]] = {}  # block index -> [id, name, json]

    def feed(self, event: str, data: str) -> list[StreamChunk]:
        try:
            payload = _event_decoder.decode(data.encode())
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedResponse(self.provider, f"stream event {event!r}: {exc}") from None
        kind = payload.get("type", event)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:  # ping and event types added later are ignored
            return []
        try:
            out: list[StreamChunk] = handler(payload)
        except (KeyError, TypeError, AttributeError) as exc:
            raise MalformedResponse(self.provider, f"stream event {kind!r} lacks {exc}") from None
        return out

    def _usage(self, raw: Any) -> _Usage:
        try:
            return msgspec.convert(raw or {}, _Usage)
        except msgspec.ValidationError as exc:
            raise MalformedResponse(self.provider, f"stream usage: {exc}") from None

    def _on_message_start(self, p: dict[str, Any]) -> list[StreamChunk]:
        self._start = self._usage(p["message"].get("usage")).usage()
        self._output_tokens = self._start.output_tokens
        return []

    def _on_content_block_start(self, p: dict[str, Any]) -> list[StreamChunk]:
        block = p["content_block"]
        if block["type"] == "tool_use":
            self._tools[int(p["index"])] = [block["id"], block["name"], ""]
        elif block["type"] == "text" and block.get("text"):
            return [StreamChunk(delta=block["text"])]
        return []

    def _on_content_block_delta(self, p: dict[str, Any]) -> list[StreamChunk]:
        delta = p["delta"]
        if delta["type"] == "text_delta":
            return [StreamChunk(delta=delta["text"])] if delta["text"] else []
        if delta["type"] == "input_json_delta":
            self._tools[int(p["index"])][2] += delta["partial_json"]
        return []

    def _on_message_delta(self, p: dict[str, Any]) -> list[StreamChunk]:
        if (reason := p["delta"].get("stop_reason")) is not None:
            self._stop = _stop(self.provider, reason)
        if (usage := p.get("usage")) and "output_tokens" in usage:
            self._output_tokens = self._usage(usage).output_tokens
        return []

    def _on_message_stop(self, p: dict[str, Any]) -> list[StreamChunk]:
        self.done = True
        if self._stop is None:
            raise MalformedResponse(self.provider, "stream ended without a stop_reason")
        calls = tuple(
            ToolCall(cid, name, args or "{}")
            for _, (cid, name, args) in sorted(self._tools.items())
        )
        usage = msgspec.structs.replace(self._start, output_tokens=self._output_tokens)
        return [StreamChunk(tool_calls=calls, finish_reason=self._stop, usage=usage)]

    def _on_error(self, p: dict[str, Any]) -> list[StreamChunk]:
        error = server_error(_encoder.encode(p)) or ServerError(str(p.get("error")))
        raise error_object(self.provider, error)

    def end(self) -> None:
        if not self.done:
            raise MalformedResponse(self.provider, "stream truncated: ended before message_stop")


class AnthropicAdapter:
    """The Anthropic Messages adapter (stateless)."""

    kind = "anthropic"
    chat_path = "/messages"
    embed_path: str | None = None

    def __init__(self, version: str = "2023-06-01") -> None:
        self.version = version

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json", "anthropic-version": self.version}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def encode_chat(self, request: ChatRequest, model: str, *, stream: bool) -> bytes:
        return _encoder.encode(encode_messages_body(request, model, stream=stream))

    def decode_chat(self, provider: str, body: bytes) -> ChatResponse:
        try:
            wire = _message_decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            if (error := server_error(body)) is not None:
                raise error_object(provider, error, status=200) from None
            valid = isinstance(exc, msgspec.ValidationError)
            what = "message" if valid else "message is not valid JSON"
            raise MalformedResponse(provider, f"{what}: {exc}") from None
        text = "".join(b.text for b in wire.content if b.type == "text")
        calls = tuple(
            ToolCall(b.id, b.name, _arguments(b.input))
            for b in wire.content
            if b.type == "tool_use"
        )
        return ChatResponse(
            content=text,
            tool_calls=calls,
            finish_reason=_stop(provider, wire.stop_reason),
            usage=wire.usage.usage(),
            model=wire.model,
            id=wire.id,
            provider=provider,
        )

    def stream_decoder(self, provider: str) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(provider)

    def encode_embed(self, texts: Sequence[str], model: str) -> bytes:
        raise BadRequest("anthropic", "the Anthropic API has no embeddings endpoint")

    def decode_embed(self, provider: str, body: bytes, count: int) -> EmbeddingResponse:
        raise BadRequest(provider, "the Anthropic API has no embeddings endpoint")
