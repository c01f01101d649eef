"""``Runtime``: a node, its root supervision tree, and the agents on it.

``async with Runtime(config) as rt:`` boots one node and a ``rest_for_one`` root
supervisor: the services (conversation store, dictionary registry, LLM pool, tool
registry with its cache), a ``DynamicSupervisor`` for agents, the passivator, the
telemetry ticker, the memory trimmer (``trim_interval_s``) and, when configured, the
introspection endpoint (``endpoint_url``).
Leaving the block shuts the tree down in reverse order: agents flush their conversations
before the store closes; nothing is left running.

Agents are addressed by id. The runtime's ``Directory`` (``agentrt.runtime._directory``)
keeps one small slot per agent, live or passivated; a message to a passivated agent (or
one whose last incarnation crashed and was not restarted in time) activates it
transparently, with its conversation. Turns are routed by ``agentrt.runtime._turns``; the
runtime's views of itself are in ``agentrt.runtime._summary``.

Every user turn accepted by ``ask``/``stream`` is answered or failed back to its caller;
``turn_stats()`` counts both, so a load test can prove that nothing was lost.

Example::

    async with Runtime() as rt:                  # the in-process mock LLM, memory store
        await rt.spawn(Helper, id="h1")
        reply = await rt.ask("h1", "hello")
        async for delta in rt.stream("h1", "tell me more"):
            print(delta, end="")
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, TypeVar

from agentrt.actor import ActorDead, ActorError, ActorRef, CallTimeout, Node
from agentrt.agent import (
    Agent,
    AgentContext,
    AgentNotFound,
    Reply,
    Services,
    ServiceUnavailable,
    TurnFailed,
)
from agentrt.agent._context import AgentSlot
from agentrt.agent._options import check_spawn_options, with_default_model
from agentrt.agent._protocol import History, Passivate
from agentrt.agent._start import SwarmOptions
from agentrt.agent._validate import check_spawn_id
from agentrt.cluster import ClusterConfig
from agentrt.errors import ConfigError
from agentrt.llm import LLMPool, PoolConfig, ProviderConfig
from agentrt.llm._presets import pool_config
from agentrt.memory import Store
from agentrt.messages import ContentPart, Message
from agentrt.runtime._config import RuntimeConfig
from agentrt.runtime._directory import LocalDirectory
from agentrt.runtime._handles import AgentRef, TurnStats, TurnStream
from agentrt.runtime._routes import Route, Routes, check_agent_class
from agentrt.runtime._summary import (
    live_agent,
    node_load,
    node_sample,
    runtime_stats,
    summary_extras,
)
from agentrt.runtime._supervision import (
    SupervisionMonitor,
    agent_spec,
    start_agent,
    start_agents,
    swarm_failure,
)
from agentrt.runtime._tree import agent_context, agents_name, root_children, start_root
from agentrt.runtime._turns import TurnRouter
from agentrt.runtime._views import RuntimeViews
from agentrt.telemetry import STATS_DAMAGED, OTelSession, Telemetry
from agentrt.tools import Tool, ToolRegistry
from supervisors import ChildSpec, DynamicSupervisor

if TYPE_CHECKING:  # loaded only when an MCP server / a cluster is configured
    from agentrt.runtime._cluster import ClusterDirectory
    from agentrt.tools import MCPTools

__all__ = ["Runtime"]

A = TypeVar("A", bound=Agent)
#: What ``Runtime(llm=...)`` accepts (see ``agentrt.llm._presets.pool_config``).
LLMSpec = str | ProviderConfig | PoolConfig | Sequence[ProviderConfig | str]
_SERVICE_SOURCES = ("llm", "tools", "store", "endpoint")  # their stats() go to telemetry
#: agents a swarm starts per request to the agents' supervisor (the loop runs in between)
_SWARM_BATCH = 256


class Runtime:
    """A node running agents under supervision (see the module docs)."""

    def __init__(
        self,
        config: RuntimeConfig | None = None,
        *,
        llm: LLMSpec | None = None,
        tools: Iterable[Tool | MCPTools] = (),
        llm_backends: Mapping[str, Any] | None = None,
        meter_provider: Any = None,
        tracer_provider: Any = None,
        metric_exporter: Any = None,
        span_exporter: Any = None,
        cluster: ClusterConfig | None = None,
    ) -> None:
        """``llm`` sets ``config.llm`` in one line: a URL
        (``"openai://api.openai.com/v1?model=gpt-4o-mini&api_key_env=OPENAI_API_KEY"``),
        ``agentrt.OpenAI(...)``/``agentrt.Anthropic(...)``, a list of them (failover in
        order) or a ``PoolConfig`` (:mod:`agentrt.llm._presets`; ``ConfigError`` names what
        is wrong; so does an ``llm`` given besides a ``config.llm`` of its own). Its
        default model is the model of every agent whose class and spawn options name none.
        ``tools`` (``@tool`` functions, and ``MCPTools`` servers whose tools are listed at
        start) are registered in the runtime's tool registry; ``llm_backends`` replaces
        providers' backends by name (e.g. a scripted ``MockProvider`` in tests).
        OpenTelemetry (``agentrt.telemetry.OTelSession``): ``metric_exporter``/
        ``span_exporter`` are SDK exporters the runtime's own pipeline exports to (it
        shuts them down on close); ``meter_provider``/``tracer_provider`` are SDK
        providers to record into (yours: never shut down); ``config.telemetry.otel``
        builds exporters instead. Raises ``ConfigError`` for a missing exporter extra or
        two destinations for one signal.

        ``cluster``: run this node as a member of that cluster (docs/cluster.md): turns
        reach agents on any node, agents are placed, fenced and failed over on Redis.
        It needs the Redis store (``config.store.kind="redis"``; ``ConfigError`` else)."""
        config = config if config is not None else RuntimeConfig()
        if llm is not None:
            if config.llm != PoolConfig():
                raise ConfigError("llm", "given twice: as llm= and in config.llm; give one")
            config = replace(config, llm=pool_config(llm))
        self.config = config
        self._tools = list(tools)
        self._llm_backends = dict(llm_backends or {})
        self.node = Node(self.config.node)
        #: where every agent of this runtime lives (``agentrt.runtime._directory``)
        self._routes = Routes()
        self.directory: LocalDirectory
        self._cluster: ClusterDirectory | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        if cluster is not None:
            from agentrt.runtime._cluster import ClusterDirectory  # loads redis

            if config.store.kind != "redis":
                problem = (
                    f"cluster mode needs the redis store (fenced writes), got {config.store.kind!r}"
                )
                raise ConfigError("store.kind", problem)
            self.directory = self._cluster = ClusterDirectory(
                cluster,
                activate=self._start_agent,
                restart_grace_s=self.config.agents.restart_grace_s,
                routes=self._routes,
                load=lambda: node_load(self.node, self.directory),
                stop_agent=self._stop_agent,
                stop_agent_now=self._stop_quietly,
                passivate_now=self._passivate_now,
            )
        else:
            self.directory = LocalDirectory(
                activate=self._start_agent,
                restart_grace_s=self.config.agents.restart_grace_s,
                routes=self._routes,
                node_id=f"{self.node.name}/{self.config.name}",
                load=lambda: node_load(self.node, self.directory),
            )
        #: the shared services, as their supervised owners publish them
        self.services = Services()
        self._ctx: AgentContext | None = None
        self._root: ActorRef | None = None
        self._agents_name = agents_name(self.config)
        self._started = False
        tcfg = self.config.telemetry
        self.telemetry = Telemetry(
            targets=tcfg.targets, window_s=tcfg.window_s, stats=tcfg.stats, alerts=tcfg.alerts
        )
        self._turns = TurnRouter(
            self.directory,
            self.telemetry,
            call_margin_s=self.config.agents.call_margin_s,
            remote=self._cluster,
        )
        if self._cluster is not None:
            turns = self._turns
            self._cluster.bind_router(turns.deliver_local, turns.call_local, turns.cast_local)
        #: OpenTelemetry export: inactive (nothing attached) unless configured.
        self.otel = OTelSession(
            tcfg.otel,
            meter_provider=meter_provider,
            tracer_provider=tracer_provider,
            metric_exporter=metric_exporter,
            span_exporter=span_exporter,
        )
        self._supervision: dict[str, Any] = {}
        self.supervision = SupervisionMonitor(self.node, self.telemetry.events, self._agents_name)
        self.telemetry.add_source("node", self.node.stats)
        self.telemetry.add_source("agents", self.agent_counts)
        self.telemetry.add_source("turns", lambda: self.turn_stats().as_dict())
        self.telemetry.add_source("supervision", lambda: self._supervision)
        cluster_node = self._cluster.cluster if self._cluster is not None else None
        self.telemetry.node_sample = lambda: node_sample(
            self.node, self.directory, self.services, self.telemetry, cluster_node
        )
        if cluster_node is not None:
            node = cluster_node
            self.telemetry.add_source("cluster", lambda: asdict(node.stats()))
            node.publisher.sample = self.telemetry.node_sample
            self.telemetry.cluster_source = lambda: node.cluster_view(self._stats_damaged)
        self.telemetry.live_agent = lambda agent_id: live_agent(self.node, self.directory, agent_id)
        self.telemetry.summary_extras = lambda: summary_extras(
            self.node,
            self.directory,
            self.services,
            self._supervision,
            self.supervision.stats().shutdowns,
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Boot the node and the supervision tree (idempotent). A service that fails to
        open raises its own error: ``ConfigError`` naming the key (an API key variable
        that is not set, an endpoint port that cannot be bound...), ``StoreError``...
        An endpoint token variable that is not set fails before anything starts."""
        if self._started:
            return
        cfg = self.config
        endpoint = cfg.telemetry.endpoint
        token = endpoint.read_token(os.environ) if endpoint is not None else None  # fail early
        await self.node.start()
        try:
            await self.otel.start(self.telemetry)
        except BaseException:
            await self.node.aclose()
            raise
        children = root_children(
            cfg,
            services=self.services,
            publish=self._publish,
            tools=[*self._tools, *cfg.mcp_servers()],
            llm_backends=self._llm_backends,
            node=self.node,
            telemetry=self.telemetry,
            slots=self.directory.slots(),
            refresh_supervision=self._refresh_supervision,
            on_agents_report=self.supervision.on_agents_report,
            endpoint_token=token,
            endpoint_views=RuntimeViews(
                node=self.node,
                directory=self.directory,
                services=self.services,
                telemetry=self.telemetry,
                root_name=("agentrt", cfg.name),
                agents_name=self._agents_name,
                passivate=self.passivate,
                restart=self.inject_crash,
            ),
        )
        try:
            self._root = await start_root(
                self.node, children, cfg.name, self.supervision.on_root_report
            )
        except BaseException:
            await self.node.aclose()
            await self.otel.aclose()
            raise
        self._started = True
        if self._cluster is not None:
            try:
                await self._cluster.start()
            except BaseException:
                await self.aclose()
                raise

    def _stats_damaged(self, node_id: str, reason: str) -> None:
        """A node's published statistics could not be read (skipped from the view)."""
        if self.telemetry.events.listening(STATS_DAMAGED):
            self.telemetry.events.emit(STATS_DAMAGED, {}, {"node": node_id, "reason": reason})

    def _publish(self, name: str, resource: Any) -> None:
        """A service (re)started: agents see the new resource from now on."""
        self.services.publish(name, resource)
        if name in _SERVICE_SOURCES:
            self.telemetry.add_source(name, resource.stats)
        if name == "endpoint":  # the address other nodes and the dashboard show
            self.directory.address = resource.url

    @property
    def ctx(self) -> AgentContext:
        """The context shared by this runtime's agents (``ServiceUnavailable`` before
        the runtime started)."""
        if self._ctx is None:
            if not self._started and "tools" not in self.services:
                raise ServiceUnavailable("runtime", "not started")
            self._ctx = agent_context(
                self.config, self.services, self, self.directory, self.telemetry
            )
        return self._ctx

    async def aclose(self) -> None:
        """Stop every agent (conversations flushed), then the services, then the node."""
        if not self._started:
            await self.node.aclose()
            return
        self._started = False
        root = self._root
        if self._cluster is not None:  # no more remote turns; others may claim our agents
            await self._cluster.aclose()
        await self._turns.aclose()  # tells in flight fail back to their senders
        try:
            if root is not None and root.alive:
                await self.node.stop(root, "shutdown", timeout=None)
        finally:
            await self.node.aclose()
            await self.otel.aclose()
            await self.telemetry.alerting.aclose()

    # -- services ------------------------------------------------------------------------------

    @property
    def llm(self) -> LLMPool:
        """The LLM pool (``ServiceUnavailable`` while the runtime is not started)."""
        return self.services.llm

    @property
    def tools(self) -> ToolRegistry:
        """The tool registry (``ServiceUnavailable`` while the runtime is not started)."""
        return self.services.tools

    @property
    def store(self) -> Store:
        """The conversation store (``ServiceUnavailable`` while not started)."""
        return self.services.store

    @property
    def endpoint_url(self) -> str | None:
        """``http://host:port`` of the introspection endpoint while the runtime runs;
        None when ``TelemetryConfig.endpoint`` is not set or the runtime is stopped."""
        endpoint = self.services.get("endpoint")
        return endpoint.url if self._started and endpoint is not None else None

    @property
    def root(self) -> ActorRef | None:
        """The root supervisor while the runtime runs (its children: the services,
        ``"agents"``, the passivator, the ticker...), else None."""
        return self._root

    # -- spawning ------------------------------------------------------------------------------

    async def spawn(self, agent_class: type[A], *, id: str, **options: Any) -> AgentRef:
        """Start agent ``id`` of ``agent_class``; ``options`` override its class settings
        (``model``, ``system_prompt``, ``tools``...) or go to its ``setup``. Returns once
        the agent is registered and addressable; its conversation is loaded, and its
        ``setup`` runs, before its first message (a failure there reaches the callers of
        its first turns: docs/agents.md). Raises ``AgentExists``, or what the agent's
        ``init`` raised (an unknown option or tool...)."""
        check_agent_class(agent_class)
        check_spawn_options(options)
        check_spawn_id(id)
        (slot,) = await self.directory.register([id], agent_class, options, passive=False)
        try:
            if self._cluster is not None:  # claimed for this node: its writes are fenced
                await self._cluster.claim_here(id)
            await self._start_agent(id, slot)
        except BaseException:
            await self.directory.unregister([id])
            raise
        return AgentRef(self, id)

    async def spawn_swarm(
        self,
        agent_class: type[A],
        n: int,
        *,
        prefix: str = "agent-",
        start: int = 0,
        lazy: bool = False,
        **options: Any,
    ) -> list[str]:
        """Register ``n`` agents with ids ``f"{prefix}{i}"`` sharing ``options``.

        They are started in batches of 256, one request to the agents' supervisor each,
        so turns already running go on between batches. Each agent loads its conversation
        when its first message arrives, before handling it (messages sent meanwhile wait,
        in order); an agent class with its own ``setup`` loads at once instead
        (``agentrt.agent._start``). Every agent is registered with, linked to and
        restarted by the agents' supervisor as a spawned one is. With ``lazy=True``
        nothing is started: each agent is activated by its first message (the way to
        address far more agents than are kept hot). Returns the ids.

        When agents fail to start, the swarm stops at that batch and raises the first
        failure's error (what ``spawn`` would raise), with a note naming every failed id
        and how many started; the agents started keep running, the others' ids are free.
        """
        check_agent_class(agent_class)
        check_spawn_options(options)
        if n < 0:
            raise ConfigError("n", f"must be >= 0, got {n}")
        ids = [f"{prefix}{i}" for i in range(start, start + n)]
        for agent_id in ids[:1]:
            check_spawn_id(agent_id)
        shared = dict(options)
        await self.directory.register(ids, agent_class, shared, passive=lazy)
        if self._cluster is not None:  # claimed for this node: their writes are fenced
            try:
                for agent_id in ids:
                    await self._cluster.claim_here(agent_id)
            except BaseException:
                await self.directory.unregister(ids)
                raise
        if lazy:
            return ids
        default_model = self.config.llm.default_model
        start_options = SwarmOptions(with_default_model(agent_class, shared, default_model))
        ctx = self.ctx
        for first in range(0, n, _SWARM_BATCH):
            batch = ids[first : first + _SWARM_BATCH]
            try:
                failed = await start_agents(
                    self.node, self._agents_sup(), batch, agent_class, ctx, start_options
                )
            except BaseException:
                await self.directory.unregister(ids)
                raise
            if failed:  # the ids never started are free again
                await self.directory.unregister(ids)
                raise swarm_failure(failed, first + len(batch) - len(failed))
        return ids

    def route(self, pattern: str | re.Pattern[str], agent_class: type[A], **options: Any) -> Route:
        """Make every id matching ``pattern`` (a prefix, or a ``re.Pattern`` matching the
        whole id) addressable as an ``agent_class`` agent with ``options``: the first
        message to such an id activates it, from its stored conversation if it has one
        (``agentrt.runtime._routes``). Routes are tried in the order added; before or after
        ``start``. Raises ``ConfigError`` (empty or repeated pattern, bad option) or
        ``NotAnAgent``."""
        return self._routes.add(pattern, agent_class, options)

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes, in the order they are tried."""
        return tuple(self._routes)

    def _stop_agent(self, ref: ActorRef) -> None:
        """Stop agent incarnation ``ref`` (cluster mode: its epoch or token is stale), in
        an owned task; its conversation flush is refused as stale, which is the point."""
        task = asyncio.get_running_loop().create_task(self._stop_quietly(ref))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop_quietly(self, ref: ActorRef) -> None:
        with contextlib.suppress(ActorError, TimeoutError):
            await self.node.stop(ref, "shutdown", timeout=10.0)

    async def _passivate_now(self, ref: ActorRef, limit: float) -> None:
        """Passivate incarnation ``ref`` once the turn it runs is over (its conversation
        saved), waiting at most ``limit`` seconds; then it is stopped anyway (a move)."""
        try:
            done = await ref.call(Passivate(force=True), timeout=max(limit, 0.001))
        except ActorDead:
            return
        except CallTimeout:
            done = False
        if done:
            with contextlib.suppress(ActorError, TimeoutError):
                await self.node.wait(ref, timeout=10.0)
        else:
            await self._stop_quietly(ref)

    def _agents_sup(self) -> ActorRef:
        ref = self.node.whereis(self._agents_name)
        if ref is None:
            raise TurnFailed("<runtime>", "the agents' supervisor is not running")
        return ref

    async def _start_agent(self, agent_id: str, slot: AgentSlot) -> ActorRef:
        """Start agent ``agent_id`` (``spawn``, and the directory's activation): in the
        caller's task, the agents' supervisor adopting it, unless ``max_agents`` makes
        the supervisor count (``runtime.supervision.start_agent``)."""
        spec = self._spec(agent_id, slot)
        adopt = self.config.agents.max_agents is None
        return await start_agent(self.node, self._agents_sup(), agent_id, spec, adopt=adopt)

    def _spec(self, agent_id: str, slot: AgentSlot) -> ChildSpec:
        """The child spec of agent ``agent_id``, with the runtime's default model unless
        its class or options name one."""
        options = with_default_model(slot.agent_class, slot.options, self.config.llm.default_model)
        return agent_spec(agent_id, slot.agent_class, self.ctx, options)

    # -- addressing --------------------------------------------------------------------------

    def agent(self, agent_id: str) -> AgentRef:
        """A handle on agent ``id``: spawned, or named by a route (else ``UnknownAgent``,
        an ``AgentNotFound``)."""
        self.directory.check(agent_id)
        return AgentRef(self, agent_id)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self.directory

    def agent_ids(self) -> list[str]:
        """Every agent id, live or passivated."""
        return list(self.directory.ids())

    async def resolve(self, agent_id: str) -> ActorRef:
        """The live actor of agent ``agent_id``, activating it if needed."""
        return await self.directory.resolve(agent_id)

    # -- turns (``agentrt.runtime._turns``) -------------------------------------------------

    async def ask(
        self,
        agent_id: str,
        text: str | Sequence[ContentPart],
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        sender: str | None = None,
    ) -> Reply:
        """Send a user turn and return the reply; an id nobody spawned is activated when a
        route names it (``route``), else ``UnknownAgent`` (an ``AgentNotFound``).

        ``timeout`` (seconds) or ``deadline`` (``loop.time()``) bound it, the earlier
        winning (default: the agent's ``turn_timeout``). Raises ``AgentNotFound``,
        ``TurnTimeout``, ``TurnFailed`` (the LLM failed...), ``AgentCrashed`` (the agent
        crashed during the turn; it is restarted from its snapshot). ``text`` is a ``str``
        or a sequence of content parts (``TextPart``, ``ImagePart``: text and images for
        the model). Content the agent could not store (not a ``str`` or parts, a lone
        surrogate, an image URL that is not http(s) or a base64 ``data:image`` URL) raises
        ``MessageTypeError``/``MessageValueError`` naming the field (``text[1].url``)
        here, before anything is sent (:mod:`agentrt.agent._validate`).
        """
        return await self._turns.ask(
            agent_id, text, timeout=timeout, deadline_at=deadline, sender=sender
        )

    def stream(
        self,
        agent_id: str,
        text: str | Sequence[ContentPart],
        *,
        timeout: float | None = None,
        sender: str | None = None,
    ) -> TurnStream:
        """A streamed turn: ``async for delta in rt.stream(id, text)``; after the loop,
        ``.reply`` holds the ``Reply``. Errors are raised by the iteration; ``text`` is
        checked as for :meth:`ask`."""
        return self._turns.stream(agent_id, text, timeout=timeout, sender=sender)

    def turn_stats(self) -> TurnStats:
        """Turns accepted, answered, failed (by error type), in flight and lost."""
        return self._turns.stats()

    # -- agent-to-agent (the Peers protocol) ----------------------------------------------

    async def send_turn(
        self,
        agent_id: str,
        text: str | Sequence[ContentPart],
        *,
        reply_to: ActorRef | None,
        sender: str | None,
        deadline: float | None,
        tag: Any,
    ) -> None:
        """Start a turn of ``agent_id`` without waiting; its ``Reply``, or a ``TurnError``
        if it fails in any way (crash, timeout, passivation race...), is sent to
        ``reply_to``: never silence. The turn is counted like an ``ask``; ``text`` is
        checked as for :meth:`ask`, here."""
        self._turns.send_turn(
            agent_id, text, reply_to=reply_to, sender=sender, deadline_at=deadline, tag=tag
        )

    async def history(
        self, agent_id: str, *, start: int = 0, timeout: float | None = 5.0
    ) -> list[Message]:
        """Agent ``agent_id``'s stored conversation from message ``start`` on (system
        prompt, user, assistant and tool messages, oldest first), read by the agent
        itself after the turns queued before this call; an id a route names is activated
        (from its snapshot). Raises like ``call`` (``UnknownAgent``, ``CallTimeout``...).
        Costs one read of the whole conversation, from the store for older chunks. In
        cluster mode the agent's owner reads it, wherever it lives (text and names only)."""
        if self._cluster is not None:
            return await self._cluster.history(agent_id, start, timeout)
        messages: list[Message] = await self._turns.call(agent_id, History(start), timeout=timeout)
        return messages

    async def call(self, agent_id: str, msg: Any, *, timeout: float | None = 5.0) -> Any:
        """``call`` agent ``agent_id`` with a plain message (its ``handle_call``) and
        return its reply; ``CallTimeout`` after ``timeout`` seconds. In cluster mode the
        agent may live on another node: then ``msg`` and the reply cross as plain data
        (``UnsupportedPayload`` names a type that cannot, before anything is sent) and
        an exception there is raised here as ``RemoteError`` (docs/cluster.md, "Plain
        call and cast across nodes")."""
        return await self._turns.call(agent_id, msg, timeout=timeout)

    async def cast(self, agent_id: str, msg: Any) -> None:
        """``cast`` a plain message to agent ``agent_id`` (its ``handle_cast``); in
        cluster mode wherever it lives, as :meth:`call`, returning once the owner's
        mailbox took it."""
        await self._turns.cast(agent_id, msg)

    # -- management ------------------------------------------------------------------------

    async def passivate(self, agent_id: str, *, force: bool = False) -> bool:
        """Save agent ``agent_id``'s conversation and stop it now; False when it is busy
        (or already passivated)."""
        slot = self.directory.slot(agent_id)
        if slot is None:
            raise AgentNotFound(agent_id)
        ref = slot.ref
        if slot.passive or ref is None or not ref.alive:
            return False
        try:
            done: bool = await ref.call(Passivate(force=force), timeout=30.0)
        except ActorDead:
            return False
        if done:
            await self.node.wait(ref, timeout=30.0)
        return done

    async def inject_crash(self, agent_id: str) -> bool:
        """Kill agent ``agent_id``'s actor now (a hard crash: a turn in progress fails
        with ``AgentCrashed``); its supervisor restarts it from its stored conversation.
        For chaos testing. False when it is not running."""
        ref = self.directory.local(agent_id)
        if ref is None:
            return False
        self.node.exit(ref, "kill")
        return True

    def agent_counts(self) -> dict[str, int]:
        """Agents total, live, passivated and their restarts, in one pass."""
        return asdict(self.directory.counts())

    async def _refresh_supervision(self) -> None:
        sup = self.node.whereis(self._agents_name)
        if sup is None:
            return
        try:
            stats = await DynamicSupervisor.stats(sup, timeout=5.0)
        except (ActorError, TimeoutError):
            return
        self._supervision = {"agents": asdict(stats)}

    def stats(self) -> dict[str, Any]:
        """Agents (total, live, passivated), turns, restarts and the services' stats."""
        return runtime_stats(self.node, self.directory, self._turns, self.services, self.telemetry)
