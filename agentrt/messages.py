"""The conversation message model shared by every layer.

One set of types travels from the agent through memory to the LLM providers and back:
:class:`Message` (a system, user, assistant or tool turn) and :class:`ToolCall` (a call an
assistant asked for). They are immutable ``msgspec`` structs: small in memory, encoded
without a per-message schema walk, and validated when decoded from bytes.

Tool-call arguments are kept as the JSON text the model produced (OpenAI sends a string;
Anthropic's object input is serialized to one), so a malformed call can be reported back
to the model verbatim. The tools layer parses and validates them.

Example::

    history = [
        Message.system("You are terse."),
        Message.user("Weather in Paris?"),
        Message.assistant("", tool_calls=(ToolCall("c1", "weather", '{"city": "Paris"}'),)),
        Message.tool_result("c1", '{"temp_c": 18}'),
    ]
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Message", "Role", "ToolCall"]

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(msgspec.Struct, frozen=True):
    """A tool invocation requested by the assistant.

    ``id`` pairs the call with its result message; ``arguments`` is JSON text.
    """

    id: str
    name: str
    arguments: str = "{}"


class Message(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One conversation turn.

    - ``role``: ``"system"``, ``"user"``, ``"assistant"`` or ``"tool"``.
    - ``content``: the text (for a tool message, the tool's result as text/JSON).
    - ``name``: optional participant name (multi-agent conversations).
    - ``tool_calls``: calls requested by an assistant message (empty otherwise).
    - ``tool_call_id``: for a tool message, the id of the call it answers.
    - ``is_error``: for a tool message, True when the tool failed.
    - ``timestamp``: seconds since the epoch when recorded (0.0 when unknown).
    - ``tokens``: estimated token count (0 when not yet estimated).
    """

    role: Role
    content: str = ""
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False
    timestamp: float = 0.0
    tokens: int = 0

    @classmethod
    def system(cls, content: str) -> Message:
        """A system prompt message."""
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str, *, name: str | None = None) -> Message:
        """A user turn."""
        return cls(role="user", content=content, name=name)

    @classmethod
    def assistant(cls, content: str, *, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        """An assistant turn, optionally requesting tool calls."""
        return cls(role="assistant", content=content, tool_calls=tool_calls)

    @classmethod
    def tool_result(cls, tool_call_id: str, content: str, *, is_error: bool = False) -> Message:
        """The result of the tool call ``tool_call_id``."""
        return cls(role="tool", content=content, tool_call_id=tool_call_id, is_error=is_error)
