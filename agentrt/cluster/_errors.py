"""Errors of the cluster layer.

::

    AgentRTError
    └── ClusterError                          any cluster failure
        ├── ClusterUnavailable (ConnectionError)  Redis failed during ``operation``
        ├── CorruptMembers (ValueError)       the members hash holds a damaged ``field``
        ├── NotHere (LookupError)             ``agent_id`` could not be reached at its owner
        └── NotServing (RuntimeError)         this node is not a live member now

A fenced write refused as stale is the store's
:class:`~agentrt.memory.StaleWrite`.
"""

from __future__ import annotations

from agentrt.errors import AgentRTError
from agentrt.redact import redact_text

__all__ = ["ClusterError", "ClusterUnavailable", "CorruptMembers", "NotHere", "NotServing"]


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
