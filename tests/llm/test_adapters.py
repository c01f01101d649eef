"""OpenAI-compatible and Anthropic wire formats, from recorded example payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentrt.llm import (
    AuthenticationError,
    BadRequest,
    ChatRequest,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamChunk,
    ToolSpec,
)
from agentrt.llm._types import MAX_USAGE_TOKENS
from agentrt.llm.providers._anthropic import AnthropicAdapter
from agentrt.llm.providers._base import SSEParser, error_for_status
from agentrt.llm.providers._openai import OpenAIAdapter
from agentrt.messages import Message, ToolCall

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run_stream(decoder: object, raw: bytes, *, split: int = 7) -> list[StreamChunk]:
    """Feed ``raw`` in small pieces, as a network would deliver it."""
    parser = SSEParser()
    chunks: list[StreamChunk] = []
    for i in range(0, len(raw), split):
        for event, data in parser.feed(raw[i : i + split]):
            chunks.extend(decoder.feed(event, data))  # type: ignore[attr-defined]
    decoder.end()  # type: ignore[attr-defined]
    return chunks


# -- OpenAI ----------------------------------------------------------------------------------


def test_openai_chat_response() -> None:
    response = OpenAIAdapter().decode_chat("openai", fixture("openai_chat.json"))
    assert response.content == "Hello! How can I assist you today?"
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (19, 10)
    assert response.model == "gpt-4.1-2025-04-14"
    assert response.provider == "openai"
    assert response.id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"


def test_openai_tool_calls_response() -> None:
    response = OpenAIAdapter().decode_chat("openai", fixture("openai_tool_calls.json"))
    assert response.content == ""
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == (
        ToolCall("call_abc123", "get_current_weather", '{\n"location": "Boston, MA"\n}'),
        ToolCall("call_def456", "get_time", '{"tz": "America/New_York"}'),
    )
    assert response.message.role == "assistant"
    assert response.message.tool_calls == response.tool_calls


def test_openai_stream_with_usage() -> None:
    chunks = run_stream(OpenAIAdapter().stream_decoder("openai"), fixture("openai_stream.sse"))
    assert "".join(c.delta for c in chunks) == "Hello there!"
    assert [c.delta for c in chunks[:-1]] == ["Hello", " there", "!"]
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 3)


def test_openai_stream_assembles_tool_call_fragments() -> None:
    raw = fixture("openai_stream_tools.sse")
    chunks = run_stream(OpenAIAdapter().stream_decoder("vllm"), raw, split=3)
    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert final.tool_calls == (
        ToolCall("call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather", '{"location": "Paris, France"}'),
        ToolCall("call_2", "get_time", "{}"),
    )
    assert final.usage is None  # this server did not send include_usage


def test_openai_embeddings_are_put_in_input_order() -> None:
    response = OpenAIAdapter().decode_embed("openai", fixture("openai_embeddings.json"), 2)
    assert response.vectors[0] == pytest.approx((0.0023064255, -0.009327292, -0.0028842222))
    assert response.vectors[1] == (0.5, -0.25, 0.125)
    assert response.usage.input_tokens == 8


def test_openai_embeddings_count_mismatch_is_malformed() -> None:
    with pytest.raises(MalformedResponse, match="2 vectors for 3 inputs"):
        OpenAIAdapter().decode_embed("openai", fixture("openai_embeddings.json"), 3)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"id": "x", "choices": [', "not valid JSON"),
        (b'{"id": "x", "object": "chat.completion"}', "missing required field `choices`"),
        (b'{"choices": []}', "no choices"),
        (
            b'{"choices": [{"message": {"content": "hi"}, "finish_reason": "banana"}]}',
            "unknown finish reason 'banana'",
        ),
        (b'{"choices": [{"message": {"content": 42}}]}', "Expected `str | array | null`"),
    ],
)
def test_openai_malformed_responses_name_provider_and_problem(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedResponse) as info:
        OpenAIAdapter().decode_chat("local-vllm", body)
    assert info.value.provider == "local-vllm"
    assert "local-vllm" in str(info.value)
    assert problem in str(info.value)
    assert isinstance(info.value, ProviderError)


def test_openai_truncated_stream_is_malformed() -> None:
    raw = fixture("openai_stream.sse")
    truncated = raw[: raw.index(b"data: [DONE]")]
    with pytest.raises(MalformedResponse, match=r"'openai'.*ended before \[DONE\]"):
        run_stream(OpenAIAdapter().stream_decoder("openai"), truncated)


def test_openai_stream_without_finish_reason_is_malformed() -> None:
    raw = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    with pytest.raises(MalformedResponse, match="without a finish_reason"):
        run_stream(OpenAIAdapter().stream_decoder("openai"), raw)


def test_openai_stream_bad_chunk_is_malformed() -> None:
    with pytest.raises(MalformedResponse, match="stream chunk is not valid JSON"):
        run_stream(OpenAIAdapter().stream_decoder("openai"), b'data: {"choi\n\n')


def test_openai_request_encoding() -> None:
    request = ChatRequest(
        model="alias",
        messages=(
            Message.system("be brief"),
            Message.user("weather?", name="bob"),
            Message.assistant("", tool_calls=(ToolCall("c1", "weather", '{"city":"Oslo"}'),)),
            Message.tool_result("c1", '{"temp": 3}'),
        ),
        tools=(ToolSpec(name="weather", description="Weather by city"),),
        tool_choice="weather",
        temperature=0.0,
        max_tokens=50,
        stop=("END",),
    )
    body = json.loads(OpenAIAdapter().encode_chat(request, "gpt-4o-mini", stream=True))
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"][1] == {"role": "user", "content": "weather?", "name": "bob"}
    assert body["messages"][2]["content"] is None
    assert body["messages"][2]["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": '{"city":"Oslo"}',
    }
    assert body["messages"][3] == {"role": "tool", "content": '{"temp": 3}', "tool_call_id": "c1"}
    assert body["tools"][0]["function"]["name"] == "weather"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 50
    assert body["stop"] == ["END"]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert "top_p" not in body


# -- Anthropic -------------------------------------------------------------------------------


def test_anthropic_message_response() -> None:
    response = AnthropicAdapter().decode_chat("claude", fixture("anthropic_message.json"))
    assert response.content == "Hello! I'm Claude."
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 8)
    assert response.id == "msg_01XFDUDYJgAACzvnptvVoYEL"


def test_anthropic_tool_use_response() -> None:
    response = AnthropicAdapter().decode_chat("claude", fixture("anthropic_tool_use.json"))
    assert response.finish_reason == "tool_calls"
    assert response.content == "I'll check the current weather in San Francisco for you."
    (call,) = response.tool_calls
    assert call.id == "toolu_01A09q90qw90lq917835lq9"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"location": "San Francisco, CA", "unit": "celsius"}


def test_anthropic_stream_named_events() -> None:
    raw = fixture("anthropic_stream.sse")
    chunks = run_stream(AnthropicAdapter().stream_decoder("claude"), raw, split=11)
    text = "".join(c.delta for c in chunks)
    assert text == "Okay, let's check the weather for San Francisco, CA:"
    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (472, 89)
    (call,) = final.tool_calls
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"location": "San Francisco, CA"}


def test_anthropic_stream_overloaded_error_event() -> None:
    raw = fixture("anthropic_stream_overloaded.sse")
    with pytest.raises(ProviderUnavailable) as info:
        run_stream(AnthropicAdapter().stream_decoder("claude"), raw)
    assert info.value.status == 529
    assert "overloaded_error" in str(info.value)


def test_anthropic_truncated_stream_is_malformed() -> None:
    raw = fixture("anthropic_stream.sse")
    truncated = raw[: raw.index(b"event: message_delta")]
    with pytest.raises(MalformedResponse, match="ended before message_stop"):
        run_stream(AnthropicAdapter().stream_decoder("claude"), truncated)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"id": "m", "content": []}', "missing required field `stop_reason`"),
        (b'{"content": [], "stop_reason": "daydreaming"}', "unknown stop reason"),
    ],
)
def test_anthropic_malformed(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedResponse, match=problem) as info:
        AnthropicAdapter().decode_chat("claude", body)
    assert info.value.provider == "claude"


def test_anthropic_request_encoding() -> None:
    request = ChatRequest(
        model="claude",
        messages=(
            Message.system("be brief"),
            Message.user("weather in Oslo and Rome?"),
            Message.assistant(
                "Checking.",
                tool_calls=(
                    ToolCall("t1", "weather", '{"city":"Oslo"}'),
                    ToolCall("t2", "weather", '{"city":"Rome"}'),
                ),
            ),
            Message.tool_result("t1", "3C"),
            Message.tool_result("t2", "failed", is_error=True),
        ),
        tools=(ToolSpec(name="weather", description="Weather by city"),),
        tool_choice="required",
        stop=("END",),
    )
    adapter = AnthropicAdapter()
    body = json.loads(adapter.encode_chat(request, "claude-sonnet-4-5", stream=False))
    assert body["system"] == "be brief"
    assert body["max_tokens"] == 1024
    assert body["messages"][0] == {"role": "user", "content": "weather in Oslo and Rome?"}
    assistant = body["messages"][1]
    assert assistant["content"][0] == {"type": "text", "text": "Checking."}
    assert assistant["content"][1]["input"] == {"city": "Oslo"}
    results = body["messages"][2]
    assert results["role"] == "user"
    assert [b["tool_use_id"] for b in results["content"]] == ["t1", "t2"]
    assert results["content"][1]["is_error"] is True
    assert body["tools"][0]["input_schema"] == {"type": "object", "properties": {}}
    assert body["tool_choice"] == {"type": "any"}
    assert body["stop_sequences"] == ["END"]
    assert adapter.headers("k")["x-api-key"] == "k"
    assert adapter.headers(None).get("x-api-key") is None


def test_anthropic_has_no_embeddings() -> None:
    with pytest.raises(BadRequest, match="no embeddings"):
        AnthropicAdapter().encode_embed(["x"], "m")


# -- status mapping and SSE ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, BadRequest, False),
        (404, BadRequest, False),
        (422, BadRequest, False),
        (401, AuthenticationError, False),
        (403, AuthenticationError, False),
        (408, ProviderTimeout, True),
        (409, ProviderUnavailable, True),
        (429, RateLimited, True),
        (500, ProviderUnavailable, True),
        (503, ProviderUnavailable, True),
        (529, ProviderUnavailable, True),
        (302, MalformedResponse, False),
    ],
)
def test_error_for_status(status: int, kind: type[ProviderError], retryable: bool) -> None:
    error = error_for_status("p", status, fixture("openai_error_429.json"), {})
    assert type(error) is kind
    assert error.retryable is retryable
    assert error.status == status
    assert "Rate limit reached" in error.problem


def test_rate_limited_carries_retry_after_and_529_body() -> None:
    error = error_for_status("p", 429, b"{}", {"retry-after": "2.5"})
    assert isinstance(error, RateLimited)
    assert error.retry_after == 2.5
    overloaded = error_for_status("claude", 529, fixture("anthropic_error_529.json"), {})
    assert "overloaded_error: Overloaded" in str(overloaded)


def test_sse_parser_fields_comments_and_line_endings() -> None:
    parser = SSEParser()
    raw = b": keep-alive\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\ndata:x\rdata: y\r\r"
    assert parser.feed(raw) == [("a", "one\ntwo"), ("message", "x\ny")]
    assert not parser.pending
    assert parser.feed(b"data: partial") == []
    assert parser.pending


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60))
def test_sse_parser_is_independent_of_chunk_boundaries(sizes: list[int]) -> None:
    raw = fixture("anthropic_stream.sse")
    whole = SSEParser().feed(raw)
    parser, events, pos = SSEParser(), [], 0
    for size in sizes * (len(raw) // max(1, sum(sizes)) + 1):
        if pos >= len(raw):
            break
        events += parser.feed(raw[pos : pos + size])
        pos += size
    events += parser.feed(raw[pos:])
    assert events == whole
    assert len(whole) == 13


@pytest.mark.parametrize("count", [-1, MAX_USAGE_TOKENS + 1, 10**30])
def test_absurd_or_negative_usage_is_malformed_in_both_dialects(count: int) -> None:
    # issue 13 §6: "negative or absurd counts are a MalformedResponse"
    openai = json.loads(fixture("openai_chat.json"))
    openai["usage"]["completion_tokens"] = count
    anthropic = json.loads(fixture("anthropic_message.json"))
    anthropic["usage"]["input_tokens"] = count
    for adapter, body in ((OpenAIAdapter(), openai), (AnthropicAdapter(), anthropic)):
        with pytest.raises(MalformedResponse, match="usage"):
            adapter.decode_chat("p", json.dumps(body).encode())
    openai["usage"]["completion_tokens"] = MAX_USAGE_TOKENS  # the bound itself passes
    assert OpenAIAdapter().decode_chat("p", json.dumps(openai).encode()).usage.output_tokens == (
        MAX_USAGE_TOKENS
    )
