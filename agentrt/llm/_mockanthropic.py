"""The Anthropic Messages wire bodies the mock LLM server sends (``POST /v1/messages``).

Pure functions of the request body and the deterministic reply
(:mod:`agentrt.llm._mockreply`): a message (``content`` blocks ``text`` and ``tool_use``,
``stop_reason`` ``end_turn`` or ``tool_use``, ``usage``) and its SSE stream
(``message_start``, per block ``content_block_start`` / ``_delta`` / ``_stop``,
``message_delta``, ``message_stop``). With ``usage_details`` half the prompt is reported
as cache reads and a quarter as cache writes (Anthropic counts them apart from
``input_tokens``). The malformed-body faults are the OpenAI dialect's only.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from agentrt.llm._mockreply import MockReply
from agentrt.llm._mockwire import completion_tokens

__all__ = ["error_body", "message_body", "message_events"]

_json = msgspec.json.Encoder()
_STOP = {"tool_calls": "tool_use", "stop": "end_turn", "length": "max_tokens"}


def error_body(kind: str, message: str) -> dict[str, Any]:
    """Anthropic's error object: ``{"type": "error", "error": {"type", "message"}}``."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def _usage(prompt: int, details: bool) -> dict[str, int]:
    if not details:
        return {"input_tokens": prompt, "output_tokens": 1}
    read, write = prompt // 2, prompt // 4
    return {
        "input_tokens": prompt - read - write,
        "output_tokens": 1,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
    }


def _input(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return {"_raw_arguments": arguments}


def _blocks(reply: MockReply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.content:
        blocks.append({"type": "text", "text": reply.content})
    blocks += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c.arguments)}
        for c in reply.tool_calls
    ]
    return blocks


def _message(model: str, content: list[Any], stop: str | None, usage: dict[str, int]) -> Any:
    return {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def message_body(body: dict[str, Any], prompt: int, reply: MockReply, details: bool) -> bytes:
    """The message answering ``body`` (a ``prompt``-token request)."""
    usage = _usage(prompt, details) | {"output_tokens": completion_tokens(reply)}
    model = str(body.get("model", "mock"))
    return _json.encode(_message(model, _blocks(reply), _STOP[reply.finish], usage))


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + _json.encode({"type": kind, **data}) + b"\n\n"


def _text_events(index: int, text: str) -> list[bytes]:
    words = text.split(" ")
    start = {"index": index, "content_block": {"type": "text", "text": ""}}
    events = [_event("content_block_start", start)]
    events += [
        _event(
            "content_block_delta",
            {"index": index, "delta": {"type": "text_delta", "text": w if i == 0 else " " + w}},
        )
        for i, w in enumerate(words)
    ]
    return [*events, _event("content_block_stop", {"index": index})]


def _tool_events(index: int, block: dict[str, Any]) -> list[bytes]:
    args = json.dumps(block["input"])
    half = len(args) // 2
    start = {"index": index, "content_block": {**block, "input": {}}}
    return [
        _event("content_block_start", start),
        *(
            _event(
                "content_block_delta",
                {"index": index, "delta": {"type": "input_json_delta", "partial_json": part}},
            )
            for part in (args[:half], args[half:])
        ),
        _event("content_block_stop", {"index": index}),
    ]


def message_events(
    body: dict[str, Any], prompt: int, reply: MockReply, details: bool
) -> list[bytes]:
    """The SSE events streaming the message answering ``body``."""
    model = str(body.get("model", "mock"))
    events = [
        _event("message_start", {"message": _message(model, [], None, _usage(prompt, details))})
    ]
    for index, block in enumerate(_blocks(reply)):
        if block["type"] == "text":
            events += _text_events(index, block["text"])
        else:
            events += _tool_events(index, block)
    delta = {"delta": {"stop_reason": _STOP[reply.finish], "stop_sequence": None}}
    events.append(
        _event("message_delta", delta | {"usage": {"output_tokens": completion_tokens(reply)}})
    )
    return [*events, _event("message_stop", {})]
