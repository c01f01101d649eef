"""The runtime: a node, its root supervision tree, and the agents on it."""

from __future__ import annotations

from agentrt.runtime.config import (
    AgentsConfig,
    CacheConfig,
    EndpointConfig,
    RuntimeConfig,
    StoreConfig,
    SummarizerConfig,
    TelemetryConfig,
)
from agentrt.runtime.endpoint import IntrospectionEndpoint
from agentrt.runtime.handles import AgentRef, TurnStats, TurnStream
from agentrt.runtime.routes import Route, Routes
from agentrt.runtime.runtime import Runtime
from agentrt.runtime.supervision import SupervisionStats

__all__ = [
    "AgentRef",
    "AgentsConfig",
    "CacheConfig",
    "EndpointConfig",
    "IntrospectionEndpoint",
    "Route",
    "Routes",
    "Runtime",
    "RuntimeConfig",
    "StoreConfig",
    "SummarizerConfig",
    "SupervisionStats",
    "TelemetryConfig",
    "TurnStats",
    "TurnStream",
]
