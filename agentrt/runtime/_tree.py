"""The runtime's root supervision tree, as child specs (``rest_for_one``, in order).

store → dictionaries → LLM pool → tools → the agents' ``DynamicSupervisor`` → the
passivator (when ``agents.idle_timeout_s`` and ``sweep_interval`` are set) → the
telemetry ticker → the memory trimmer (``trim_interval_s``) → the introspection endpoint
(``telemetry.endpoint``): a service's crash restarts what comes after it, and shutdown
runs in reverse, so agents flush their conversations before the store closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentrt.actor import ActorRef, Node
from agentrt.agent import AgentContext, LLMSummarizer, Peers, Services
from agentrt.agent._context import AgentSlot
from agentrt.runtime._config import RuntimeConfig
from agentrt.runtime._directory import LocalDirectory
from agentrt.runtime._endpoint import open_endpoint
from agentrt.runtime._passivator import Passivator
from agentrt.runtime._resources import (
    close_quietly,
    open_dictionaries,
    open_llm,
    open_store,
    open_tools,
)
from agentrt.runtime._services import Publish, service_spec
from agentrt.runtime._ticker import TelemetryTicker
from agentrt.runtime._trim import MemoryTrimmer
from agentrt.runtime._views import RuntimeViews
from agentrt.telemetry import Telemetry
from agentrt.tools import Tool
from supervisors import ChildSpec, ReportHook, StartChildError, Supervisor

if TYPE_CHECKING:  # loaded only when an MCP server is configured
    from agentrt.tools import MCPTools

__all__ = ["agent_context", "agents_name", "root_children", "start_root"]


def agents_name(config: RuntimeConfig) -> tuple[str, str, str]:
    """The registered name of the agents' supervisor."""
    return ("agentrt", config.name, "agents")


def root_children(
    cfg: RuntimeConfig,
    *,
    services: Services,
    publish: Publish,
    tools: Sequence[Tool | MCPTools],
    llm_backends: Mapping[str, Any],
    node: Node,
    telemetry: Telemetry,
    slots: Mapping[str, AgentSlot],
    refresh_supervision: Callable[[], Awaitable[None]],
    on_agents_report: ReportHook,
    endpoint_token: str | None,
    endpoint_views: RuntimeViews | None = None,
) -> list[ChildSpec]:
    """The root supervisor's children, in start order (see the module docs). The agents'
    supervisor restarts with ``agents.restart_backoff`` and reports to
    ``on_agents_report`` (``agentrt.runtime._supervision``)."""
    events = telemetry.events
    children = [
        service_spec("store", lambda: open_store(cfg.store), close_quietly, publish),
        service_spec(
            "dictionaries",
            lambda: open_dictionaries(cfg.dictionary, services.store),
            close_quietly,
            publish,
        ),
        service_spec(
            "llm",
            lambda: open_llm(
                cfg.llm, cfg.cache, llm_backends, events, telemetry if telemetry.stats else None
            ),
            close_quietly,
            publish,
        ),
        service_spec(
            "tools", lambda: open_tools(cfg.cache, tools, node, events), close_quietly, publish
        ),
        ChildSpec.dynamic_supervisor(
            "agents",
            max_children=cfg.agents.max_agents,
            max_restarts=cfg.agents.max_restarts,
            max_seconds=cfg.agents.max_seconds,
            name=agents_name(cfg),
            backoff=cfg.agents.restart_backoff,
            on_report=on_agents_report,
        ),
    ]
    agents = cfg.agents
    if agents.idle_timeout_s is not None and agents.sweep_interval is not None:
        children.append(
            ChildSpec.worker(
                "passivator", Passivator, slots, agents.idle_timeout_s, agents.sweep_interval
            )
        )
    children.append(
        ChildSpec.worker(
            "telemetry", TelemetryTicker, telemetry, cfg.telemetry.window_s / 2, refresh_supervision
        )
    )
    if cfg.trim_interval_s is not None:
        children.append(ChildSpec.worker("trimmer", MemoryTrimmer, cfg.trim_interval_s))
    endpoint = cfg.telemetry.endpoint
    if endpoint is not None:  # last to start, first to close; its crash restarts nothing
        children.append(
            service_spec(
                "endpoint",
                lambda: open_endpoint(
                    endpoint, telemetry, token=endpoint_token, views=endpoint_views
                ),
                close_quietly,
                publish,
            )
        )
    return children


async def start_root(
    node: Node, children: Sequence[ChildSpec], name: str, on_report: ReportHook
) -> ActorRef:
    """Start the root ``rest_for_one`` supervisor over ``children``, registered as
    ``("agentrt", name)``. A service that fails to open raises its own error (a
    ``ConfigError`` naming the key, a ``StoreError``...), not the supervisor's wrapper."""
    try:
        return await Supervisor.start(
            node, children, strategy="rest_for_one", name=("agentrt", name), on_report=on_report
        )
    except StartChildError as exc:
        reason = exc.child_reason
        if isinstance(reason, Exception):  # a service's own error (ConfigError...)
            raise reason from exc
        raise


def agent_context(
    config: RuntimeConfig,
    services: Services,
    peers: Peers,
    directory: LocalDirectory,
    telemetry: Telemetry,
) -> AgentContext:
    """The context every agent of one runtime shares: its services, peers, memory
    settings, directory, telemetry and, when ``config.summarizer.model`` is set, the LLM
    summarizer (which reaches the pool through ``services`` at each use, so a restarted
    pool is picked up)."""
    cfg = config.summarizer
    summarizer = (
        LLMSummarizer(lambda: services.llm, model=cfg.model, max_tokens=cfg.max_tokens)
        if cfg.model is not None
        else None
    )
    return AgentContext(
        services=services,
        peers=peers,
        summarizer=summarizer,
        memory=config.memory,
        directory=directory,
        telemetry=telemetry,
    )
