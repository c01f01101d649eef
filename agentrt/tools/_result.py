"""What a tool call gives back to the agent: :class:`ToolResult`.

A result is either ok (``content`` is the tool's return value as text: a returned ``str``
verbatim, anything else as JSON) or an error (``content`` is a JSON object
``{"error": kind, "message": text}`` the LLM can act on; argument errors add
``"fields"``). ``to_message`` turns it into the ``tool`` message for the conversation.

Example::

    result = await registry.call(ToolCall("c1", "weather", '{"city": "Paris"}'))
    history.append(result.to_message("c1"))
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from agentrt.messages import Message
from agentrt.tools._errors import (
    ResourceUnavailable,
    ToolArgumentError,
    ToolBusy,
    ToolError,
    ToolResultError,
    ToolTimeout,
    UnknownTool,
)

__all__ = ["ErrorKind", "ToolResult", "encode_content"]

ErrorKind = Literal[
    "invalid_arguments", "unknown_tool", "timeout", "busy", "unavailable", "exception"
]
"""Why a call failed: bad arguments (fields named), no such tool, too slow, too many
waiting calls, the resource executor is down, or the tool raised."""

_ENCODER = msgspec.json.Encoder()


def encode_content(value: Any) -> str:
    """A tool's return value as text: a ``str`` verbatim, anything else as JSON.

    Raises ``ToolResultError`` (a TypeError) when the value is not JSON-serializable
    (dataclasses, enums, TypedDicts, lists, dicts and scalars are).
    """
    if isinstance(value, str):
        return value
    try:
        return _ENCODER.encode(value).decode()
    except (TypeError, msgspec.EncodeError) as exc:
        raise ToolResultError(
            f"tool returned a value that is not JSON-serializable: {exc}"
        ) from exc


class ToolResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one tool call.

    - ``tool``: the tool's name.
    - ``ok``: True when the tool returned normally.
    - ``content``: the text for the LLM (see the module docstring).
    - ``error``: the :data:`ErrorKind` when not ok.
    - ``cached``: True when served from the cache (no execution).
    """

    tool: str
    ok: bool
    content: str
    error: ErrorKind | None = None
    cached: bool = False

    @classmethod
    def success(cls, tool: str, value: Any) -> ToolResult:
        """An ok result for ``value`` (encoded with :func:`encode_content`)."""
        return cls(tool=tool, ok=True, content=encode_content(value))

    @classmethod
    def failure(cls, tool: str, kind: ErrorKind, message: str, **extra: Any) -> ToolResult:
        """An error result with a JSON ``{"error", "message", ...extra}`` content."""
        body = {"error": kind, "message": message, **extra}
        return cls(tool=tool, ok=False, content=_ENCODER.encode(body).decode(), error=kind)

    @classmethod
    def from_error(cls, tool: str, exc: ToolError) -> ToolResult:
        """The error result for a tools-layer error (its message names what went wrong)."""
        if isinstance(exc, ToolArgumentError):
            return cls.failure(tool, "invalid_arguments", str(exc), fields=list(exc.fields))
        kind: ErrorKind = "exception"
        if isinstance(exc, UnknownTool):
            kind = "unknown_tool"
        elif isinstance(exc, ToolTimeout):
            kind = "timeout"
        elif isinstance(exc, ToolBusy):
            kind = "busy"
        elif isinstance(exc, ResourceUnavailable):
            kind = "unavailable"
        return cls.failure(tool, kind, str(exc))

    @property
    def message(self) -> str:
        """The error message of a failed result ('' when ok)."""
        if self.ok:
            return ""
        body = msgspec.json.decode(self.content)
        return str(body.get("message", "")) if isinstance(body, dict) else self.content

    def to_message(self, tool_call_id: str) -> Message:
        """The conversation's ``tool`` message answering call ``tool_call_id``."""
        return Message.tool_result(tool_call_id, self.content, is_error=not self.ok)
