"""The runtime: a node, its root supervision tree, and the agents on it."""

from __future__ import annotations

from agentrt.runtime._config import (
    AgentsConfig,
    CacheConfig,
    EndpointConfig,
    RuntimeConfig,
    StoreConfig,
    SummarizerConfig,
    TelemetryConfig,
)
from agentrt.runtime._endpoint import IntrospectionEndpoint
from agentrt.runtime._handles import AgentRef, TurnStats, TurnStream
from agentrt.runtime._routes import Route, Routes
from agentrt.runtime._runtime import Runtime
from agentrt.runtime._supervision import SupervisionStats

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
