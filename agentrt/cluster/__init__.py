"""Cluster mode on Redis: the foundation (see docs/cluster.md).

What exists: the Lua scripts and key layout (:class:`ClusterScripts`,
:class:`ClusterKeys`), node membership with liveness, watchdog and sweeping
(:class:`Membership`, :class:`ClusterConfig`), and the fencing tokens that every durable
write of an agent can carry (:class:`agentrt.memory.Fence`). Routing, placement and
failover are not built yet, and nothing in the runtime uses this package so far.

Importing this package loads no redis: the Redis-backed names are handed on lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.cluster._config import ClusterConfig
from agentrt.cluster._errors import ClusterError, ClusterUnavailable, CorruptMembers, NotServing

if TYPE_CHECKING:
    from agentrt.cluster._membership import Membership, MembershipStats
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
    "ClusterScripts",
    "ClusterUnavailable",
    "CorruptMembers",
    "Joined",
    "Member",
    "MembersView",
    "Membership",
    "MembershipStats",
    "NotServing",
    "Status",
    "Updated",
]
