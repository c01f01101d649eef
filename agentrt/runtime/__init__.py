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
from agentrt.runtime.endpoint import IntrospectionEndpoint, open_endpoint
from agentrt.runtime.handles import AgentRef, TurnStats, TurnStream
from agentrt.runtime.passivator import Passivator
from agentrt.runtime.routes import Route, Routes
from agentrt.runtime.runtime import Runtime
from agentrt.runtime.services import Service, service_spec
from agentrt.runtime.supervision import (
    AgentStart,
    SupervisionMonitor,
    SupervisionStats,
    agent_name,
    agent_spec,
)
from agentrt.runtime.ticker import TelemetryTicker
from agentrt.runtime.trim import MemoryTrimmer

__all__ = [
    "AgentRef",
    "AgentStart",
    "AgentsConfig",
    "CacheConfig",
    "EndpointConfig",
    "IntrospectionEndpoint",
    "MemoryTrimmer",
    "Passivator",
    "Route",
    "Routes",
    "Runtime",
    "RuntimeConfig",
    "Service",
    "StoreConfig",
    "SummarizerConfig",
    "SupervisionMonitor",
    "SupervisionStats",
    "TelemetryConfig",
    "TelemetryTicker",
    "TurnStats",
    "TurnStream",
    "agent_name",
    "agent_spec",
    "open_endpoint",
    "service_spec",
]
