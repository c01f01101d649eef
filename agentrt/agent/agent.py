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
own start). Deprecated, for one release (a ``DeprecationWarning`` when a class defines
them): ``on_call``/``on_cast``/``on_info``, called for what the agent does not handle
itself, and ``teardown(reason)``, called after the conversation was flushed.

Failures: an LLM error, a store error, a message that cannot be stored (an LLM reply or
tool result holding a lone surrogate: ``MessageError``, nothing of it stored) or the
deadline fails the turn (the caller gets ``TurnFailed``/``TurnTimeout``) and the agent
carries on. A tool error goes back to the
model as a tool result. Any other exception is a bug: the agent crashes, the caller gets
``AgentCrashed``, and its supervisor restarts it from the conversation it stored.

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

import asyncio
import functools
import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from agentrt.actor import NORMAL, Actor, ActorError, Caller, ExitReason
from agentrt.agent.context import AgentContext
from agentrt.agent.errors import AgentError, TurnFailed, TurnTimeout
from agentrt.agent.protocol import Passivate, Reply, Turn, TurnAccount, TurnError
from agentrt.agent.validate import check_tenant
from agentrt.deadline import earliest
from agentrt.errors import ArgumentTypeError
from agentrt.llm import (
    ChatRequest,
    ChatResponse,
    ContextLengthExceeded,
    LLMError,
    MalformedResponse,
)
from agentrt.memory import (
    QUARANTINE_EVENT,
    Conversation,
    ConversationConfig,
    CorruptSnapshot,
    StoreError,
)
from agentrt.messages import Message, MessageError, ToolCall
from agentrt.telemetry import Span
from agentrt.tokens import message_tokens
from agentrt.tools import Tool, ToolResult

__all__ = ["CONTEXT_SHRUNK_EVENT", "TURN_EVENT", "Agent"]

#: Telemetry span of each user turn (see ``agentrt.telemetry.events``).
TURN_EVENT = ("agentrt", "agent", "turn")
#: Emitted when a turn recovered from ``ContextLengthExceeded`` by shrinking its context
#: (measurements ``tokens_before``, ``tokens_after``; metadata ``agent_id``, ``model``,
#: ``error``).
CONTEXT_SHRUNK_EVENT = ("agentrt", "agent", "context_shrunk")

_log = logging.getLogger("agentrt.agent")

#: Agent hooks of the previous release and the actor hook that replaces each.
_DEPRECATED_HOOKS = {
    "on_call": "handle_call",
    "on_cast": "handle_cast",
    "on_info": "handle_info",
    "teardown": "terminate",
}

SETTINGS = frozenset(
    {
        "system_prompt",
        "model",
        "tools",
        "max_steps",
        "temperature",
        "max_tokens",
        "context_tokens",
        "turn_timeout",
        "memory",
        "tenant",
    }
)


class Agent(Actor):
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

    id: str
    ctx: AgentContext
    conversation: Conversation

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        old = sorted(name for name in _DEPRECATED_HOOKS if name in cls.__dict__)
        if old:
            new = ", ".join(f"{name} -> {_DEPRECATED_HOOKS[name]}" for name in old)
            warnings.warn(
                f"{cls.__qualname__}: Agent hooks {old} are deprecated, use the actor's: {new}",
                DeprecationWarning,
                stacklevel=2,
            )

    # -- lifecycle ---------------------------------------------------------------------------

    async def init(self, agent_id: str, ctx: AgentContext, options: Mapping[str, Any]) -> None:
        self.id = agent_id
        self.ctx = ctx
        extra = {}
        for key, value in options.items():
            if key in SETTINGS:
                setattr(self, key, value)
            else:
                extra[key] = value
        self._tool_specs = ctx.tool_specs(self.tools)
        policy = ctx.services.tools.policy
        self._cached_tools = frozenset(
            spec.name for spec in self._tool_specs if policy(spec.name).cache is not None
        )
        check_tenant(self.tenant, self._tool_specs, ctx.services.tools)
        self._stats = ctx.telemetry.agent_stats(agent_id, type(self).__qualname__)
        self._stats_on = ctx.telemetry.stats  # False: TelemetryConfig(stats=False)
        self._deadline: float | None = None
        self._closed = False
        self.conversation = await self._open_conversation()
        self._stats.bytes_source = self.conversation.memory_bytes  # read when viewed
        await self.setup(**extra)
        slot = self._slot = ctx.directory.slot_for(agent_id, type(self), options)
        slot.touch()
        slot.bind(self.ref)

    async def _open_conversation(self) -> Conversation:
        """The agent's stored conversation. A damaged one is quarantined (moved, never
        overwritten) and replaced by an empty one, or fails the start with
        ``on_corrupt="fail"`` (``ConversationConfig``); either way it is counted."""
        ctx = self.ctx
        try:
            conv = await Conversation.open(
                ctx.services.store,
                f"agent/{self.id}",
                registry=ctx.services.dictionaries,
                system=self.system_prompt,
                config=self.memory or ctx.memory,
                summarizer=ctx.summarizer,
            )
        except CorruptSnapshot:
            ctx.telemetry.corrupt_snapshots += 1
            raise
        moved = conv.quarantined
        if moved is not None:
            ctx.telemetry.corrupt_snapshots += 1
            events = ctx.telemetry.events
            if events.listening(QUARANTINE_EVENT):
                meta = {"agent_id": self.id, "conversation": moved.key}
                meta |= {"quarantine_key": moved.to, "reason": moved.reason}
                events.emit(QUARANTINE_EVENT, {"records": moved.records}, meta)
        return conv

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
        """Called once the conversation is loaded, with spawn keywords that are not agent
        settings (never positional arguments). Default: reject them (a typo should not
        pass silently). Override it with the keywords you take, e.g.
        ``async def setup(self, *, workers: list[str]) -> None`` (the ``*_`` here lets
        type checkers accept such overrides)."""
        if options:
            raise ArgumentTypeError(
                "options", f"{type(self).__qualname__} got unknown options: {sorted(options)}"
            )

    def build_context(self) -> list[Message]:
        """The messages sent to the LLM: system prompt, summary and as many recent
        messages as fit ``context_tokens``."""
        return self.conversation.context(self.context_tokens)

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
        """Turns and passivation requests; anything else crashes the agent (an unexpected
        call is a bug). Override it for your own calls and pass the rest to ``super()``."""
        if isinstance(msg, Turn):
            return await self._safe_turn(msg)
        if isinstance(msg, Passivate):
            return await self._passivate(msg)
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
                    _log.info("agent %r: reply_to %r is gone", self.id, msg.reply_to)
        elif isinstance(msg, Passivate):
            await self._passivate(msg)
        else:
            await self.on_cast(msg)

    async def handle_info(self, msg: Any) -> None:
        """Any other message, including the ``Reply``/``TurnError`` of a ``tell``.
        Default: crash (an unexpected message is a bug); override it for yours."""
        await self.on_info(msg)

    # -- the turn loop ----------------------------------------------------------------------

    async def _safe_turn(self, turn: Turn) -> Reply | TurnError:
        """Run ``respond`` under the turn's deadline; expected failures become a
        ``TurnError`` for the caller (the agent carries on), bugs crash the agent. Every
        turn is recorded in telemetry (and is a span when someone listens)."""
        slot = self._slot
        slot.touch()
        deadline = turn.deadline if turn.deadline is not None else earliest(self.turn_timeout)
        self._deadline = deadline
        telemetry = self.ctx.telemetry
        span = None
        if telemetry.events.listening(TURN_EVENT):
            span = telemetry.events.span(TURN_EVENT, self._span_metadata(turn))
        started = time.perf_counter()
        result: Reply | TurnError
        try:
            async with asyncio.timeout_at(deadline):
                result = await self.respond(turn)
        except (TimeoutError, TurnTimeout):
            result = TurnError(self.id, TurnTimeout(self.id), turn.tag)
        except (LLMError, StoreError, AgentError, MessageError) as exc:
            result = TurnError(self.id, TurnFailed(self.id, exc), turn.tag)
        except BaseException as exc:  # a crash (or a kill): recorded, then it goes on
            if self._stats_on:
                telemetry.record_turn(self._stats, time.perf_counter() - started, False)
            if span is not None:
                span.fail(exc)
            raise
        finally:
            self._deadline = None
            slot.touch()
            if turn.stream is not None:
                turn.stream.end()
        self._record(result, time.perf_counter() - started, span)
        return result

    def _span_metadata(self, turn: Turn) -> dict[str, Any]:
        return {
            "agent_id": self.id,
            "agent_class": type(self).__qualname__,
            "model": self.model,
            "streamed": turn.stream is not None,
            "parent": turn.trace,
        }

    def _record(self, result: Reply | TurnError, seconds: float, span: Span | None) -> None:
        if self._stats_on:
            stats = self._stats
            ok = isinstance(result, Reply)
            if isinstance(result, Reply):  # LLM usage: reported by the pool (its recorder)
                stats.tool_s += result.tool_seconds
                stats.tool_calls += result.tool_calls
            self.ctx.telemetry.record_turn(stats, seconds, ok)
        if span is None:
            return
        if isinstance(result, Reply):
            span.stop(
                llm_s=result.llm_seconds,
                tool_s=result.tool_seconds,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                cost=result.cost,
                steps=result.steps,
                tool_calls=result.tool_calls,
            )
        else:
            span.fail(result.error)

    def _let_go_of_stats(self) -> None:
        """The conversation is closing: its last size stays in the stats."""
        stats = self._stats
        if stats.bytes_source is not None:
            stats.bytes_held = self.conversation.memory_bytes()
            stats.bytes_source = None

    async def remember(self, *messages: Message) -> None:
        """Append ``messages`` to the conversation (timed as memory operations)."""
        started = time.perf_counter()
        if len(messages) == 1:
            await self.conversation.append(messages[0])
        else:
            await self.conversation.extend(messages)
        if self._stats_on:
            self.ctx.telemetry.memory_ops.record(time.perf_counter() - started)

    async def respond(self, turn: Turn) -> Reply:
        """Answer a user turn (called under the turn's deadline, which ``ask``/``tell``
        pass on to other agents). Default: store the user message, then the LLM loop:
        context → LLM → tools → LLM … up to ``max_steps``. Override it to answer with
        your own code (a router fanning out to workers); build the result with
        ``make_reply``. Raising ``TurnFailed``/``TurnTimeout`` (or letting another agent's
        error through) fails the turn for the caller; any other exception crashes the
        agent."""
        account = TurnAccount()
        await self.remember(Message.user(turn.content, name=turn.sender))
        deadline = self._deadline
        while True:
            response = await self._complete(turn, deadline, account)
            calls = response.tool_calls
            assistant = Message.assistant(response.content, tool_calls=calls)
            if not calls:
                await self.remember(assistant)
                return account.reply(self.id, response.content, turn)
            if account.steps >= self.max_steps:
                note = f"not run: the turn reached max_steps={self.max_steps}"
                results = [Message.tool_result(c.id, note, is_error=True) for c in calls]
                await self.remember(assistant, *results)
                return account.reply(self.id, response.content, turn, truncated=True)
            outcomes = await self._run_tools(calls, account)
            results = [r.to_message(c.id) for c, r in zip(calls, outcomes, strict=True)]
            await self.remember(assistant, *results)

    @property
    def deadline(self) -> float | None:
        """The current turn's deadline (``loop.time()``), or None outside a turn. A router
        passes workers an earlier one to keep time to fan in."""
        return self._deadline

    def make_reply(self, turn: Turn, text: str, **figures: Any) -> Reply:
        """A ``Reply`` to ``turn`` from this agent (``figures``: steps, tool_calls,
        input_tokens... as in ``Reply``); for ``respond`` overrides."""
        figures.setdefault("steps", 0)
        return Reply(agent_id=self.id, text=text, tag=turn.tag, **figures)

    async def _complete(
        self, turn: Turn, deadline: float | None, account: TurnAccount
    ) -> ChatResponse:
        """One LLM call. When the model answers ``ContextLengthExceeded``, the turn
        recovers once: the context shrinks to half the tokens that were refused (system
        prompt + summary + a smaller recent window), the call is retried, and the rest of
        the turn keeps that budget; an event is recorded. A second refusal fails the turn."""
        started = time.perf_counter()
        if account.budget is None:
            context = tuple(self.build_context())
        else:
            context = tuple(self.conversation.context(account.budget))
        if self._stats_on:
            self.ctx.telemetry.memory_ops.record(time.perf_counter() - started)
        try:
            return await self._call_llm(turn, deadline, account, context)
        except ContextLengthExceeded as exc:
            if account.budget is not None:
                raise
            refused = sum(message_tokens(m) for m in context)
            account.budget = refused // 2
            smaller = tuple(self.conversation.context(account.budget))
            self._context_shrunk(exc, refused, sum(message_tokens(m) for m in smaller))
            return await self._call_llm(turn, deadline, account, smaller)

    def _context_shrunk(self, exc: ContextLengthExceeded, before: int, after: int) -> None:
        _log.info(
            "agent %r: context too long (%s); retrying with %d of %d tokens",
            self.id,
            exc.problem,
            after,
            before,
        )
        events = self.ctx.telemetry.events
        if events.listening(CONTEXT_SHRUNK_EVENT):
            events.emit(
                CONTEXT_SHRUNK_EVENT,
                {"tokens_before": before, "tokens_after": after},
                {"agent_id": self.id, "model": self.model, "error": str(exc)},
            )

    async def _call_llm(
        self,
        turn: Turn,
        deadline: float | None,
        account: TurnAccount,
        context: tuple[Message, ...],
    ) -> ChatResponse:
        request = ChatRequest(
            model=self.model,
            messages=context,
            tools=self._tool_specs,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        llm = self.ctx.services.llm
        if turn.stream is None:
            response = await llm.chat(request, agent_id=self.id, deadline=deadline)
        else:
            async with llm.stream(request, agent_id=self.id, deadline=deadline) as stream:
                async for chunk in stream:
                    if chunk.delta:
                        await turn.stream.put(chunk.delta)
                streamed = stream.response
            if streamed is None:  # the pool raises on truncated streams; belt and braces
                raise MalformedResponse("stream", "ended without a final response")
            response = streamed
        account.llm += loop.time() - started
        account.steps += 1
        account.input_tokens += response.usage.input_tokens
        account.output_tokens += response.usage.output_tokens
        account.cost += response.cost
        return response

    async def _run_tools(self, calls: Sequence[ToolCall], account: TurnAccount) -> list[ToolResult]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        registry = self.ctx.services.tools
        run = functools.partial(
            registry.call, agent_id=self.id, tenant_id=self.tenant, deadline=self._deadline
        )
        if len(calls) == 1:
            outcomes = [await run(calls[0])]
        else:
            outcomes = list(await asyncio.gather(*map(run, calls)))
        account.tools += loop.time() - started
        account.tool_calls += len(calls)
        cacheable = self._cached_tools
        if cacheable and self._stats_on:
            stats = self._stats
            for call, outcome in zip(calls, outcomes, strict=True):
                if call.name in cacheable:
                    if outcome.cached:
                        stats.cache_hits += 1
                    else:
                        stats.cache_misses += 1
        return outcomes

    # -- passivation --------------------------------------------------------------------------

    async def _passivate(self, msg: Passivate) -> bool:
        """Save the conversation and stop; refused (False) when messages are waiting."""
        if not msg.force:
            if self.ref.stats().depth > 0:
                return False
            if msg.idle_before is not None and self._slot.last_active > msg.idle_before:
                return False
        self._slot.passive = True
        self._closed = True
        self._let_go_of_stats()
        await self.conversation.aclose()
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
