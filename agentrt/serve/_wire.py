"""OpenAI's chat-completions wire format: reading a request, writing answers, chunks and
errors, and matching a resent history with the stored conversation.

Requests are checked field by field; anything wrong is a :class:`_Refused` carrying the
OpenAI error object (``{"error": {"message", "type", "param", "code"}}``) with ``param``
naming the field (``messages[2].content[0].type``) and the HTTP status.

Resent histories (:func:`new_messages`): the request's ``user``/``assistant`` messages
are compared with the visible part of the stored conversation (user messages and the
assistant's final answers; tool calls, tool results and the system prompt are the
server's). Consecutive user messages of a request are one turn (joined). A stored user
message left unanswered by a failed turn is not part of the visible history (a retry of
that request matches). What follows the known prefix must be user messages only.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from agentrt.agent import Reply
from agentrt.messages import (
    Content,
    ContentPart,
    ImagePart,
    Message,
    MessageError,
    TextPart,
    check_content,
    content_text,
)

__all__ = [
    "ChatRequest",
    "Chunks",
    "RequestMessage",
    "completion",
    "error_body",
    "new_messages",
    "parse_request",
    "turn_content",
]

_ID_PREFIX = secrets.token_hex(6)
_ids = itertools.count(1)
_decode = msgspec.json.Decoder()
encode = msgspec.json.Encoder().encode

#: Request fields applied by the server; every other one is refused unless ignored.
_APPLIED = frozenset({"model", "messages", "stream", "stream_options", "user", "n"})
_MESSAGE_KEYS = frozenset({"role", "content", "name", "refusal"})
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    421: "invalid_request_error",
    429: "rate_limit_error",
}


class _Refused(Exception):
    """A request answered with an OpenAI error: ``status``, ``message``, ``param``
    (the field, or None), ``code`` (machine-readable, or None), ``retry_after``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after


def error_body(status: int, message: str, param: str | None, code: str | None) -> bytes:
    """The JSON of OpenAI's error object for ``status``."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return encode({"error": {"message": message, "type": kind, "param": param, "code": code}})


def _bad(param: str, problem: str, code: str = "invalid_value") -> _Refused:
    return _Refused(400, f"{param}: {problem}", param=param, code=code)


@dataclass(frozen=True, slots=True)
class RequestMessage:
    """One ``user`` or ``assistant`` message of a request, at ``index`` in ``messages``."""

    index: int
    role: str
    content: Content
    name: str | None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A checked ``POST /v1/chat/completions`` body."""

    model: str
    messages: tuple[RequestMessage, ...]
    stream: bool
    include_usage: bool
    user: str | None


class _PlainMessage(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["user", "assistant"]
    content: str


class _PlainRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The common request, decoded and typed by msgspec in one step: text messages, no
    option but ``stream`` and ``user``. Any other request takes the field-by-field path."""

    model: str
    messages: list[_PlainMessage]
    stream: bool = False
    user: str | None = None


_decode_plain = msgspec.json.Decoder(_PlainRequest)


def parse_request(body: bytes, *, ignore: frozenset[str], system: str) -> ChatRequest:
    """The request in ``body``; raises ``_Refused`` (400) naming the bad field.
    ``ignore``: fields accepted and dropped; ``system``: ``"reject"`` or ``"ignore"``
    for system/developer messages (``ServeConfig``). A plain request (``_PlainRequest``)
    is read by msgspec alone; the rest, errors included, field by field."""
    try:
        plain = _decode_plain.decode(body)
    except msgspec.DecodeError:  # not plain (or not valid): read field by field below
        pass
    else:
        said = plain.messages
        if plain.model and said and said[-1].role == "user":
            messages = tuple(
                RequestMessage(i, m.role, _content(m.content, f"messages[{i}].content"), None)
                for i, m in enumerate(said)
            )
            return ChatRequest(plain.model, messages, plain.stream, False, plain.user or None)
    try:
        data = _decode.decode(body)
    except msgspec.DecodeError as exc:
        raise _Refused(400, f"the body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise _Refused(400, "the body must be a JSON object", code="invalid_json")
    for key, value in data.items():
        if key not in _APPLIED and key not in ignore and value is not None:
            raise _bad(
                key,
                "not applied by agentrt serve (the agent's own settings and server-side tools "
                "apply); list it in ServeConfig.ignore_fields (--ignore-field) to accept and "
                "ignore it",
                "unsupported_parameter",
            )
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise _bad(
            "model", "required: the name of an agent class or a named agent (GET /v1/models)"
        )
    stream = data.get("stream")
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad("stream", f"must be a boolean, got {stream!r}")
    include_usage = False
    options = data.get("stream_options")
    if options is not None:
        if not stream:
            raise _bad("stream_options", "only allowed when stream is true")
        if not isinstance(options, dict):
            raise _bad("stream_options", "must be an object")
        for key, value in options.items():
            if key != "include_usage":
                raise _bad(f"stream_options.{key}", "unknown option (known: include_usage)")
            if not isinstance(value, bool):
                raise _bad("stream_options.include_usage", f"must be a boolean, got {value!r}")
            include_usage = value
    n = data.get("n")
    if n is not None and (type(n) is not int or n != 1):
        raise _bad("n", f"only n=1 is supported (one agent answers once), got {n!r}")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("user", f"must be a string, got {user!r}")
    messages = _messages(data.get("messages"), system)
    return ChatRequest(model, messages, stream, include_usage, user or None)


def _messages(raw: Any, system: str) -> tuple[RequestMessage, ...]:
    if not isinstance(raw, list) or not raw:
        raise _bad("messages", "required: a non-empty array of messages")
    out: list[RequestMessage] = []
    for i, item in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise _bad(where, "must be an object with a role and content")
        role = item.get("role")
        if role in ("system", "developer"):
            if system == "reject":
                raise _bad(
                    f"{where}.role",
                    f"{role!r} messages are refused: the agent's system prompt is set on the "
                    "server (ServeConfig.system_messages='ignore' drops them instead)",
                    "unsupported_message",
                )
            continue
        if role in ("tool", "function"):
            raise _bad(
                f"{where}.role",
                f"{role!r} messages are not supported: the agent's tools run on the server",
                "unsupported_message",
            )
        if role not in ("user", "assistant"):
            raise _bad(
                f"{where}.role", f"must be one of system, developer, user, assistant; got {role!r}"
            )
        for key, value in item.items():
            if key == "tool_calls" and value:
                raise _bad(f"{where}.tool_calls", "client-side tool calls are not supported")
            if key not in _MESSAGE_KEYS and value is not None and key != "tool_calls":
                raise _bad(f"{where}.{key}", "unknown message field")
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            raise _bad(f"{where}.name", f"must be a non-empty string, got {name!r}")
        content = _content(item.get("content"), f"{where}.content", images=role == "user")
        out.append(RequestMessage(i, role, content, name))
    if not out or out[-1].role != "user":
        last = len(raw) - 1
        raise _bad(f"messages[{last}].role", "the last message must be a user message")
    return tuple(out)


def _content(raw: Any, where: str, *, images: bool = False) -> Content:
    if isinstance(raw, str):
        content: Content = raw
    elif isinstance(raw, list) and raw:
        parts: list[ContentPart] = []
        for j, part in enumerate(raw):
            at = f"{where}[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                parts.append(TextPart(part["text"]))
            elif kind == "image_url" and images:
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if not isinstance(url, str):
                    raise _bad(f"{at}.image_url.url", "must be a string")
                detail = image.get("detail") or "auto"
                if detail not in ("auto", "low", "high"):
                    raise _bad(
                        f"{at}.image_url.detail", f"must be auto, low or high, got {detail!r}"
                    )
                parts.append(ImagePart(url, detail))  # type: ignore[arg-type]
            elif kind == "text":
                raise _bad(f"{at}.text", "must be a string")
            else:
                known = "text, image_url" if images else "text"
                raise _bad(f"{at}.type", f"unsupported content part {kind!r} (known: {known})")
        content = tuple(parts)
    else:
        raise _bad(where, "must be a string or a non-empty array of content parts")
    try:
        check_content(where, content)
    except MessageError as exc:
        raise _Refused(400, str(exc), param=exc.field, code="invalid_value") from None
    return content


def turn_content(run: Sequence[RequestMessage]) -> Content:
    """The content of one turn made of consecutive user messages: one message's content
    as is; several joined (texts with a blank line; parts concatenated)."""
    if len(run) == 1:
        return run[0].content
    if all(isinstance(m.content, str) for m in run):
        return "\n\n".join(m.content for m in run)  # type: ignore[misc]
    parts: list[ContentPart] = []
    for m in run:
        parts.extend((TextPart(m.content),) if isinstance(m.content, str) else m.content)
    return tuple(parts)


_Visible = tuple[str, str, tuple[str, ...]]


def _visible(role: str, content: Content) -> _Visible:
    images = (
        ()
        if isinstance(content, str)
        else tuple(p.url for p in content if isinstance(p, ImagePart))
    )
    return role, content_text(content), images


def _request_turns(
    messages: Sequence[RequestMessage],
) -> list[tuple[_Visible, list[RequestMessage]]]:
    """The request's messages with runs of user messages joined into one turn each."""
    out: list[tuple[_Visible, list[RequestMessage]]] = []
    run: list[RequestMessage] = []
    for m in messages:
        if m.role == "user":
            run.append(m)
            continue
        if run:
            out.append((_visible("user", turn_content(run)), run))
            run = []
        out.append((_visible("assistant", m.content), [m]))
    if run:
        out.append((_visible("user", turn_content(run)), run))
    return out


def _stored_visible(history: Sequence[Message]) -> list[_Visible]:
    """The conversation as its client saw it: user messages and final answers. Of
    consecutive user messages only the last counts (the others' turns failed), and
    trailing unanswered user messages do not count."""
    out: list[_Visible] = []
    for m in history:
        if m.role == "user":
            if out and out[-1][0] == "user":
                out.pop()
            out.append(_visible("user", m.content))
        elif m.role == "assistant" and not m.tool_calls:
            out.append(_visible("assistant", m.content))
    while out and out[-1][0] == "user":
        out.pop()
    return out


def new_messages(
    messages: Sequence[RequestMessage], history: Sequence[Message]
) -> list[RequestMessage]:
    """The user messages of a request that follow the stored conversation ``history``
    (see the module docs); raises ``_Refused`` (409, ``param`` naming the first message
    that contradicts it) when the request's history is not the stored one."""
    turns = _request_turns(messages)
    stored = _stored_visible(history)
    for k, seen in enumerate(stored):
        if k >= len(turns):
            raise _Refused(
                409,
                f"messages: the conversation has {len(stored)} visible messages, the request "
                f"only {len(turns)} before its new one (another client continued it); "
                "resend the whole history, or send only the new user message",
                param="messages",
                code="history_conflict",
            )
        visible, run = turns[k]
        if visible != seen:
            at = f"messages[{run[0].index}]"
            raise _Refused(
                409,
                f"{at}: contradicts the stored conversation (it has a different {seen[0]} "
                f"message at this point); resend its history as the server returned it, or "
                "use a new conversation id",
                param=at,
                code="history_conflict",
            )
    rest = turns[len(stored) :]
    if not rest:
        raise _Refused(
            409,
            "messages: nothing new: the conversation already holds every message of the "
            "request; end it with a new user message",
            param="messages",
            code="history_conflict",
        )
    for _visible_turn, run in rest:
        if run[0].role != "user":
            at = f"messages[{run[0].index}]"
            raise _Refused(
                409,
                f"{at}: an assistant message the conversation does not have (histories can "
                "be resent, not written: start a new conversation to import one)",
                param=at,
                code="history_conflict",
            )
    return [m for _v, run in rest for m in run]


# -- answers --------------------------------------------------------------------------------


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id: this process's random prefix (12 hex digits, drawn
    once) and a counter, so unique across the processes of a cluster without a system
    call per request."""
    return f"chatcmpl-{_ID_PREFIX}{next(_ids):012x}"


def usage(reply: Reply) -> dict[str, int]:
    """OpenAI's ``usage`` of a reply (every LLM call of the turn, tools' steps included)."""
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def finish_reason(reply: Reply) -> str:
    """``"length"`` when ``max_steps`` cut the turn short, else ``"stop"``."""
    return "length" if reply.truncated else "stop"


def completion(reply: Reply, model: str, cid: str, created: int) -> bytes:
    """The JSON of a ``chat.completion`` answering with ``reply``."""
    return encode(
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason(reply),
                }
            ],
            "usage": usage(reply),
        }
    )


class Chunks:
    """The SSE events (``data: {...}\\n\\n``) of one ``chat.completion.chunk`` stream.
    What every chunk repeats (id, created, model) is encoded once, here; each event then
    encodes only its choice, byte for byte what encoding the whole object gives. With
    ``usage_field`` (the client asked for usage) each chunk has a ``usage`` key, null
    but on the last."""

    __slots__ = ("_head", "_tail")

    def __init__(self, cid: str, created: int, model: str, *, usage_field: bool) -> None:
        self._head = (
            b'data: {"id":' + encode(cid) + b',"object":"chat.completion.chunk","created":'
            + encode(created) + b',"model":' + encode(model)
            + b',"system_fingerprint":null,"choices":'
        )  # fmt: skip
        self._tail = b',"usage":null}\n\n' if usage_field else b"}\n\n"

    def __call__(self, delta: Mapping[str, Any], finish: str | None = None) -> bytes:
        """A chunk whose one choice carries ``delta`` (and ``finish``)."""
        choice = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return self._head + encode(choice) + self._tail

    def usage(self, value: Mapping[str, int]) -> bytes:
        """The last chunk: no choice, the turn's ``usage``."""
        return self._head + b'[],"usage":' + encode(value) + b"}\n\n"


def now() -> int:
    """``created``: seconds since the epoch."""
    return int(time.time())
