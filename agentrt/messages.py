"""The conversation message model shared by every layer.

One set of types travels from the agent through memory to the LLM providers and back:
:class:`Message` (a system, user, assistant or tool turn) and :class:`ToolCall` (a call an
assistant asked for). They are immutable ``msgspec`` structs: small in memory, encoded
without a per-message schema walk, and validated when decoded from bytes.

A message's ``content`` is text, or a tuple of typed parts: :class:`TextPart` and
:class:`ImagePart` (an image by ``http(s)`` URL or base64 ``data:`` URL, sent to OpenAI as
an ``image_url`` part and to Anthropic as an ``image`` block). :attr:`Message.text` is the
text either way (text parts joined by newlines, images left out), which is what summaries,
search and the text-only paths read.

Tool-call arguments are kept as the JSON text the model produced (OpenAI sends a string;
Anthropic's object input is serialized to one), so a malformed call can be reported back
to the model verbatim. The tools layer parses and validates them.

``msgspec`` structs do not check types when constructed, so ``Message.user(None)`` builds.
:func:`check_message` is the one check every writer (``Conversation.append``, the
runtime's ``ask``/``stream``) runs before anything is stored: each field has its declared
type and every string is encodable as UTF-8 (no lone surrogate such as ``"\\ud800"``), so
whatever is stored decodes again. Failures raise :class:`MessageTypeError` (a
``TypeError``) or :class:`MessageValueError` (a ``ValueError``), both naming the field.

Example::

    history = [
        Message.system("You are terse."),
        Message.user("Weather in Paris?"),
        Message.assistant("", tool_calls=(ToolCall("c1", "weather", '{"city": "Paris"}'),)),
        Message.tool_result("c1", '{"temp_c": 18}'),
        Message.user((TextPart("What is this?"), ImagePart("https://x.test/cat.png"))),
    ]
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal, TypeAlias, get_args

import msgspec

from agentrt.errors import AgentRTError

__all__ = [
    "Content",
    "ContentPart",
    "ImageDetail",
    "ImagePart",
    "Message",
    "MessageError",
    "MessageTypeError",
    "MessageValueError",
    "Role",
    "TextPart",
    "ToolCall",
    "check_content",
    "check_message",
    "check_text",
    "content_text",
]

Role = Literal["system", "user", "assistant", "tool"]
_ROLES = frozenset(get_args(Role))
_MAX_INT = 2**63 - 1  # msgpack's signed 64-bit range, which the decoder reads back
_EXACT_FLOAT_INT = 2**53  # the largest int range a float holds exactly
_FINITE_LOW, _FINITE_HIGH = -math.inf, math.inf  # the fast path's bounds (NaN fails both)


class ToolCall(msgspec.Struct, frozen=True):
    """A tool invocation requested by the assistant.

    ``id`` pairs the call with its result message; ``arguments`` is JSON text.
    """

    id: str
    name: str
    arguments: str = "{}"


ImageDetail = Literal["auto", "low", "high"]
"""How closely the model looks at an image (OpenAI's ``detail``; default ``"auto"``).
Anthropic has no such switch: it is stored and sent to OpenAI-compatible servers only."""
_DETAILS = frozenset(get_args(ImageDetail))


class TextPart(msgspec.Struct, frozen=True, tag="text"):
    """A piece of text in a message's content (OpenAI ``{"type": "text"}``, Anthropic
    ``text`` block)."""

    text: str


class ImagePart(msgspec.Struct, frozen=True, tag="image", omit_defaults=True):
    """An image in a user message's content, by URL.

    ``url`` is an ``http://`` or ``https://`` URL, or a ``data:image/<type>;base64,<data>``
    URL (the only data form both OpenAI and Anthropic accept); ``detail`` is
    :data:`ImageDetail`. Checked by :func:`check_content`: another scheme, a data URL
    that is not base64 image data, or an unknown detail is a :class:`MessageValueError`.
    """

    url: str
    detail: ImageDetail = "auto"


ContentPart: TypeAlias = TextPart | ImagePart
"""One typed part of a message's content."""

Content: TypeAlias = str | tuple[ContentPart, ...]
"""A message's content: plain text, or a tuple of parts."""


def content_text(content: Content) -> str:
    """The text of ``content``: the string itself, or the text parts joined by newlines
    (images left out)."""
    if isinstance(content, str):
        return content
    return "\n".join(p.text for p in content if isinstance(p, TextPart))


def _content(content: str | Sequence[ContentPart]) -> Content:
    """``content`` as stored: a list of parts becomes a tuple, anything else is kept
    (and checked by :func:`check_message` when stored)."""
    return tuple(content) if isinstance(content, list) else content  # type: ignore[return-value]


class Message(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One conversation turn.

    - ``role``: ``"system"``, ``"user"``, ``"assistant"`` or ``"tool"``.
    - ``content``: the text (for a tool message, the tool's result as text/JSON), or a
      tuple of :data:`ContentPart` (images only in user messages).
    - ``name``: optional participant name (multi-agent conversations).
    - ``tool_calls``: calls requested by an assistant message (empty otherwise).
    - ``tool_call_id``: for a tool message, the id of the call it answers.
    - ``is_error``: for a tool message, True when the tool failed.
    - ``timestamp``: seconds since the epoch when recorded (0.0 when unknown); finite, and
      an int only within ±2**53 (it reads back as a float).
    - ``tokens``: estimated token count (0 when not yet estimated).
    """

    role: Role
    content: Content = ""
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False
    timestamp: float = 0.0
    tokens: int = 0

    @property
    def text(self) -> str:
        """The content's text: the string itself, or the text parts joined by newlines
        (images left out)."""
        return content_text(self.content)

    @property
    def images(self) -> tuple[ImagePart, ...]:
        """The image parts of the content (empty for text)."""
        content = self.content
        if isinstance(content, str):
            return ()
        return tuple(p for p in content if isinstance(p, ImagePart))

    @classmethod
    def system(cls, content: str) -> Message:
        """A system prompt message."""
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str | Sequence[ContentPart], *, name: str | None = None) -> Message:
        """A user turn: text, or a sequence of parts (stored as a tuple)."""
        return cls(role="user", content=_content(content), name=name)

    @classmethod
    def assistant(cls, content: str, *, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        """An assistant turn, optionally requesting tool calls."""
        return cls(role="assistant", content=content, tool_calls=tool_calls)

    @classmethod
    def tool_result(cls, tool_call_id: str, content: str, *, is_error: bool = False) -> Message:
        """The result of the tool call ``tool_call_id``."""
        return cls(role="tool", content=content, tool_call_id=tool_call_id, is_error=is_error)


class MessageError(AgentRTError):
    """A message (or a turn's text) cannot be stored; ``field`` names the part at fault.

    ::

        AgentRTError
        └── MessageError
            ├── MessageTypeError (TypeError)    a field has the wrong type
            └── MessageValueError (ValueError)  a value that would not read back
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class MessageTypeError(MessageError, TypeError):
    """A field has the wrong type (``None``, ``123`` or ``b"x"`` where text belongs)."""


class MessageValueError(MessageError, ValueError):
    """A value that cannot be stored and read back: a string with a lone surrogate, an
    unknown role, a negative or out-of-range count."""


def check_text(field: str, value: object, *, optional: bool = False) -> None:
    """Raise unless ``value`` is a ``str`` encodable as UTF-8 (``None`` too if
    ``optional``). ASCII text costs one ``isascii()``.

    >>> check_text("text", "hello")
    >>> check_text("text", None)
    Traceback (most recent call last):
    ...
    agentrt.messages.MessageTypeError: text: expected str, got NoneType
    """
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise MessageTypeError(field, f"expected str, got {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")  # C speed; the scan a regex would do costs ~10x more
        except UnicodeEncodeError as exc:
            raise MessageValueError(
                field,
                f"lone surrogate {value[exc.start]!r} at index {exc.start} "
                "(text must be encodable as UTF-8)",
            ) from None


def check_message(message: object, field: str = "message") -> None:
    """Raise :class:`MessageError` naming the field unless ``message`` is a
    :class:`Message` whose every field has its declared type and would read back
    unchanged once encoded. ``field`` prefixes the names in errors. About 0.3 µs for a
    message without tool calls (names are built only for an error)."""
    if not isinstance(message, Message):
        raise MessageTypeError(field, f"expected a Message, got {type(message).__name__}")
    role, content, calls = message.role, message.content, message.tool_calls
    if type(content) is not str or not content.isascii():
        check_content(f"{field}.content", content, images=role == "user")
    if message.name is not None or message.tool_call_id is not None:
        check_text(f"{field}.name", message.name, optional=True)
        check_text(f"{field}.tool_call_id", message.tool_call_id, optional=True)
    if not isinstance(role, str) or role not in _ROLES:
        raise MessageValueError(f"{field}.role", f"must be one of {sorted(_ROLES)}")
    if type(message.is_error) is not bool:
        raise MessageTypeError(f"{field}.is_error", "expected bool")
    timestamp = message.timestamp
    if type(timestamp) is not float or not _FINITE_LOW < timestamp < _FINITE_HIGH:
        _check_timestamp(f"{field}.timestamp", timestamp)
    if type(message.tokens) is not int or not 0 <= message.tokens <= _MAX_INT:
        _check_number(f"{field}.tokens", message.tokens, int)
        if message.tokens < 0:
            raise MessageValueError(f"{field}.tokens", "must be >= 0")
    if calls:
        _check_calls(calls, field)
    elif type(calls) is not tuple:
        raise MessageTypeError(f"{field}.tool_calls", f"expected tuple, got {type(calls).__name__}")


def check_content(field: str, content: object, *, images: bool = True) -> None:
    """Raise :class:`MessageError` naming the field (``content[1].url``) unless
    ``content`` is storable text or a non-empty tuple of :class:`TextPart` /
    :class:`ImagePart` whose fields are valid (see :class:`ImagePart`); with
    ``images=False`` an image part is refused too (only user messages carry images).

    >>> check_content("text", (TextPart("hi"), ImagePart("https://x.test/a.png")))
    >>> check_content("text", (TextPart("hi"), ImagePart("https://x.test/a.png", "big")))
    Traceback (most recent call last):
    ...
    agentrt.messages.MessageValueError: text[1].detail: must be one of ['auto', 'high', 'low']
    """
    if isinstance(content, str):
        check_text(field, content)
        return
    if not isinstance(content, tuple):
        got = type(content).__name__
        raise MessageTypeError(field, f"expected str or a tuple of content parts, got {got}")
    if not content:
        raise MessageValueError(field, "must hold at least one part (or be a str)")
    for n, part in enumerate(content):
        where = f"{field}[{n}]"
        if isinstance(part, TextPart):
            check_text(f"{where}.text", part.text)
        elif isinstance(part, ImagePart):
            if not images:
                raise MessageValueError(where, "images belong in user messages only")
            _check_image(where, part)
        else:
            got = type(part).__name__
            raise MessageTypeError(where, f"expected a TextPart or an ImagePart, got {got}")


_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/]+={0,2}")
_WEB_URL = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?", re.IGNORECASE)


def _check_image(field: str, part: ImagePart) -> None:
    """Raise unless ``part.url`` is an http(s) URL with a host or a base64 image data URL,
    and ``part.detail`` one of ``auto``, ``low``, ``high``."""
    url = part.url
    check_text(f"{field}.url", url)
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    if scheme == "data":
        if _DATA_URL.fullmatch(url) is None:
            raise MessageValueError(
                f"{field}.url", "a data URL must be data:image/<type>;base64,<data>"
            )
    elif scheme not in ("http", "https"):
        shown = repr(scheme) if scheme else "none"
        raise MessageValueError(
            f"{field}.url",
            f"must be an http(s) URL or a data:image/...;base64 URL, got scheme {shown}",
        )
    elif _WEB_URL.fullmatch(url) is None:
        raise MessageValueError(f"{field}.url", "not a valid http(s) URL (no host, or spaces)")
    if not isinstance(part.detail, str) or part.detail not in _DETAILS:
        raise MessageValueError(f"{field}.detail", f"must be one of {sorted(_DETAILS)}")


def _check_calls(calls: object, field: str) -> None:
    if not isinstance(calls, tuple):
        raise MessageTypeError(f"{field}.tool_calls", f"expected tuple, got {type(calls).__name__}")
    for n, call in enumerate(calls):
        where = f"{field}.tool_calls[{n}]"
        if not isinstance(call, ToolCall):
            raise MessageTypeError(where, f"expected a ToolCall, got {type(call).__name__}")
        check_text(f"{where}.id", call.id)
        check_text(f"{where}.name", call.name)
        check_text(f"{where}.arguments", call.arguments)


def _check_timestamp(field: str, value: object) -> None:
    """A finite float, or an int that a float holds exactly (|value| <= 2**53): the
    decoder reads the field back as a float, so 2**53 + 1 would come back as 2**53."""
    _check_number(field, value, float)
    if type(value) is int:
        if not -_EXACT_FLOAT_INT <= value <= _EXACT_FLOAT_INT:
            raise MessageValueError(field, "an int above 2**53 does not read back exactly")
    elif not math.isfinite(value):  # type: ignore[arg-type]
        raise MessageValueError(field, f"must be finite, got {value!r}")


def _check_number(field: str, value: object, kind: type) -> None:
    """``value`` is an int (within msgpack's 64-bit range) or, for ``float``, a float."""
    if type(value) is int:
        if not -_MAX_INT <= value <= _MAX_INT:
            raise MessageValueError(field, "out of the 64-bit range")
    elif not (kind is float and type(value) is float):
        raise MessageTypeError(field, f"expected {kind.__name__}, got {type(value).__name__}")
