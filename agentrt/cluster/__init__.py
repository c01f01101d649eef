"""Cluster mode on Redis: the foundation (see docs/cluster.md).

The Lua scripts and key layout (:class:`ClusterScripts`, :class:`ClusterKeys`), node
membership with liveness, watchdog and sweeping (:class:`Membership`,
:class:`ClusterConfig`), the fencing tokens every durable write of an agent carries
(:class:`agentrt.memory.Fence`), and :class:`ClusterNode`: the directory, placement,
messaging over Redis Streams and failover of one node. ``Runtime(cluster=...)`` uses it.

Importing this package loads no redis: the Redis-backed names are handed on lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.cluster._config import ClusterConfig
from agentrt.cluster._errors import (
    ClusterError,
    ClusterUnavailable,
    CorruptMembers,
    NotHere,
    NotServing,
    RemoteError,
    UnsupportedPayload,
)

if TYPE_CHECKING:
    from agentrt.cluster._hosting import ClusterStats, Host, Owner
    from agentrt.cluster._membership import Membership, MembershipStats
    from agentrt.cluster._node import ClusterNode
    from agentrt.cluster._scripts import (
        Claim,
        ClusterKeys,
        ClusterScripts,
        Joined,
        Member,
        MembersView,
        Status,
        Updated,
    )
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            **dict.fromkeys(["Membership", "MembershipStats"], "agentrt.cluster._membership"),
            "ClusterNode": "agentrt.cluster._node",
            **dict.fromkeys(["ClusterStats", "Host", "Owner"], "agentrt.cluster._hosting"),
            **dict.fromkeys(
                [
                    "Claim",
                    "ClusterKeys",
                    "ClusterScripts",
                    "Joined",
                    "Member",
                    "MembersView",
                    "Status",
                    "Updated",
                ],
                "agentrt.cluster._scripts",
            ),
        },
    )

__all__ = [
    "Claim",
    "ClusterConfig",
    "ClusterError",
    "ClusterKeys",
    "ClusterNode",
    "ClusterScripts",
    "ClusterStats",
    "ClusterUnavailable",
    "CorruptMembers",
    "Host",
    "Joined",
    "Member",
    "MembersView",
    "Membership",
    "MembershipStats",
    "NotHere",
    "NotServing",
    "Owner",
    "RemoteError",
    "Status",
    "UnsupportedPayload",
    "Updated",
]
