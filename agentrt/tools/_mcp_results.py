"""What an MCP server's answers and failures become for the model and the logs (private):
a tool result's content, a pydantic validation error in brief, the first real error of an
exception group, the error a failed connection raises."""

from __future__ import annotations

from typing import Any

from agentrt.redact import redact_text
from agentrt.tools._errors import (
    MCPProtocolError,
    MCPToolError,
    MCPUnavailable,
    ToolDefinitionError,
)

__all__ = ["brief", "connect_error", "content", "why"]


def content(server: str, tool: str, result: Any) -> Any:
    """The model's view of a CallToolResult (module docstring)."""
    from mcp import types

    if not isinstance(result, types.CallToolResult):
        raise MCPProtocolError(server, f"tools/call of {tool!r} answered {type(result).__name__}")
    texts: list[str] = []
    others: list[Any] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            texts.append(block.text)
        else:
            others.append(block.model_dump(mode="json", exclude_none=True, by_alias=True))
    if result.is_error:
        raise MCPToolError(server, tool, "\n".join(texts) or repr(others))
    if texts and not others:
        return "\n".join(texts)
    if not texts and not others and result.structured_content is not None:
        return result.structured_content
    return [{"type": "text", "text": t} for t in texts] + others


def brief(exc: Any) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{loc}: {error['msg']}")
    return "; ".join(parts)


def why(exc: BaseException) -> str:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return redact_text(f"{type(exc).__name__}: {exc}")


def connect_error(server: str, exc: BaseException, why: str) -> Exception:
    import pydantic

    inner = exc
    while isinstance(inner, BaseExceptionGroup) and inner.exceptions:
        inner = inner.exceptions[0]
    if isinstance(inner, pydantic.ValidationError):
        return MCPProtocolError(server, f"while connecting/listing tools: {brief(inner)}")
    if isinstance(inner, MCPProtocolError | ToolDefinitionError):
        return inner
    return MCPUnavailable(server, f"could not connect: {why}")
