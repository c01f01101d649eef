"""The turn loop of an agent: a user turn → context → LLM → tools → LLM … (private).

``TurnLoop`` is the part of ``Agent`` that answers turns: ``_safe_turn`` runs
``respond`` under the turn's deadline, turns expected failures into a ``TurnError`` for
the caller and records every turn in telemetry; ``respond``'s default is the LLM loop
(``_complete`` → ``_call_llm``, tools through ``_run_tools``), which recovers once from
``ContextLengthExceeded`` by shrinking the context. ``Agent`` (``agentrt.agent._agent``)
owns the settings, the lifecycle and the messages; the hooks it documents
(``respond``, ``build_context``, ``remember``, ``make_reply``, ``deadline``) live here.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from agentrt.agent._context import AgentContext, AgentSlot
from agentrt.agent._errors import AgentError, TurnFailed, TurnTimeout
from agentrt.agent._protocol import Reply, Turn, TurnAccount, TurnError
from agentrt.deadline import earliest
from agentrt.llm import (
    ChatRequest,
    ChatResponse,
    ContextLengthExceeded,
    LLMError,
    MalformedResponse,
    ResponseCachePolicy,
    ToolSpec,
)
from agentrt.memory import Conversation, StoreError
from agentrt.messages import Message, MessageError, ToolCall
from agentrt.telemetry import AgentStats, Span
from agentrt.telemetry._logs import next_turn_id, turn_context
from agentrt.tokens import message_tokens
from agentrt.tools import ToolResult

__all__ = ["CONTEXT_SHRUNK_EVENT", "TURN_EVENT", "TurnLoop"]

#: Telemetry span of each user turn (see ``agentrt.telemetry._events``).
TURN_EVENT = ("agentrt", "agent", "turn")
#: Emitted when a turn recovered from ``ContextLengthExceeded`` by shrinking its context
#: (measurements ``tokens_before``, ``tokens_after``; metadata ``agent_id``, ``model``,
#: ``error``).
CONTEXT_SHRUNK_EVENT = ("agentrt", "agent", "context_shrunk")

_log = logging.getLogger("agentrt.agent")


class TurnLoop:
    """How an agent answers a turn (mixed into ``Agent``; see the module docs)."""

    # settings and state that ``Agent`` provides
    model: ClassVar[str]
    max_steps: ClassVar[int]
    temperature: ClassVar[float | None]
    max_tokens: ClassVar[int | None]
    context_tokens: ClassVar[int]
    turn_timeout: ClassVar[float]
    tenant: ClassVar[str | None]
    llm_cache: ClassVar[ResponseCachePolicy | None]
    id: str
    ctx: AgentContext
    conversation: Conversation
    _slot: AgentSlot
    _stats: AgentStats
    _stats_on: bool
    _deadline: float | None
    #: the current turn's steps for ``Telemetry.turn_log`` (None outside a turn, or when
    #: stats are off)
    _steps: list[tuple[Any, ...]] | None = None
    _tool_specs: tuple[ToolSpec, ...]
    _cached_tools: frozenset[str]

    def build_context(self) -> list[Message]:
        """The messages sent to the LLM: system prompt, summary and as many recent
        messages as fit ``context_tokens``."""
        return self.conversation.context(self.context_tokens)

    # -- the turn loop ----------------------------------------------------------------------

    async def _safe_turn(self, turn: Turn) -> Reply | TurnError:
        """Run ``respond`` under the turn's deadline; expected failures become a
        ``TurnError`` for the caller (the agent carries on), bugs crash the agent. Every
        turn is recorded in telemetry (and is a span when someone listens)."""
        slot = self._slot
        slot.touch()
        deadline = turn.deadline if turn.deadline is not None else earliest(self.turn_timeout)
        self._deadline = deadline
        steps: list[tuple[Any, ...]] | None = [] if self._stats_on else None
        self._steps = steps
        telemetry = self.ctx.telemetry
        span = None
        if telemetry.events.listening(TURN_EVENT):
            span = telemetry.events.span(TURN_EVENT, self._span_metadata(turn))
        started = time.perf_counter()
        result: Reply | TurnError
        # log records of this turn carry its agent, turn id and model (LogContextFilter)
        logged = turn_context.set((self.id, next_turn_id(), self.model))
        try:
            async with asyncio.timeout_at(deadline):
                result = await self.respond(turn)
        except (TimeoutError, TurnTimeout):
            result = TurnError(self.id, TurnTimeout(self.id), turn.tag)
        except (LLMError, StoreError, AgentError, MessageError) as exc:
            result = TurnError(self.id, TurnFailed(self.id, exc), turn.tag)
        except BaseException as exc:  # a crash (or a kill): recorded, then it goes on
            if self._stats_on:
                seconds = time.perf_counter() - started
                telemetry.record_turn(self._stats, seconds, False)
                telemetry.turn_log.record(
                    self.id, seconds, False, tuple(steps or ()), type(exc).__name__
                )
            if span is not None:
                span.fail(exc)
            raise
        finally:
            turn_context.reset(logged)
            self._deadline = None
            self._steps = None
            slot.touch()
            if turn.stream is not None:
                turn.stream.end()
        self._record(result, time.perf_counter() - started, span, steps)
        return result

    def _span_metadata(self, turn: Turn) -> dict[str, Any]:
        return {
            "agent_id": self.id,
            "agent_class": type(self).__qualname__,
            "model": self.model,
            "streamed": turn.stream is not None,
            "parent": turn.trace,
        }

    def _record(
        self,
        result: Reply | TurnError,
        seconds: float,
        span: Span | None,
        steps: list[tuple[Any, ...]] | None,
    ) -> None:
        if self._stats_on:
            stats = self._stats
            ok = isinstance(result, Reply)
            if isinstance(result, Reply):  # LLM usage: reported by the pool (its recorder)
                stats.tool_s += result.tool_seconds
                stats.tool_calls += result.tool_calls
            telemetry = self.ctx.telemetry
            telemetry.record_turn(stats, seconds, ok)
            error = None if isinstance(result, Reply) else type(result.error).__name__
            telemetry.turn_log.record(self.id, seconds, ok, tuple(steps or ()), error)
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

    async def remember(self, *messages: Message) -> None:
        """Append ``messages`` to the conversation (timed as memory operations)."""
        started = time.perf_counter()
        if len(messages) == 1:
            await self.conversation.append(messages[0])
        else:
            await self.conversation.extend(messages)
        if self._stats_on:
            self.ctx.telemetry.memory_ops.record(time.perf_counter() - started)

    async def remember_turn(self, turn: Turn) -> bool:
        """Append ``turn``'s user message (its content, named by its sender) as
        :meth:`remember` does, once per ``turn.msg_id`` (``Conversation.append_user``):
        False, appending nothing, when a turn with that id stored it already (cluster
        mode: the turn runs again on a new owner after its node died). A turn without
        ``msg_id`` (a local one) is always appended. For ``respond`` overrides."""
        asked = Message.user(turn.content, name=turn.sender)
        if turn.msg_id is None:
            await self.remember(asked)
            return True
        started = time.perf_counter()
        added = await self.conversation.append_user(asked, turn.msg_id)
        if self._stats_on:
            self.ctx.telemetry.memory_ops.record(time.perf_counter() - started)
        return added

    async def _stored_answer(self) -> str | None:
        """The final answer stored after the re-run turn's user message (the latest
        message, an assistant one without tool calls), else None (the turn goes on from
        the stored messages)."""
        tail = await self.conversation.history(-1)
        last = tail[-1] if tail else None
        if last is None or last.role != "assistant" or last.tool_calls:
            return None
        return last.text

    async def respond(self, turn: Turn) -> Reply:
        """Answer a user turn (called under the turn's deadline, which ``ask``/``tell``
        pass on to other agents). Default: store the user message, then the LLM loop:
        context → LLM → tools → LLM … up to ``max_steps``. A turn with a ``msg_id``
        (cluster mode) stores its user message once per id: run again by a new owner
        after its node died, it goes on from the stored messages (or returns the final
        answer already stored, without calling the LLM). Override it to answer with
        your own code (a router fanning out to workers); build the result with
        ``make_reply``. Raising ``TurnFailed``/``TurnTimeout`` (or letting another agent's
        error through) fails the turn for the caller; any other exception crashes the
        agent."""
        account = TurnAccount()
        if not await self.remember_turn(turn):
            done = await self._stored_answer()
            if done is not None:  # its node died after storing the answer: not run again
                return account.reply(self.id, done, turn)
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
            response = await llm.chat(
                request,
                agent_id=self.id,
                deadline=deadline,
                cache=self.llm_cache,
                tenant_id=self.tenant,
            )
        else:
            async with llm.stream(request, agent_id=self.id, deadline=deadline) as stream:
                async for chunk in stream:
                    if chunk.delta:
                        await turn.stream.put(chunk.delta)
                streamed = stream.response
            if streamed is None:  # the pool raises on truncated streams; belt and braces
                raise MalformedResponse("stream", "ended without a final response")
            response = streamed
        took = loop.time() - started
        account.add_llm(response, took)
        if self._steps is not None:
            usage = response.usage
            self._steps.append(("llm", self.model, took, usage.input_tokens, usage.output_tokens))
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
        took = loop.time() - started
        account.tools += took
        account.tool_calls += len(calls)
        if self._steps is not None:
            self._steps.extend(("tool", o.tool, took, o.ok) for o in outcomes)
        if self._stats_on:  # the node-wide tool_p90_s figure: concurrent calls end together
            record = self.ctx.telemetry.tool_calls.record
            for _ in calls:
                record(took)
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
