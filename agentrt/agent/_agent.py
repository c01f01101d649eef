"""``Agent``: the conversational actor. A user turn goes: context from memory → LLM →
tool calls run concurrently under their limits → LLM again … up to ``max_steps``, all
under the caller's deadline.

Define an agent by subclassing and setting class attributes (each can be overridden per
agent through ``Runtime.spawn(..., name=value)``):

- ``system_prompt`` ("You are a helpful assistant."), ``model`` (unset: the runtime's
  ``PoolConfig.default_model``, "mock" when no provider names one), ``tools`` (names
  registered in the runtime's tool registry, or ``Tool`` objects),
- ``max_steps`` (8): LLM calls per turn; ``temperature``, ``max_tokens`` (None: provider
  defaults); ``context_tokens`` (8,000): the prompt budget;
- ``turn_timeout`` (60 s): the deadline of a turn whose caller gives none;
- ``memory`` (None: the runtime's ``ConversationConfig``);
- ``llm_cache`` (None: the pool's ``PoolConfig.response_cache``, off by default): the
  agent's ``ResponseCachePolicy`` for the LLM response cache, passed on each chat call
  (streamed turns bypass the cache; docs/llm.md "Response cache");
- ``tenant`` (None): who the agent works for. Tool results cached with
  ``CachePolicy(scope="tenant")`` are shared by the agents of one tenant and never seen
  by another's; an agent using such a tool must have one (``ConfigError`` at spawn).

Hooks, in the actor's (Elixir's) vocabulary: ``handle_call(msg, caller)``,
``handle_cast(msg)``, ``handle_info(msg)`` (plain messages, and the replies of ``tell``
in ``handle_info``): handle yours and pass the rest to ``super()``, which takes turns and
passivation and crashes on anything unexpected; ``terminate(reason)``: ``await
super().terminate(reason)`` flushes the conversation. Also ``respond(turn)`` (the answer
to a user turn: the LLM loop by default; override it to answer with your own code, e.g.
a router), ``build_context()`` (the messages sent to the LLM) and ``setup(**options)``
(extra spawn keywords, after the conversation is loaded; ``init`` itself is the agent's
own start). The turn loop lives in ``agentrt.agent._turn``. Deprecated, for one release
(a ``DeprecationWarning`` when a class defines them): ``on_call``/``on_cast``/``on_info``,
called for what the agent does not handle itself, and ``teardown(reason)``, called after
the conversation was flushed.

Failures: an LLM error, a store error, a message that cannot be stored (an LLM reply or
tool result holding a lone surrogate: ``MessageError``, nothing of it stored) or the
deadline fails the turn (the caller gets ``TurnFailed``/``TurnTimeout``) and the agent
carries on. A tool error goes back to the
model as a tool result. Any other exception is a bug: the agent crashes, the caller gets
``AgentCrashed``, and its supervisor restarts it from the conversation it stored.

Starting (``agentrt.agent._start``): ``init`` is cheap, so a spawn waits only for the
agent to be registered and addressable; loading its conversation from the store and
``setup`` run in ``handle_continue``, before its first message (messages sent meanwhile
wait, in order). Options ``setup`` does not take still fail the spawn. A load or
``setup`` that fails stops the agent (not restarted): the callers of the messages that
waited get the error (``CorruptSnapshot``, ``StoreError``, what ``setup`` raised), and its
next message activates it again.

The assistant message that asks for tools is stored together with the tools' results,
after they ran: a turn cut short never leaves an unanswered tool call in the
conversation. Agents trap exits so that a shutdown runs ``terminate`` and flushes the
conversation.

Example::

    class Support(Agent):
        system_prompt = "You answer billing questions tersely."
        tools = ("lookup_invoice",)

    async with Runtime() as rt:
        await rt.spawn(Support, id="support-1")
        reply = await rt.ask("support-1", "Why was I charged twice?")
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from agentrt.actor import NORMAL, Actor, ActorError, Caller, Continue, ExitReason, Stop
from agentrt.agent._context import AgentContext
from agentrt.agent._protocol import History, Passivate, Reply, Turn
from agentrt.agent._start import (
    DEPRECATED_HOOKS,
    LOAD_FAILED,
    SETTINGS,
    SwarmOptions,
    check_setup_options,
    open_conversation,
    setup_signature,
)
from agentrt.agent._turn import CONTEXT_SHRUNK_EVENT, TURN_EVENT, TurnLoop
from agentrt.agent._validate import check_tenant
from agentrt.deadline import earliest
from agentrt.errors import ArgumentTypeError
from agentrt.llm import ResponseCachePolicy
from agentrt.memory import Conversation, ConversationConfig, StoreError
from agentrt.tools import Tool

__all__ = ["CONTEXT_SHRUNK_EVENT", "TURN_EVENT", "Agent"]

_log = logging.getLogger("agentrt.agent")
_NO_TOOLS: frozenset[str] = frozenset()


class Agent(TurnLoop, Actor):
    """A conversational agent (see the module docs)."""

    trap_exits = True

    system_prompt: ClassVar[str] = "You are a helpful assistant."
    model: ClassVar[str] = "mock"
    tools: ClassVar[Sequence[str | Tool]] = ()
    max_steps: ClassVar[int] = 8
    temperature: ClassVar[float | None] = None
    max_tokens: ClassVar[int | None] = None
    context_tokens: ClassVar[int] = 8_000
    turn_timeout: ClassVar[float] = 60.0
    memory: ClassVar[ConversationConfig | None] = None
    tenant: ClassVar[str | None] = None
    llm_cache: ClassVar[ResponseCachePolicy | None] = None

    id: str
    ctx: AgentContext
    conversation: Conversation
    #: ``setup``'s signature, to check spawn keywords at spawn (None: the default setup)
    _setup_signature: ClassVar[inspect.Signature | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "setup" in cls.__dict__:
            cls._setup_signature = setup_signature(cls.__dict__["setup"])
        old = sorted(name for name in DEPRECATED_HOOKS if name in cls.__dict__)
        if old:
            new = ", ".join(f"{name} -> {DEPRECATED_HOOKS[name]}" for name in old)
            warnings.warn(
                f"{cls.__qualname__}: Agent hooks {old} are deprecated, use the actor's: {new}",
                DeprecationWarning,
                stacklevel=2,
            )

    # -- lifecycle ---------------------------------------------------------------------------

    def log_context(self) -> dict[str, Any]:
        """``{"agent_id", "model"}``: on the records written about this agent outside
        its turns (its start failing, its crash, a loop it blocked); inside a turn
        ``LogContextFilter`` adds them and the turn id."""
        return {"agent_id": getattr(self, "id", None), "model": self.model}

    async def init(self, agent_id: str, ctx: AgentContext, options: Mapping[str, Any]) -> Continue:
        """Cheap, while the supervisor waits: apply the settings in ``options``, check
        what can fail at spawn (an unknown tool, a missing tenant, keywords ``setup``
        does not take), then bind the agent's slot (it is addressable from here on).
        Returns ``Continue``: ``handle_continue`` loads the conversation and runs
        ``setup`` before the first message (lazily, when that message arrives, for a
        swarm's agent: ``agentrt.agent._start``). An override must return what this
        returns."""
        self.id = agent_id
        self.ctx = ctx
        extra = {}
        for key, value in options.items():
            if key in SETTINGS:
                setattr(self, key, value)
            else:
                extra[key] = value
        if extra:
            check_setup_options(type(self), self._setup_signature, extra)
        specs = self._tool_specs = ctx.tool_specs(self.tools)
        if specs:
            registry = ctx.services.tools
            policy = registry.policy
            self._cached_tools = frozenset(
                spec.name for spec in specs if policy(spec.name).cache is not None
            )
            check_tenant(self.tenant, specs, registry)
        else:  # no tools (the common case of a swarm): only a tenant given to check
            self._cached_tools = _NO_TOOLS
            if self.tenant is not None:
                check_tenant(self.tenant, specs, ctx.services.tools)
        self._stats = ctx.telemetry.agent_stats(agent_id, type(self).__qualname__)
        self._stats_on = ctx.telemetry.stats  # False: TelemetryConfig(stats=False)
        self._deadline: float | None = None
        self._closed = True  # no conversation to flush until it is loaded
        slot = self._slot = ctx.directory.slot_for(agent_id, type(self), options)
        slot.touch()
        slot.bind(self.ref)
        # a swarm's agent loads on its first message, unless its own setup may start work
        return Continue(extra, lazy=type(options) is SwarmOptions and self._setup_signature is None)

    async def handle_continue(self, extra: dict[str, Any]) -> Any:
        """Before the first message: load the conversation, then ``setup(**extra)``.
        If either fails, the agent stops with ``("shutdown", ("load_failed", error))``:
        logged once (one warning line for a ``StoreError``, the store being down; an
        error with its traceback otherwise), not restarted; the callers of the messages
        that waited get ``error``, and its next message activates it again
        (``agentrt.agent._start``)."""
        try:
            self.conversation = await open_conversation(self)
            self._closed = False
            self._stats.memory_source = self.conversation  # read when viewed
            await self.setup(**extra)
        except Exception as exc:
            if isinstance(exc, StoreError):  # the store is down: expected, no traceback
                _log.warning("agent %r failed to start: %s", self.id, exc, extra=self.log_context())
            else:
                _log.error(
                    "agent %r failed to start: %r",
                    self.id,
                    exc,
                    exc_info=exc,
                    extra=self.log_context(),
                )
            self._slot.passive = True  # known, not live: its next message activates it
            self._slot.failed = exc
            return Stop(("shutdown", (LOAD_FAILED, exc)))
        return None

    async def terminate(self, reason: ExitReason) -> None:
        """Flush the conversation. An override calls ``await super().terminate(reason)``."""
        try:
            if not self._closed:
                self._closed = True
                self._let_go_of_stats()
                await self.conversation.aclose()
        finally:
            await self.teardown(reason)

    # -- hooks ---------------------------------------------------------------------------------

    async def setup(self, *_: Any, **options: Any) -> None:
        """Called once the conversation is loaded, before the first message, with spawn
        keywords that are not agent settings (never positional arguments). Keywords its
        signature does not take fail the spawn itself; an exception it raises fails the
        start (see the module docs). Default: take none (a typo should not pass
        silently). Override it with the keywords you take, e.g.
        ``async def setup(self, *, workers: list[str]) -> None`` (the ``*_`` here lets
        type checkers accept such overrides)."""
        if options:
            raise ArgumentTypeError(
                "options", f"{type(self).__qualname__} got unknown options: {sorted(options)}"
            )

    async def on_call(self, msg: Any, caller: Caller) -> Any:
        """Deprecated: override ``handle_call`` (pass what you do not handle to
        ``super()``). Default: crash, as an unexpected call is a bug."""
        return await Actor.handle_call(self, msg, caller)

    async def on_cast(self, msg: Any) -> None:
        """Deprecated: override ``handle_cast``. Default: crash."""
        await Actor.handle_cast(self, msg)

    async def on_info(self, msg: Any) -> None:
        """Deprecated: override ``handle_info``. Default: crash."""
        await Actor.handle_info(self, msg)

    async def teardown(self, reason: ExitReason) -> None:
        """Deprecated: override ``terminate`` and ``await super().terminate(reason)``."""

    # -- messages ------------------------------------------------------------------------------

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        """Turns, history reads (``History``) and passivation requests; anything else
        crashes the agent (an unexpected call is a bug). Override it for your own calls
        and pass the rest to ``super()``."""
        if isinstance(msg, Turn):
            return await self._safe_turn(msg)
        if isinstance(msg, Passivate):
            return await self._passivate(msg)
        if isinstance(msg, History):
            return await self.conversation.history(msg.start)
        return await self.on_call(msg, caller)

    async def handle_cast(self, msg: Any) -> None:
        """Turns sent with ``cast`` (their ``reply_to`` gets the result) and passivation
        requests; anything else crashes the agent. Override it as ``handle_call``."""
        if isinstance(msg, Turn):
            result = await self._safe_turn(msg)
            if msg.reply_to is not None:
                try:
                    msg.reply_to.send(result)
                except ActorError:
                    _log.info(
                        "agent %r: reply_to %r is gone",
                        self.id,
                        msg.reply_to,
                        extra=self.log_context(),
                    )
        elif isinstance(msg, Passivate):
            await self._passivate(msg)
        else:
            await self.on_cast(msg)

    async def handle_info(self, msg: Any) -> None:
        """Any other message, including the ``Reply``/``TurnError`` of a ``tell``.
        Default: crash (an unexpected message is a bug); override it for yours."""
        await self.on_info(msg)

    def _let_go_of_stats(self) -> None:
        """The conversation is closing: its last size stays in the stats."""
        stats = self._stats
        if stats.memory_source is not None:
            stats.bytes_held = self.conversation.memory_bytes()
            stats.memory_source = None

    # -- passivation --------------------------------------------------------------------------

    async def _passivate(self, msg: Passivate) -> bool:
        """Save the conversation and stop; refused (False) when messages are waiting."""
        if not msg.force:
            if self.ref.stats().depth > 0:
                return False
            if msg.idle_before is not None and self._slot.last_active > msg.idle_before:
                return False
        slot = self._slot
        slot.passive = True
        self._closed = True
        self._let_go_of_stats()
        await self.conversation.aclose()
        self.ctx.telemetry.park(self.id)  # packed while passivated
        if slot.ref is self.ref:  # not rebound meanwhile: a passivated slot holds no ref
            slot.ref = None
        self.stop(NORMAL)
        return True

    # -- agent to agent -----------------------------------------------------------------------

    def _remaining(self, timeout: float | None, deadline: float | None = None) -> float | None:
        """The earliest of this turn's deadline, ``deadline`` and now + ``timeout``."""
        return earliest(timeout, self._deadline, deadline)

    async def ask(
        self,
        agent_id: str,
        text: str,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> Reply:
        """Ask another agent and wait for its reply. The earliest of this turn's deadline
        (during a turn), ``deadline`` (absolute ``loop.time()``, e.g. one received in a
        request, passed on unchanged) and now + ``timeout`` applies; with none, the other
        agent's ``turn_timeout``. Raises like ``Runtime.ask``."""
        return await self.ctx.peers.ask(
            agent_id, text, deadline=self._remaining(timeout, deadline), sender=self.id
        )

    async def tell(
        self, agent_id: str, text: str, *, tag: Any = None, deadline: float | None = None
    ) -> None:
        """Send another agent a turn without waiting; its ``Reply``, or a ``TurnError``
        when it fails in any way (a crash included), arrives later in ``on_info``,
        carrying ``tag``. The turn's deadline is the earliest of this turn's and
        ``deadline``."""
        await self.ctx.peers.send_turn(
            agent_id,
            text,
            reply_to=self.ref,
            sender=self.id,
            deadline=self._remaining(None, deadline),
            tag=tag,
        )
