"""Provider-neutral request and response types.

Conversation turns are :class:`agentrt.messages.Message` / :class:`ToolCall`; this module
adds what travels around them: :class:`ChatRequest`, :class:`ChatResponse`,
:class:`StreamChunk`, :class:`Usage`, :class:`ToolSpec` and :class:`EmbeddingResponse`.
All are frozen ``msgspec`` structs (cheap to build, encodable for cache keys).

Example::

    request = ChatRequest(
        model="gpt-4o-mini",
        messages=(Message.system("Be terse."), Message.user("Hi")),
        temperature=0.0,
        max_tokens=64,
    )
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Literal

import msgspec

from agentrt.messages import Message, ToolCall

__all__ = [
    "MAX_USAGE_TOKENS",
    "ChatRequest",
    "ChatResponse",
    "EmbeddingResponse",
    "FinishReason",
    "JsonSchemaFormat",
    "Priority",
    "StreamChunk",
    "ToolSpec",
    "Usage",
    "request_key",
]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
"""Why a completion ended. Providers' own names are mapped onto these four
(Anthropic ``end_turn``/``stop_sequence`` -> ``stop``, ``max_tokens`` -> ``length``,
``tool_use`` -> ``tool_calls``); anything else is a :class:`MalformedResponse`."""


class Priority(IntEnum):
    """Queueing priority; a higher level is always served before a lower one.

    ``NORMAL`` is the default. ``BACKGROUND`` is for work nobody waits on (summaries),
    ``INTERACTIVE`` for a user waiting on a reply.
    """

    BACKGROUND = 0
    NORMAL = 1
    INTERACTIVE = 2


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A tool offered to the model: its name, description and JSON-schema parameters."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


class JsonSchemaFormat(msgspec.Struct, frozen=True, kw_only=True):
    """Structured output: the reply must be JSON matching ``schema`` (a JSON Schema).

    Sent as OpenAI's ``response_format: {"type": "json_schema", "json_schema": {"name",
    "schema", "strict"}}``; the pool checks the reply against ``schema`` and puts the
    decoded value in :attr:`ChatResponse.parsed` (a reply that is not such JSON is a
    :class:`MalformedResponse`). Anthropic has no such field: the schema is checked all
    the same.
    """

    name: str = "response"
    schema: dict[str, Any] = msgspec.field(default_factory=lambda: {"type": "object"})
    strict: bool = True


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One chat completion request.

    - ``model``: a model name or an alias from the provider config.
    - ``temperature``: ``None`` leaves the provider's default; ``0`` makes the request
      *deterministic*, which is what enables coalescing and the response cache.
    - ``tool_choice``: ``"auto"`` (default when tools are given), ``"none"``,
      ``"required"`` or a tool name.
    - ``max_tokens``: the completion budget; sent as ``max_completion_tokens`` to OpenAI
      models that require it (o-series, gpt-5 family), as ``max_tokens`` elsewhere.
    - ``response_format``: structured output (:class:`JsonSchemaFormat`).
    - ``parallel_tool_calls``: OpenAI's switch for several tool calls in one answer
      (None: the provider's default).
    - ``cache_prompt``: Anthropic prompt caching: ``cache_control`` breakpoints on the
      system prompt, the tools and the conversation so far (OpenAI caches on its own).
    - ``extra_body``: fields merged into the request body as they are (provider-specific
      options such as vLLM's ``guided_json`` or LiteLLM's ``metadata``); they override
      the fields agentrt sets.
    """

    model: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    response_format: JsonSchemaFormat | None = None
    parallel_tool_calls: bool | None = None
    cache_prompt: bool = False
    extra_body: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def deterministic(self) -> bool:
        """True when ``temperature == 0``: equal requests should get equal answers."""
        return self.temperature == 0


_key_encoder = msgspec.msgpack.Encoder()

#: The largest token count a usage report may carry (no model has a 100M-token window);
#: above it, or below zero, the report is a :class:`MalformedResponse`.
MAX_USAGE_TOKENS = 100_000_000


def request_key(request: ChatRequest) -> bytes:
    """A byte key equal for equal requests (model, messages, tools and every parameter)."""
    return _key_encoder.encode(request)


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts reported by the provider (or estimated when it reported none).

    ``input_tokens`` counts every prompt token, cached ones included (Anthropic's
    separately reported cache reads and writes are added in); ``cache_read_tokens``
    (OpenAI ``prompt_tokens_details.cached_tokens``, Anthropic
    ``cache_read_input_tokens``) and ``cache_write_tokens`` (Anthropic
    ``cache_creation_input_tokens``) are the parts of it served from / written to the
    provider's prompt cache. ``reasoning_tokens`` (OpenAI
    ``completion_tokens_details.reasoning_tokens``) is the part of ``output_tokens``
    spent on hidden reasoning. Adapters reject negative counts and counts above
    :data:`MAX_USAGE_TOKENS` as a :class:`MalformedResponse`.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ChatResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A complete answer.

    ``cost`` is in the currency of the provider config's prices (0.0 without prices);
    ``provider`` names the provider config that answered, ``model`` the model it reported;
    ``parsed`` the decoded JSON of a structured output (``response_format``), else None.
    ``cached``: True when the pool's response cache answered (then ``usage`` is zero and
    ``cost`` 0.0: nothing was spent; what it saved is in telemetry).
    """

    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason = "stop"
    usage: Usage = Usage()
    model: str = ""
    provider: str = ""
    id: str = ""
    cost: float = 0.0
    parsed: Any = None
    cached: bool = False

    @property
    def message(self) -> Message:
        """The answer as an assistant :class:`Message`, ready to append to history."""
        return Message.assistant(self.content, tool_calls=self.tool_calls)


class StreamChunk(msgspec.Struct, frozen=True, kw_only=True):
    """One piece of a streamed answer.

    Text arrives in ``delta`` as the provider sends it. Tool calls are assembled from
    their fragments and delivered whole, in the last chunk, together with
    ``finish_reason`` and ``usage`` (when the provider reported it).
    """

    delta: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


class EmbeddingResponse(msgspec.Struct, frozen=True, kw_only=True):
    """Vectors for the input texts, in input order."""

    vectors: tuple[tuple[float, ...], ...]
    model: str = ""
    usage: Usage = Usage()
