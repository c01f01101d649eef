"""The OpenAI wire bodies the mock LLM server sends: completions, SSE chunks, usage.

Pure functions of the request body and the deterministic reply
(:mod:`agentrt.llm._mockreply`), with the malformed variants the fault modes ask for.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from agentrt.llm._mockfaults import usage_body
from agentrt.llm._mockreply import MockReply
from agentrt.llm._tokens import estimate_tokens

__all__ = ["completion_body", "completion_tokens", "stream_events"]

_json = msgspec.json.Encoder()


def completion_tokens(reply: MockReply) -> int:
    """The output tokens the mock reports for ``reply`` (at least 1)."""
    return max(1, estimate_tokens(reply.content) + 8 * len(reply.tool_calls))


def _usage(prompt: int, reply: MockReply, details: bool, fault: Any) -> Any:
    completion = completion_tokens(reply)
    return usage_body(prompt, completion, details=details, bad=fault == "bad_usage")


def _wire_calls(reply: MockReply) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in reply.tool_calls
    ]


def completion_body(
    body: dict[str, Any], prompt: int, reply: MockReply, fault: Any, details: bool
) -> bytes:
    """The chat completion answering ``body`` (a ``prompt``-token request), or its
    ``fault``: ``error_200``, ``invalid_json``, ``missing_fields``, ``unknown_finish``,
    ``bad_usage``."""
    if fault == "error_200":
        error = {"message": "upstream model crashed (mock error_200)", "type": "server_error"}
        return _json.encode({"error": error})
    if fault == "invalid_json":
        return b'{"id": "chatcmpl-mock", "choices": [{"index": 0, "message": {'
    if fault == "missing_fields":
        return _json.encode({"id": "chatcmpl-mock", "object": "chat.completion"})
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.tool_calls:
        message["tool_calls"] = _wire_calls(reply)
    finish = "banana" if fault == "unknown_finish" else reply.finish
    return _json.encode(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "mock"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage(prompt, reply, details, fault),
        }
    )


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    event = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + _json.encode(event) + b"\n\n"


def stream_events(
    body: dict[str, Any], prompt: int, reply: MockReply, fault: Any, details: bool
) -> list[bytes]:
    """The SSE events streaming the answer to ``body`` (``truncated_sse``,
    ``unknown_finish`` and ``bad_usage`` faults applied)."""
    model = str(body.get("model", "mock"))
    events = [_chunk(model, {"role": "assistant", "content": ""}, None)]
    words = reply.content.split(" ") if reply.content else []
    events += [
        _chunk(model, {"content": w if i == 0 else " " + w}, None) for i, w in enumerate(words)
    ]
    for i, call in enumerate(reply.tool_calls):
        head = {"index": i, "id": call.id, "type": "function"}
        half = len(call.arguments) // 2
        first = {**head, "function": {"name": call.name, "arguments": call.arguments[:half]}}
        rest = {"index": i, "function": {"arguments": call.arguments[half:]}}
        events += [_chunk(model, {"tool_calls": [first]}, None)]
        events += [_chunk(model, {"tool_calls": [rest]}, None)]
    if fault == "truncated_sse":
        return [*events[: max(1, len(events) - 1)], b'data: {"id": "chatcmpl-mock", "choi']
    finish = "banana" if fault == "unknown_finish" else reply.finish
    events.append(_chunk(model, {}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage: dict[str, Any] = {"id": "chatcmpl-mock", "object": "chat.completion.chunk"}
        usage |= {"model": model, "choices": [], "usage": _usage(prompt, reply, details, fault)}
        events.append(b"data: " + _json.encode(usage) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events
