"""OpenAI chat-completions dicts to agentrt messages and tool specs (private).

The Agents SDK converts its Responses-format items to chat-completions message dicts
(``Converter.items_to_messages``) and its tools to chat-completions tool dicts; these
functions take that shape on to agentrt's ``Message``/``ToolSpec``. A dict that is not
such a message raises ``InvalidArgument`` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentrt.errors import InvalidArgument
from agentrt.llm import ToolSpec
from agentrt.messages import Message, ToolCall

__all__ = ["message_from_openai", "refuse", "text_of", "tool_spec_from_openai"]

_NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def refuse(field: str, problem: str) -> InvalidArgument:
    """The error for a value a bridge cannot carry: ``InvalidArgument`` whose ``name``
    and message name ``field``."""
    return InvalidArgument(field, f"{field}: {problem}")


def text_of(content: object, field: str = "content") -> str:
    """The text of an OpenAI message's ``content``: a string, None (""), or a list of
    parts whose ``text`` fields are joined by newlines (other parts are refused)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        texts = []
        for i, part in enumerate(content):
            text = part.get("text") if isinstance(part, Mapping) else None
            if not isinstance(text, str):
                raise refuse(f"{field}[{i}]", f"only text parts can be bridged, got {part!r:.80}")
            texts.append(text)
        return "\n".join(texts)
    raise refuse(field, f"expected a string or a list of parts, got {content!r:.80}")


def message_from_openai(data: Mapping[str, Any], field: str = "message") -> Message:
    """An agentrt ``Message`` from an OpenAI chat-completions message dict (roles system,
    developer (as system), user, assistant with ``tool_calls``, tool)."""
    role = data.get("role")
    text = text_of(data.get("content"), f"{field}.content")
    if role in ("system", "developer"):
        return Message.system(text)
    if role == "user":
        return Message.user(text)
    if role == "assistant":
        calls = tuple(
            _tool_call(call, f"{field}.tool_calls[{i}]")
            for i, call in enumerate(data.get("tool_calls") or ())
        )
        return Message.assistant(text, tool_calls=calls)
    if role == "tool":
        call_id = data.get("tool_call_id")
        if not isinstance(call_id, str):
            raise refuse(f"{field}.tool_call_id", f"expected a string, got {call_id!r}")
        return Message.tool_result(call_id, text)
    raise refuse(f"{field}.role", f"unknown role {role!r}")


def _tool_call(call: Any, field: str) -> ToolCall:
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise refuse(f"{field}.function", f"expected a function call, got {call!r:.80}")
    call_id = call.get("id")
    if not isinstance(call_id, str):
        raise refuse(f"{field}.id", f"expected a string, got {call_id!r}")
    return ToolCall(call_id, function["name"], function.get("arguments") or "{}")


def tool_spec_from_openai(tool: Mapping[str, Any], field: str = "tool") -> ToolSpec:
    """A ``ToolSpec`` from an OpenAI ``{"type": "function", "function": {...}}`` dict."""
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, Mapping):
        raise refuse(field, f"only function tools can be bridged, got {tool!r:.80}")
    name = function.get("name")
    if not isinstance(name, str):
        raise refuse(f"{field}.function.name", f"expected a string, got {name!r}")
    return ToolSpec(
        name=name,
        description=function.get("description") or "",
        parameters=dict(function.get("parameters") or _NO_PARAMETERS),
    )
