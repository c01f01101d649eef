"""The codec of plain ``call``/``cast`` messages and their replies between nodes.

A message to an agent on another node, and the value its ``handle_call`` returns, cross
Redis as **msgpack** (``msgspec``), base64 text inside the request's JSON. Only what
msgspec encodes natively crosses: ``None``, ``bool``, ``int`` (64-bit), ``float``,
``str``, ``bytes``, lists, tuples, sets, dicts, ``msgspec.Struct``s, dataclasses,
``datetime``/``date``/``time``/``timedelta``, ``UUID``, ``Decimal`` and enums. Nothing is
ever pickled: a node never rebuilds an arbitrary Python object from what another node
sent, so a message can only ever be data.

The far side receives plain data: a Struct or dataclass arrives as a ``dict`` of its
fields, a tuple or set as a ``list``, a ``UUID``/``Decimal`` as ``str`` and an enum as its
value (``datetime`` values stay ``datetime``). Anything else raises
:class:`UnsupportedPayload` naming the type, at the caller before anything is sent (or,
for a reply, at the owner: its caller gets a ``RemoteError``). A payload over
``MAX_PAYLOAD`` bytes encoded is refused the same way.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from agentrt.cluster._errors import UnsupportedPayload

__all__ = ["MAX_PAYLOAD", "decode_payload", "encode_payload"]

MAX_PAYLOAD = 4 * 1024 * 1024
"""The largest encoded message or reply that crosses nodes, in bytes (4 MiB)."""

_ENCODER = msgspec.msgpack.Encoder()


def encode_payload(value: Any, what: str) -> str:
    """``value`` as wire text (module docs); ``UnsupportedPayload`` naming ``what`` (the
    message, the reply) and the type that cannot cross, or the size over the limit."""
    try:
        data = _ENCODER.encode(value)
    except (TypeError, OverflowError, ValueError) as exc:
        raise UnsupportedPayload(what, _type_named(exc, value), str(exc)) from None
    if len(data) > MAX_PAYLOAD:
        size = f"{len(data)} bytes encoded, over the {MAX_PAYLOAD}-byte limit"
        raise UnsupportedPayload(what, type(value).__name__, size)
    return base64.b64encode(data).decode("ascii")


def decode_payload(text: object, what: str) -> Any:
    """The plain data of wire text ``text``; ``UnsupportedPayload`` when it is damaged."""
    if not isinstance(text, str):
        raise UnsupportedPayload(what, type(text).__name__, "damaged: not base64 text")
    try:
        return msgspec.msgpack.decode(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, msgspec.MsgspecError) as exc:
        raise UnsupportedPayload(what, "bytes", f"damaged: {exc}") from None


def _type_named(exc: BaseException, value: Any) -> str:
    """The type msgspec refused ("Encoding objects of type X is unsupported"), else the
    value's own type."""
    text = str(exc)
    marker = "objects of type "
    if marker in text:
        return text.split(marker, 1)[1].split(" ", 1)[0]
    return type(value).__name__
