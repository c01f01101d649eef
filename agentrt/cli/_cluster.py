"""``agentrt cluster up``: N local cluster nodes, supervised (see ``agentrt.cli._node``)."""

from __future__ import annotations

from agentrt.cli._node import register_cluster as register

__all__ = ["register"]
