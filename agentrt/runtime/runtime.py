"""``Runtime``: a node, its root supervision tree, and the agents on it.

``async with Runtime(config) as rt:`` boots one node and a ``rest_for_one`` root
supervisor: the services (conversation store, dictionary registry, LLM pool, tool
registry with its cache), a ``DynamicSupervisor`` for agents, the passivator, the
telemetry ticker, the memory trimmer (``trim_interval_s``) and, when configured, the
introspection endpoint (``endpoint_url``).
Leaving the block shuts the tree down in reverse order: agents flush their conversations
before the store closes; nothing is left running.

Agents are addressed by id. The runtime's directory keeps one small slot per agent, live
or passivated; a message to a passivated agent (or one whose last incarnation crashed and
was not restarted in time) activates it transparently, with its conversation.

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
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from agentrt.actor import (
    NOPROC,
    NORMAL,
    ActorDead,
    ActorError,
    ActorRef,
    CallTimeout,
    NameTaken,
    Node,
)
from agentrt.agent import (
    Agent,
    AgentContext,
    AgentCrashed,
    AgentError,
    AgentExists,
    AgentNotFound,
    AgentSlot,
    LLMSummarizer,
    Passivate,
    Reply,
    StreamSink,
    Turn,
    TurnError,
    TurnFailed,
    TurnTimeout,
)
from agentrt.agent.options import check_spawn_options
from agentrt.agent.validate import check_agent_id, check_turn
from agentrt.errors import ConfigError
from agentrt.runtime.config import EndpointConfig, RuntimeConfig
from agentrt.runtime.endpoint import open_endpoint
from agentrt.runtime.handles import AgentRef, TurnStats, TurnStream
from agentrt.runtime.passivator import Passivator
from agentrt.runtime.resources import (
    close_quietly,
    open_dictionaries,
    open_llm,
    open_store,
    open_tools,
)
from agentrt.runtime.services import service_spec
from agentrt.runtime.supervision import SupervisionMonitor, agent_name, agent_spec
from agentrt.runtime.ticker import TelemetryTicker
from agentrt.runtime.trim import MemoryTrimmer
from agentrt.telemetry import OTelSession, Telemetry
from agentrt.tools import Tool
from supervisors import ChildSpec, DynamicSupervisor, StartChildError, Supervisor

__all__ = ["Runtime"]

_log = logging.getLogger("agentrt.runtime")
A = TypeVar("A", bound=Agent)


@dataclass
class _Counters:
    accepted: int = 0
    answered: int = 0
    failed: int = 0
    retried: int = 0


class Runtime:
    """A node running agents under supervision (see the module docs)."""

    def __init__(
        self,
        config: RuntimeConfig | None = None,
        *,
        tools: Iterable[Tool] = (),
        llm_backends: Mapping[str, Any] | None = None,
        meter_provider: Any = None,
        tracer_provider: Any = None,
        metric_exporter: Any = None,
        span_exporter: Any = None,
    ) -> None:
        """``tools`` are registered in the runtime's tool registry; ``llm_backends``
        replaces providers' backends by name (e.g. a scripted ``MockProvider`` in tests).
        OpenTelemetry (``agentrt.telemetry.OTelSession``): ``metric_exporter``/
        ``span_exporter`` are SDK exporters the runtime's own pipeline exports to (it
        shuts them down on close); ``meter_provider``/``tracer_provider`` are SDK
        providers to record into (yours: never shut down); ``config.telemetry.otel``
        builds exporters instead. Raises ``ConfigError`` for a missing exporter extra or
        two destinations for one signal."""
        self.config = config if config is not None else RuntimeConfig()
        self._tools = list(tools)
        self._llm_backends = dict(llm_backends or {})
        self.node = Node(self.config.node)
        self._slots: dict[str, AgentSlot] = {}
        self._activations: dict[str, asyncio.Future[ActorRef]] = {}
        self._services: dict[str, Any] = {}
        self._counts = _Counters()
        self._background: set[asyncio.Task[None]] = set()
        self._failures: Counter[str] = Counter()
        self._ctx: AgentContext | None = None
        self._root: ActorRef | None = None
        self._agents_name = ("agentrt", self.config.name, "agents")
        self._started = False
        tcfg = self.config.telemetry
        self.telemetry = Telemetry(targets=tcfg.targets, window_s=tcfg.window_s, stats=tcfg.stats)
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
        self.telemetry.live_agent = self._live_agent
        self.telemetry.summary_extras = self._summary_extras

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
        publish = self._publish
        children = [
            service_spec("store", lambda: open_store(cfg.store), close_quietly, publish),
            service_spec(
                "dictionaries",
                lambda: open_dictionaries(cfg.dictionary, self._services["store"]),
                close_quietly,
                publish,
            ),
            service_spec(
                "llm",
                lambda: open_llm(cfg.llm, self._llm_backends, self.telemetry.events),
                close_quietly,
                publish,
            ),
            service_spec(
                "tools",
                lambda: open_tools(cfg.cache, self._tools, self.node, self.telemetry.events),
                close_quietly,
                publish,
            ),
            ChildSpec.dynamic_supervisor(
                "agents",
                max_children=cfg.agents.max_agents,
                max_restarts=cfg.agents.max_restarts,
                max_seconds=cfg.agents.max_seconds,
                name=self._agents_name,
                backoff=cfg.agents.restart_backoff,
                on_report=self.supervision.on_agents_report,
            ),
        ]
        interval = cfg.agents.sweep_interval
        if cfg.agents.idle_timeout_s is not None and interval is not None:
            children.append(
                ChildSpec.worker(
                    "passivator", Passivator, self._slots, cfg.agents.idle_timeout_s, interval
                )
            )
        children.append(
            ChildSpec.worker(
                "telemetry",
                TelemetryTicker,
                self.telemetry,
                cfg.telemetry.window_s / 2,
                self._refresh_supervision,
            )
        )
        if cfg.trim_interval_s is not None:
            children.append(ChildSpec.worker("trimmer", MemoryTrimmer, cfg.trim_interval_s))
        if endpoint is not None:
            children.append(self._endpoint_spec(endpoint, token))
        try:
            self._root = await Supervisor.start(
                self.node,
                children,
                strategy="rest_for_one",
                name=("agentrt", cfg.name),
                on_report=self.supervision.on_root_report,
            )
        except BaseException as exc:
            await self.node.aclose()
            await self.otel.aclose()
            reason = exc.child_reason if isinstance(exc, StartChildError) else None
            if isinstance(reason, Exception):  # a service's own error (ConfigError...)
                raise reason from exc
            raise
        self._started = True

    def _endpoint_spec(self, config: EndpointConfig, token: str | None) -> ChildSpec:
        """The introspection endpoint: last to start, first to close; its crash restarts
        nothing else."""
        return service_spec(
            "endpoint",
            lambda: open_endpoint(config, self.telemetry, token=token),
            close_quietly,
            self._publish,
        )

    def _publish(self, name: str, resource: Any) -> None:
        """A service (re)started: agents see the new resource from now on."""
        self._services[name] = resource
        if name in ("llm", "tools", "store", "endpoint"):
            self.telemetry.add_source(name, resource.stats)
        ctx = self._ctx
        if ctx is not None and name in ("llm", "tools", "store", "dictionaries"):
            setattr(ctx, name, resource)

    @property
    def ctx(self) -> AgentContext:
        """The context shared by this runtime's agents."""
        if self._ctx is None:
            svc = self._services
            if not self._started and "tools" not in svc:
                raise RuntimeError("the runtime is not started")
            model = self.config.summarizer.model
            summarizer = (
                LLMSummarizer(
                    lambda: self._services["llm"],
                    model=model,
                    max_tokens=self.config.summarizer.max_tokens,
                )
                if model is not None
                else None
            )
            self._ctx = AgentContext(
                llm=svc["llm"],
                tools=svc["tools"],
                store=svc["store"],
                dictionaries=svc["dictionaries"],
                peers=self,
                summarizer=summarizer,
                memory=self.config.memory,
                slots=self._slots,
                telemetry=self.telemetry,
            )
        return self._ctx

    async def aclose(self) -> None:
        """Stop every agent (conversations flushed), then the services, then the node."""
        if not self._started:
            await self.node.aclose()
            return
        self._started = False
        root = self._root
        for task in list(self._background):  # tells in flight fail back to their senders
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        try:
            if root is not None and root.alive:
                await self.node.stop(root, "shutdown", timeout=None)
        finally:
            await self.node.aclose()
            await self.otel.aclose()

    # -- services ------------------------------------------------------------------------------

    @property
    def llm(self) -> Any:
        """The LLM pool (``agentrt.llm.LLMPool``)."""
        return self._services["llm"]

    @property
    def tools(self) -> Any:
        """The tool registry (``agentrt.tools.ToolRegistry``)."""
        return self._services["tools"]

    @property
    def endpoint_url(self) -> str | None:
        """``http://host:port`` of the introspection endpoint while the runtime runs;
        None when ``TelemetryConfig.endpoint`` is not set or the runtime is stopped."""
        endpoint = self._services.get("endpoint")
        return endpoint.url if self._started and endpoint is not None else None

    @property
    def store(self) -> Any:
        """The conversation store (``agentrt.memory.Store``)."""
        return self._services["store"]

    # -- spawning ------------------------------------------------------------------------------

    async def spawn(self, agent_class: type[A], *, id: str, **options: Any) -> AgentRef:
        """Start agent ``id`` of ``agent_class``; ``options`` override its class settings
        (``model``, ``system_prompt``, ``tools``...) or go to its ``setup``. Raises
        ``AgentExists``, or what the agent's start raised (an unknown option or tool...)."""
        self._check_class(agent_class)
        check_spawn_options(options)
        slot = self._new_slot(id, agent_class, options)
        try:
            await self._start_agent(id, slot)
        except BaseException:
            self._slots.pop(id, None)
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

        With ``lazy=True`` nothing is started: each agent is activated by its first
        message (the way to address far more agents than are kept hot). Returns the ids.
        """
        self._check_class(agent_class)
        check_spawn_options(options)
        if n < 0:
            raise ConfigError("n", f"must be >= 0, got {n}")
        ids = [f"{prefix}{i}" for i in range(start, start + n)]
        taken = [i for i in ids if i in self._slots]
        if taken:
            raise AgentExists(taken[0])
        shared = dict(options)
        slots = [self._new_slot(i, agent_class, shared) for i in ids]
        if lazy:
            for slot in slots:
                slot.passive = True
            return ids
        for agent_id, slot in zip(ids, slots, strict=True):
            try:
                await self._start_agent(agent_id, slot)
            except BaseException:
                for i in ids:
                    if (s := self._slots.get(i)) is not None and s.ref is None:
                        del self._slots[i]
                raise
        return ids

    @staticmethod
    def _check_class(agent_class: Any) -> None:
        if not (isinstance(agent_class, type) and issubclass(agent_class, Agent)):
            raise TypeError(f"expected an Agent subclass, got {agent_class!r}")

    def _new_slot(self, agent_id: str, agent_class: type[Agent], options: Any) -> AgentSlot:
        if not isinstance(agent_id, str) or not agent_id:
            raise ConfigError("id", f"must be a non-empty string, got {agent_id!r}")
        check_agent_id(agent_id)
        if agent_id in self._slots:
            raise AgentExists(agent_id)
        slot = self._slots[agent_id] = AgentSlot(agent_class, options)
        return slot

    def _agents_sup(self) -> ActorRef:
        ref = self.node.whereis(self._agents_name)
        if ref is None:
            raise TurnFailed("<runtime>", "the agents' supervisor is not running")
        return ref

    async def _start_agent(self, agent_id: str, slot: AgentSlot) -> ActorRef:
        spec = agent_spec(agent_id, slot.agent_class, agent_id, self.ctx, slot.options)
        try:
            ref = await DynamicSupervisor.start_child(self._agents_sup(), spec)
        except StartChildError as exc:
            reason = exc.child_reason
            if isinstance(reason, NameTaken):  # already (re)started by someone else
                existing = self.node.whereis(agent_name(agent_id))
                if existing is not None:
                    return existing
            if isinstance(reason, Exception):
                raise reason from exc
            raise
        if ref is None:  # an incarnation already runs (see runtime.supervision)
            ref = self.node.whereis(agent_name(agent_id))
            if ref is None:
                raise TurnFailed(agent_id, "the agent's init returned IGNORE")
        return ref

    # -- addressing --------------------------------------------------------------------------

    def agent(self, agent_id: str) -> AgentRef:
        """A handle on agent ``id`` (``AgentNotFound`` if it was never spawned)."""
        if agent_id not in self._slots:
            raise AgentNotFound(agent_id)
        return AgentRef(self, agent_id)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._slots

    def agent_ids(self) -> list[str]:
        """Every agent id, live or passivated."""
        return list(self._slots)

    async def resolve(self, agent_id: str) -> ActorRef:
        """The live actor of agent ``agent_id``, activating it if needed."""
        slot = self._slots.get(agent_id)
        if slot is None:
            raise AgentNotFound(agent_id)
        ref = slot.ref
        if ref is not None and ref.alive:
            return ref
        # its last incarnation died: its supervisor is restarting it (or gave up)
        if not slot.passive and ref is not None and await self._wait_bind(slot, ref):
            rebound = slot.ref
            if rebound is not None and rebound.alive:
                return rebound
        return await self._activate(agent_id, slot)

    async def _wait_bind(self, slot: AgentSlot, old: ActorRef) -> bool:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        if slot.waiters is None:
            slot.waiters = []
        slot.waiters.append(fut)
        try:
            async with asyncio.timeout(self.config.agents.restart_grace_s):
                await fut
        except TimeoutError:
            return False
        return slot.ref is not None and slot.ref != old

    async def _activate(self, agent_id: str, slot: AgentSlot) -> ActorRef:
        pending = self._activations.get(agent_id)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[ActorRef] = asyncio.get_running_loop().create_future()
        self._activations[agent_id] = fut
        try:
            ref = await self._start_agent(agent_id, slot)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no warning when nobody else was waiting
            raise
        finally:
            del self._activations[agent_id]
        fut.set_result(ref)
        return ref

    # -- turns ---------------------------------------------------------------------------------

    def _deadline(self, timeout: float | None, deadline: float | None) -> float | None:
        if timeout is not None:
            own = asyncio.get_running_loop().time() + timeout
            return own if deadline is None else min(deadline, own)
        return deadline

    async def ask(
        self,
        agent_id: str,
        text: str,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        sender: str | None = None,
    ) -> Reply:
        """Send a user turn and return the reply.

        ``timeout`` (seconds) or ``deadline`` (``loop.time()``) bound it (default: the
        agent's ``turn_timeout``). Raises ``AgentNotFound``, ``TurnTimeout``,
        ``TurnFailed`` (the LLM failed...), ``AgentCrashed`` (the agent crashed during the
        turn; it is restarted from its snapshot). Text the agent could not store (not a
        ``str``, or a lone surrogate) raises ``MessageTypeError``/``MessageValueError``
        here, before anything is sent (:mod:`agentrt.agent.validate`).
        """
        check_turn(text, sender)
        turn = Turn(text, self._deadline(timeout, deadline), sender, trace=self._trace_context())
        return await self._run_turn(agent_id, turn)

    def stream(
        self, agent_id: str, text: str, *, timeout: float | None = None, sender: str | None = None
    ) -> TurnStream:
        """A streamed turn: ``async for delta in rt.stream(id, text)``; after the loop,
        ``.reply`` holds the ``Reply``. Errors are raised by the iteration."""
        check_turn(text, sender)
        sink = StreamSink()
        turn = Turn(
            text, self._deadline(timeout, None), sender, stream=sink, trace=self._trace_context()
        )
        return TurnStream(self._run_turn(agent_id, turn), sink)

    def _trace_context(self) -> Any:
        """The caller's trace context for its turn to carry (None unless tracing)."""
        capture = self.telemetry.trace_context
        return capture() if capture is not None else None

    async def _run_turn(self, agent_id: str, turn: Turn) -> Reply:
        counts = self._counts
        counts.accepted += 1
        try:
            reply = await self._deliver(agent_id, turn)
        except BaseException as exc:
            counts.failed += 1
            self._failures[type(exc).__name__] += 1
            raise
        counts.answered += 1
        return reply

    async def _deliver(self, agent_id: str, turn: Turn) -> Reply:
        loop = asyncio.get_running_loop()
        margin = self.config.agents.call_margin_s
        for _ in range(3):
            ref = await self.resolve(agent_id)
            deadline = turn.deadline
            timeout = None if deadline is None else max(0.0, deadline - loop.time()) + margin
            try:
                result = await ref.call(turn, timeout=timeout)
            except ActorDead as exc:
                if exc.reason in (NORMAL, NOPROC):  # passivated or restarting meanwhile
                    self._counts.retried += 1
                    continue
                raise AgentCrashed(agent_id, exc.reason) from None
            except CallTimeout:
                raise TurnTimeout(agent_id) from None
            if isinstance(result, TurnError):
                raise result.error
            reply: Reply = result
            return reply
        raise TurnFailed(agent_id, "the agent kept exiting before it could take the turn")

    def turn_stats(self) -> TurnStats:
        """Turns accepted, answered, failed (by error type), in flight and lost."""
        c = self._counts
        return TurnStats(
            accepted=c.accepted,
            answered=c.answered,
            failed=c.failed,
            retried=c.retried,
            failures=dict(self._failures),
        )

    # -- agent-to-agent (the Peers protocol) ----------------------------------------------

    async def send_turn(
        self,
        agent_id: str,
        text: str,
        *,
        reply_to: ActorRef | None,
        sender: str | None,
        deadline: float | None,
        tag: Any,
    ) -> None:
        """Start a turn of ``agent_id`` without waiting; its ``Reply``, or a ``TurnError``
        if it fails in any way (crash, timeout, passivation race...), is sent to
        ``reply_to``: never silence. The turn is counted like an ``ask``."""
        check_turn(text, sender)
        if agent_id not in self._slots:
            raise AgentNotFound(agent_id)
        turn = Turn(text, deadline, sender, tag=tag, trace=self._trace_context())
        task = asyncio.get_running_loop().create_task(self._tell(agent_id, turn, reply_to))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _tell(self, agent_id: str, turn: Turn, reply_to: ActorRef | None) -> None:
        result: Reply | TurnError
        try:
            result = await self._run_turn(agent_id, turn)
        except AgentError as exc:
            result = TurnError(agent_id, exc, turn.tag)
        except Exception as exc:
            result = TurnError(agent_id, TurnFailed(agent_id, exc), turn.tag)
        if reply_to is not None:
            try:
                reply_to.send(result)
            except ActorError:
                _log.info("reply to %r of a turn of %r dropped: it is gone", reply_to, agent_id)

    async def call(self, agent_id: str, msg: Any, *, timeout: float | None = 5.0) -> Any:
        """``call`` agent ``agent_id`` with a plain message (its ``on_call``)."""
        return await (await self.resolve(agent_id)).call(msg, timeout=timeout)

    async def cast(self, agent_id: str, msg: Any) -> None:
        """``cast`` a plain message to agent ``agent_id`` (its ``on_cast``)."""
        await (await self.resolve(agent_id)).cast(msg)

    # -- management ------------------------------------------------------------------------

    async def passivate(self, agent_id: str, *, force: bool = False) -> bool:
        """Save agent ``agent_id``'s conversation and stop it now; False when it is busy
        (or already passivated)."""
        slot = self._slots.get(agent_id)
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
        slot = self._slots.get(agent_id)
        ref = slot.ref if slot is not None else None
        if ref is None or not ref.alive:
            return False
        self.node.exit(ref, "kill")
        return True

    def agent_counts(self) -> dict[str, int]:
        """Agents total, live, passivated and their restarts, in one pass."""
        live = passive = restarts = 0
        for slot in self._slots.values():
            ref = slot.ref
            if slot.passive:
                passive += 1
            elif ref is not None and ref.alive:
                live += 1
            restarts += slot.restarts
        return {
            "total": len(self._slots),
            "live": live,
            "passivated": passive,
            "restarts": restarts,
        }

    def _live_agent(self, agent_id: str) -> dict[str, Any]:
        """Live state of one agent for telemetry views."""
        slot = self._slots.get(agent_id)
        if slot is None:
            return {"state": "unknown"}
        out: dict[str, Any] = {"restarts": slot.restarts, "mailbox": 0, "mailbox_max": 0}
        ref = slot.ref
        if slot.passive or ref is None or not ref.alive:
            out["state"] = "passivated" if slot.passive else "down"
            return out
        info = self.node.info(ref)
        out.update(state=info.state, mailbox=info.mailbox_depth, mailbox_max=info.mailbox_max_depth)
        return out

    def _summary_extras(self) -> dict[str, Any]:
        """Node-wide figures read off the other layers, for ``telemetry.summary()``."""
        node = self.node.stats()
        depth, depth_max = self.node.mailbox_totals()
        counts = self.agent_counts()
        out: dict[str, Any] = {
            "agents": counts,
            "loop_lag_ms": {
                "last": node.loop.lag_last * 1000,
                "max": node.loop.lag_max * 1000,
                "mean": node.loop.lag_mean * 1000,
                "blocked_episodes": node.loop.blocked_episodes,
            },
            "mailboxes": {"queued": depth, "max_depth": depth_max, "actors": node.actors},
            "restarts": {
                "agents": counts["restarts"],
                "agents_supervisor": self._supervision.get("agents", {}).get("restarts", 0),
            },
        }
        llm = self._services.get("llm")
        if llm is not None:
            providers = llm.stats().get("providers", {})
            out["llm"] = {
                "queue_active": sum(p["queue"]["active"] for p in providers.values()),
                "queue_waiting": sum(p["queue"]["waiting"] for p in providers.values()),
                "queue_wait_p95_ms": max(
                    (p["queue_wait"]["p95_ms"] for p in providers.values()), default=0.0
                ),
                "requests": sum(p["requests"] for p in providers.values()),
                "cost": sum(p["cost"] for p in providers.values()),
            }
        tools = self._services.get("tools")
        if tools is not None:
            cache = tools.stats().get("cache") or {}
            out["cache"] = {
                "hits": cache.get("hits", 0),
                "misses": cache.get("misses", 0),
                "hit_ratio": cache.get("hit_ratio", 0.0),
            }
        return out

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
        out: dict[str, Any] = {
            "agents": self.agent_counts(),
            "turns": self.turn_stats().as_dict(),
            "node": self.node.stats(),
            "corrupt_snapshots": self._ctx.corrupt_snapshots if self._ctx else 0,
        }
        for name in ("llm", "tools", "store"):
            svc = self._services.get(name)
            if svc is not None:
                out[name] = svc.stats()
        return out
