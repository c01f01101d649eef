"""What the runtime hands every agent: shared services and the way to reach other agents.

``AgentContext`` is built once per runtime and shared by all its agents: the LLM pool,
the tool registry, the conversation store and dictionary registry, the summarizer, and a
``Peers`` object (the runtime) for agent-to-agent calls. ``AgentSlot`` is the small
per-agent record the runtime's directory keeps (last activity, current incarnation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agentrt.errors import ConfigError
from agentrt.llm import LLMPool, ToolSpec
from agentrt.memory import ConversationConfig, DictionaryRegistry, Store, Summarizer
from agentrt.telemetry import Telemetry
from agentrt.tools import Tool, ToolRegistry

if TYPE_CHECKING:
    from agentrt.actor import ActorRef
    from agentrt.agent.protocol import Reply

__all__ = ["AgentContext", "AgentSlot", "Peers"]


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

    __slots__ = ("agent_class", "last_active", "options", "passive", "ref", "restarts", "waiters")

    def __init__(self, agent_class: type[Any], options: Any) -> None:
        self.agent_class = agent_class
        self.options = options  # shared between the agents of one swarm
        self.last_active = 0.0
        self.passive = False
        self.ref: ActorRef | None = None
        self.restarts = 0  # incarnations started after a crash (not after passivation)
        self.waiters: list[asyncio.Future[None]] | None = None

    def touch(self) -> None:
        self.last_active = asyncio.get_running_loop().time()

    def bind(self, ref: ActorRef) -> None:
        """A new incarnation of the agent is ready."""
        if self.ref is not None and not self.passive:
            self.restarts += 1
        self.ref = ref
        self.passive = False
        waiters, self.waiters = self.waiters, None
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(None)


@dataclass(kw_only=True)
class AgentContext:
    """Services shared by every agent of one runtime (built by the runtime)."""

    llm: LLMPool
    tools: ToolRegistry
    store: Store
    dictionaries: DictionaryRegistry
    peers: Peers
    summarizer: Summarizer | None = None
    memory: ConversationConfig = field(default_factory=ConversationConfig)
    slots: dict[str, AgentSlot] = field(default_factory=dict)
    corrupt_snapshots: int = 0
    telemetry: Telemetry = field(default_factory=Telemetry)
    _tool_specs: dict[tuple[Any, ...], tuple[ToolSpec, ...]] = field(default_factory=dict)

    def tool_specs(self, tools: Sequence[str | Tool]) -> tuple[ToolSpec, ...]:
        """LLM tool definitions for ``tools`` (names registered in the registry, or
        ``Tool`` objects, registered on first use). ``ConfigError`` names an unknown tool."""
        key = tuple(tools)
        specs = self._tool_specs.get(key)
        if specs is not None:
            return specs
        names = self.tools.names()
        out = []
        for entry in tools:
            if isinstance(entry, Tool):
                if entry.name not in names:
                    self.tools.add(entry)
                spec = entry.spec()
            elif isinstance(entry, str):
                if entry not in names:
                    raise ConfigError("tools", f"unknown tool {entry!r}; registered: {names}")
                spec = self.tools.get(entry).spec()
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
