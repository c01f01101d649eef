"""Errors of the cluster layer.

::

    AgentRTError
    └── ClusterError                          any cluster failure
        ├── ClusterUnavailable (ConnectionError)  Redis failed during ``operation``
        ├── CorruptMembers (ValueError)       the members hash holds a damaged ``field``
        ├── NotHere (LookupError)             ``agent_id`` could not be reached at its owner
        ├── NotServing (RuntimeError)         this node is not a live member now
        ├── RemoteError                       a ``call``/``cast`` failed at the agent's owner
        └── UnsupportedPayload (TypeError)    a message or reply that cannot cross nodes

A fenced write refused as stale is the store's
:class:`~agentrt.memory.StaleWrite`.
"""

from __future__ import annotations

from agentrt.errors import AgentRTError
from agentrt.redact import redact_text

__all__ = [
    "ClusterError",
    "ClusterUnavailable",
    "CorruptMembers",
    "NotHere",
    "NotServing",
    "RemoteError",
    "UnsupportedPayload",
]


class ClusterError(AgentRTError):
    """Base class of the cluster layer's errors."""


class ClusterUnavailable(ClusterError, ConnectionError):
    """Redis failed (or did not answer) during ``operation``; ``cause`` says how."""

    def __init__(self, operation: str, cause: str) -> None:
        super().__init__(f"cluster {operation} failed: {redact_text(cause)}")
        self.operation = operation


class CorruptMembers(ClusterError, ValueError):
    """The members hash's ``field`` does not parse (``reason``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"damaged members record {field!r}: {reason}")
        self.field = field
        self.reason = reason


class NotServing(ClusterError, RuntimeError):
    """Node ``node_id`` is not a live member now (not joined yet, rejoining, or closed)."""

    def __init__(self, node_id: str, why: str) -> None:
        super().__init__(f"node {node_id!r} is not serving: {why}")
        self.node_id = node_id


class NotHere(ClusterError, LookupError):
    """Agent ``agent_id`` was not found at ``owner`` (the node last named as its owner;
    ``""`` when none), after re-resolving it a few times: it kept moving (``why``)."""

    def __init__(self, agent_id: str, owner: str, why: str) -> None:
        super().__init__(f"agent {agent_id!r} not reachable at {owner or 'any node'!r}: {why}")
        self.agent_id = agent_id
        self.owner = owner


class RemoteError(ClusterError):
    """A plain ``call``/``cast`` to agent ``agent_id`` failed at its owner, on another
    node, with an exception of type ``type_name`` (its name only: the exception itself
    never crosses nodes) and ``message`` (its text, secrets redacted). Errors that have
    a meaning of their own come back as themselves instead (``AgentNotFound``,
    ``CallTimeout``)."""

    def __init__(self, agent_id: str, type_name: str, message: str) -> None:
        message = redact_text(message)
        super().__init__(f"agent {agent_id!r} on another node raised {type_name}: {message}")
        self.agent_id = agent_id
        self.type_name = type_name
        self.message = message


class UnsupportedPayload(ClusterError, TypeError):
    """``what`` (a ``call``/``cast`` message, or a reply) cannot cross nodes: a value of
    type ``type_name`` is not plain data msgpack carries, or it is too large or damaged
    (``why``). Nothing was sent (see ``agentrt.cluster._payload``)."""

    def __init__(self, what: str, type_name: str, why: str) -> None:
        super().__init__(
            f"{what} cannot cross nodes: {type_name} ({why}); send plain data (dict, list,"
            " str, int, float, bool, None, bytes, msgspec Structs, dataclasses)"
        )
        self.what = what
        self.type_name = type_name
