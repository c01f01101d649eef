"""Checks of what callers hand the agent layer, run before anything is queued or stored.

``Runtime.ask``/``stream``/``send_turn`` (and so ``Agent.ask``/``tell``) call
:func:`check_turn` first: the turn's text (or content parts) becomes a stored user
message, so content that could not be stored and read back (``None``, ``123``, ``b"x"``,
a lone surrogate, a part that is not a ``TextPart``/``ImagePart``, an image URL that is
neither http(s) nor a base64 ``data:image`` URL) is refused at the call, with
:class:`~agentrt.messages.MessageTypeError` (a ``TypeError``) or
:class:`~agentrt.messages.MessageValueError` (a ``ValueError``) naming the argument. The
agent never sees it, so it neither crashes nor loses its history.

Example::

    check_turn("hello", sender=None)          # "hello"
    check_turn([TextPart("hi"), ImagePart("https://x.test/a.png")], sender=None)  # a tuple
    check_turn(None, sender=None)             # MessageTypeError: text: expected str...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agentrt.errors import ConfigError
from agentrt.llm import ToolSpec
from agentrt.messages import (
    Content,
    MessageError,
    MessageValueError,
    check_content,
    check_text,
)
from agentrt.tools import ToolRegistry

__all__ = [
    "check_agent_id",
    "check_spawn_id",
    "check_tenant",
    "check_turn",
]


def check_turn(text: object, sender: object) -> Content:
    """``text`` as a message's content (a list of parts becomes a tuple); raises unless it
    is storable text or a sequence of valid parts (errors name ``text[i].field``) and
    ``sender`` is ``None`` or storable text."""
    if isinstance(text, Sequence) and not isinstance(text, (str, bytes, bytearray)):
        text = tuple(text)
    check_content("text", text)
    check_text("sender", sender, optional=True)
    return text  # type: ignore[return-value]  # checked just above


def check_agent_id(agent_id: object) -> None:
    """Raise unless ``agent_id`` is non-empty storable text (it names store keys: a lone
    surrogate would fail every SQLite or Redis write of the agent)."""
    check_text("id", agent_id)
    if not agent_id:
        raise MessageValueError("id", "must not be empty")


def check_spawn_id(agent_id: object) -> None:
    """An id given to ``spawn``: ``ConfigError('id', ...)`` unless a non-empty string,
    then the storable-text checks of :func:`check_agent_id`."""
    if not isinstance(agent_id, str) or not agent_id:
        raise ConfigError("id", f"must be a non-empty string, got {agent_id!r}")
    check_agent_id(agent_id)


def check_tenant(tenant: object, tools: Iterable[ToolSpec], registry: ToolRegistry) -> None:
    """``ConfigError('tenant', ...)`` unless ``tenant`` is ``None`` or non-empty storable
    text, and is set when one of ``tools`` caches its results per tenant (without one,
    every call of that tool would fail)."""
    if tenant is not None:
        try:
            check_text("tenant", tenant)
        except MessageError as exc:
            raise ConfigError("tenant", exc.problem) from None
        if not tenant:
            raise ConfigError("tenant", "must not be empty (None: no tenant)")
        return
    for spec in tools:
        cache = registry.policy(spec.name).cache
        if cache is not None and cache.scope == "tenant":
            raise ConfigError(
                "tenant",
                f"tool {spec.name!r} caches its results per tenant: spawn the agent with "
                "tenant=...",
            )
