"""How the mock LLM server reads a chat request: the last turn a reply answers, the
offered tools, the prompt's token count, and a check of every content part, in the
OpenAI and the Anthropic dialect.

A request whose messages or parts are malformed is refused (:class:`WireError`, a 400
naming the field, e.g. ``messages[0].content[1].image_url.url``), as the real APIs do, so
a test over HTTP proves what the client sent. Accepted parts:

- OpenAI: ``{"type": "text", "text"}``, ``{"type": "image_url", "image_url": {"url",
  "detail"?}}`` (``detail`` one of ``auto``/``low``/``high``);
- Anthropic: ``{"type": "text", "text"}``, ``{"type": "image", "source": {"type": "url",
  "url"}}`` or ``{"type": "image", "source": {"type": "base64", "media_type", "data"}}``,
  and ``tool_use`` / ``tool_result`` blocks.

Image URLs must be http(s) or base64 ``data:image`` URLs. The last turn's text is its
text parts, then ``[image <detail>]`` per OpenAI image or ``[image <source type>]`` per
Anthropic image (:func:`agentrt.llm._mockreply.parts_text`).

Example::

    >>> read_turn({"messages": [{"role": "user", "content": "hi"}]}, "openai").text
    'hi'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from agentrt.errors import AgentRTError
from agentrt.llm._mockreply import parts_text
from agentrt.tokens import IMAGE_TOKENS, estimate_tokens

__all__ = ["Dialect", "LastTurn", "WireError", "read_turn"]

Dialect = Literal["openai", "anthropic"]

_IMAGE_URL = re.compile(r"(https?://\S+|data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/]+={0,2})")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_DETAILS = ("auto", "low", "high")


class WireError(AgentRTError, ValueError):
    """A malformed request: ``param`` names the field, ``message`` the problem."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = f"{param}: {message}"


@dataclass(frozen=True, slots=True)
class LastTurn:
    """What a mock reply depends on: the last turn's role and text, the offered tools'
    names, and the prompt's estimated tokens (images by ``IMAGE_TOKENS``)."""

    role: str
    text: str
    tools: tuple[str, ...]
    prompt_tokens: int


def _field(value: dict[str, Any], key: str, where: str, kind: type = str) -> Any:
    got = value.get(key)
    if not isinstance(got, kind):
        raise WireError(f"{where}.{key}", f"expected {kind.__name__}")
    return got


def _url(url: str, where: str) -> None:
    if _IMAGE_URL.fullmatch(url) is None:
        raise WireError(where, "must be an http(s) URL or a data:image/...;base64 URL")


def _openai_part(part: dict[str, Any], kind: Any, where: str) -> tuple[str | None, str | None]:
    """(text, image label) of one OpenAI content part other than text."""
    if kind == "image_url":
        image = _field(part, "image_url", where, dict)
        _url(_field(image, "url", f"{where}.image_url"), f"{where}.image_url.url")
        detail = image.get("detail", "auto")
        if detail not in _DETAILS:
            raise WireError(f"{where}.image_url.detail", f"must be one of {list(_DETAILS)}")
        return None, str(detail)
    raise WireError(f"{where}.type", f"unknown content part type {kind!r}")


def _anthropic_part(part: dict[str, Any], kind: Any, where: str) -> tuple[str | None, str | None]:
    """(text, image label) of one Anthropic content block other than text."""
    if kind == "image":
        source = _field(part, "source", where, dict)
        if source.get("type") == "url":
            _url(_field(source, "url", f"{where}.source"), f"{where}.source.url")
        elif source.get("type") == "base64":
            media = _field(source, "media_type", f"{where}.source")
            if not media.startswith("image/"):
                raise WireError(f"{where}.source.media_type", "must be image/<type>")
            if _BASE64.fullmatch(_field(source, "data", f"{where}.source")) is None:
                raise WireError(f"{where}.source.data", "is not base64")
        else:
            raise WireError(f"{where}.source.type", "must be 'url' or 'base64'")
        return None, str(source["type"])
    if kind == "tool_result":
        content = part.get("content", "")
        return (content if isinstance(content, str) else ""), None
    if kind == "tool_use":
        return None, None
    raise WireError(f"{where}.type", f"unknown content block type {kind!r}")


def _content(content: Any, where: str, dialect: Dialect) -> tuple[str, int, bool]:
    """(text, estimated tokens, holds a tool result) of one message's content."""
    if content is None or isinstance(content, str):
        return content or "", estimate_tokens(content or ""), False
    if not isinstance(content, list):
        raise WireError(where, "expected a string or an array of content parts")
    read = _openai_part if dialect == "openai" else _anthropic_part
    texts: list[str] = []
    images: list[str] = []
    for n, part in enumerate(content):
        at = f"{where}[{n}]"
        if not isinstance(part, dict):
            raise WireError(at, "expected an object")
        kind = part.get("type")
        piece, image = (_field(part, "text", at), None) if kind == "text" else read(part, kind, at)
        if piece is not None:
            texts.append(piece)
        if image is not None:
            images.append(image)
    tokens = sum(estimate_tokens(t) for t in texts) + sum(IMAGE_TOKENS.get(d, 765) for d in images)
    tool = any(isinstance(p, dict) and p.get("type") == "tool_result" for p in content)
    return parts_text(texts, images), tokens, tool


def _tool_names(body: dict[str, Any], dialect: Dialect) -> tuple[str, ...]:
    tools = body.get("tools") or []
    if dialect == "openai":
        return tuple(t.get("function", {}).get("name", "") for t in tools if isinstance(t, dict))
    return tuple(str(t.get("name", "")) for t in tools if isinstance(t, dict))


def read_turn(body: dict[str, Any], dialect: Dialect) -> LastTurn:
    """The :class:`LastTurn` of a chat request body; raises :class:`WireError` when a
    message or a content part is malformed (every message is checked)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError("messages", "must be a non-empty list of objects")
    tokens = 0
    role, text = "user", ""
    system = body.get("system")
    if dialect == "anthropic" and system is not None:
        tokens += 4 + _content(system, "system", dialect)[1]
    for n, message in enumerate(messages):
        if not isinstance(message, dict):
            raise WireError(f"messages[{n}]", "expected an object")
        text, count, tool = _content(message.get("content"), f"messages[{n}].content", dialect)
        tokens += 4 + count
        role = "tool" if tool else str(message.get("role", "user"))
    return LastTurn(role, text, _tool_names(body, dialect), tokens)
