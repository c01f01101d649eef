"""What the runtime hands every agent: shared services and the way to reach other agents.

``AgentContext`` is built once per runtime and shared, frozen, by all its agents: the
``Services`` (LLM pool, tool registry, conversation store, dictionary registry, reached
through typed accessors), the summarizer, a ``Peers`` object (the runtime) for
agent-to-agent calls, and the directory where an agent binds its ``AgentSlot`` (the small
per-agent record: last activity, current incarnation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agentrt.agent._errors import ServiceUnavailable
from agentrt.errors import ConfigError
from agentrt.llm import LLMPool, ToolSpec
from agentrt.memory import ConversationConfig, DictionaryRegistry, Fence, Store, Summarizer
from agentrt.telemetry import Telemetry
from agentrt.tools import Tool, ToolRegistry

if TYPE_CHECKING:
    from agentrt.actor import ActorRef
    from agentrt.agent._protocol import Reply

__all__ = ["AgentContext", "AgentSlot", "LooseSlots", "Peers", "Services", "SlotBook"]


class Peers(Protocol):
    """Agent-to-agent messaging, implemented by the runtime."""

    async def ask(
        self, agent_id: str, text: str, *, deadline: float | None = None, sender: str | None
    ) -> Reply: ...

    async def send_turn(
        self,
        agent_id: str,
        text: str,
        *,
        reply_to: ActorRef | None,
        sender: str | None,
        deadline: float | None,
        tag: Any,
    ) -> None: ...

    async def call(self, agent_id: str, msg: Any, *, timeout: float | None) -> Any: ...

    async def cast(self, agent_id: str, msg: Any) -> None: ...


class AgentSlot:
    """The directory's record of one agent (kept while the agent is passivated too)."""

    __slots__ = (
        "agent_class",
        "failed",
        "fence",
        "last_active",
        "options",
        "passive",
        "ref",
        "restarts",
        "waiters",
    )

    def __init__(self, agent_class: type[Any], options: Any) -> None:
        self.agent_class = agent_class
        self.options = options  # shared between the agents of one swarm
        self.last_active = 0.0
        self.passive = False
        self.ref: ActorRef | None = None
        self.restarts = 0  # incarnations started after a crash (not after passivation)
        self.waiters: list[asyncio.Future[None]] | None = None
        #: why the start of incarnation ``ref`` failed (``agentrt.agent._start``), or None
        self.failed: BaseException | None = None
        #: cluster mode: the fencing token its next incarnation writes under (else None)
        self.fence: Fence | None = None

    def touch(self) -> None:
        self.last_active = asyncio.get_running_loop().time()

    def bind(self, ref: ActorRef) -> None:
        """A new incarnation of the agent is ready."""
        if self.ref is not None and not self.passive:
            self.restarts += 1
        self.ref = ref
        self.passive = False
        self.failed = None
        waiters, self.waiters = self.waiters, None
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(None)


class SlotBook(Protocol):
    """Where an agent finds its ``AgentSlot`` (the runtime's ``LocalDirectory``)."""

    def slot_for(self, agent_id: str, agent_class: type[Any], options: Any) -> AgentSlot:
        """The slot of ``agent_id``, created if the directory does not know it yet."""
        ...


class LooseSlots:
    """A ``SlotBook`` for agents started without a runtime (tests, custom trees)."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[str, AgentSlot] = {}

    def slot_for(self, agent_id: str, agent_class: type[Any], options: Any) -> AgentSlot:
        slot = self._slots.get(agent_id)
        if slot is None:
            slot = self._slots[agent_id] = AgentSlot(agent_class, options)
        return slot


class Services:
    """The runtime's shared services, as published by their supervised owners.

    A service that restarts publishes its new resource here, and every agent sees it at
    its next access (``AgentContext.llm``...). Reading one that was never published
    raises ``ServiceUnavailable`` naming it.
    """

    __slots__ = ("_resources",)

    def __init__(self, **resources: Any) -> None:
        self._resources: dict[str, Any] = dict(resources)

    def publish(self, name: str, resource: Any) -> None:
        """``resource`` is service ``name`` from now on."""
        self._resources[name] = resource

    def get(self, name: str) -> Any:
        """Service ``name``, or None when it is not published."""
        return self._resources.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._resources

    def _need(self, name: str) -> Any:
        try:
            return self._resources[name]
        except KeyError:
            raise ServiceUnavailable(name) from None

    @property
    def llm(self) -> LLMPool:
        """The LLM pool."""
        pool: LLMPool = self._need("llm")
        return pool

    @property
    def tools(self) -> ToolRegistry:
        """The tool registry (with its result cache)."""
        registry: ToolRegistry = self._need("tools")
        return registry

    @property
    def store(self) -> Store:
        """The conversation store."""
        store: Store = self._need("store")
        return store

    @property
    def dictionaries(self) -> DictionaryRegistry:
        """The compression dictionary registry."""
        registry: DictionaryRegistry = self._need("dictionaries")
        return registry


@dataclass(frozen=True, kw_only=True)
class AgentContext:
    """What every agent of one runtime shares (built once by the runtime; frozen).

    Services are read through ``services`` (typed accessors ``services.llm``, ``.tools``,
    ``.store``, ``.dictionaries``, current even after a service restarted); ``directory``
    is where an agent binds its slot; counters live in ``telemetry``.
    """

    services: Services
    peers: Peers
    summarizer: Summarizer | None = None
    memory: ConversationConfig = field(default_factory=ConversationConfig)
    directory: SlotBook = field(default_factory=LooseSlots)
    telemetry: Telemetry = field(default_factory=Telemetry)
    _tool_specs: dict[tuple[Any, ...], tuple[ToolSpec, ...]] = field(
        default_factory=dict, repr=False
    )

    def tool_specs(self, tools: Sequence[str | Tool]) -> tuple[ToolSpec, ...]:
        """LLM tool definitions for ``tools`` (names registered in the registry, or
        ``Tool`` objects, registered on first use). ``ConfigError`` names an unknown tool."""
        key = tuple(tools)
        specs = self._tool_specs.get(key)
        if specs is not None:
            return specs
        registry = self.services.tools
        names = registry.names()
        out = []
        for entry in tools:
            if isinstance(entry, Tool):
                if entry.name not in names:
                    registry.add(entry)
                spec = entry.spec()
            elif isinstance(entry, str):
                if entry not in names:
                    raise ConfigError("tools", f"unknown tool {entry!r}; registered: {names}")
                spec = registry.get(entry).spec()
            else:
                raise ConfigError("tools", f"expected a tool name or Tool, got {entry!r}")
            out.append(
                ToolSpec(
                    name=spec["name"],
                    description=spec.get("description", ""),
                    parameters=spec["parameters"],
                )
            )
        specs = self._tool_specs[key] = tuple(out)
        return specs
