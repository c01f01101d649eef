"""``BridgeAgent``: the part every framework bridge shares (private).

A bridge agent is an ordinary ``Agent`` (supervised, passivated when idle, counted in
telemetry, fed through its mailbox) whose ``respond`` runs another framework's agent
instead of agentrt's own LLM loop. What it shares across frameworks:

- the framework object (a compiled graph, an Agents SDK ``Agent``, a pydantic-ai
  ``Agent``) is built once per agent class and per ``LLMPool`` by the class's ``build``,
  given a model adapter on that pool (``make_model``), and shared by all its agents;
- each turn runs in a ``BridgeScope``, so the adapter's calls carry the agent's id,
  deadline, tenant and cache policy, and their cost lands in the ``Reply``;
- the history a framework sees is the agent's stored conversation (``build_context()``
  without the agent's own system prompt: the framework brings its instructions);
- what the turn said is appended to the conversation: the user message first (before
  the framework runs, as agentrt's own loop does: a failed turn keeps it), then the
  model's tool calls with their results and the answer, so passivation, restarts, summaries, the
  store and ``rt`` views work as for any agent;
- an ``LLMError`` the framework wrapped in its own exception fails the turn as
  ``TurnFailed(cause=<the LLMError>)``, as agentrt's own loop does; so does one of the
  framework's own run errors (``turn_errors``: the model misbehaved, a usage or turn
  limit was hit); any other exception from the framework is a bug and crashes the agent
  (its supervisor restarts it).

A streamed turn (``rt.stream``) streams every model call the framework makes from the
pool, whichever framework it is (``pool_chat`` forwards the text deltas as the provider
sends them; the framework still receives whole responses, so its own streaming API is not
needed). When no call produced text (e.g. a structured output given as a tool call), the
final answer is sent as one delta.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from agentrt.agent import Agent, Reply, Turn, TurnFailed
from agentrt.bridges._scope import BridgeScope, bridge_scope
from agentrt.llm import LLMError, LLMPool
from agentrt.messages import Message

__all__ = ["BridgeAgent", "BridgeResult", "llm_error_in", "output_text"]


@dataclass(frozen=True, slots=True)
class BridgeResult:
    """What ``run_framework`` returns: the answer's text, the messages to append to the
    conversation after the user message (empty when the framework stored them itself)
    and how many tool calls the framework ran."""

    text: str
    messages: Sequence[Message] = ()
    tool_calls: int = 0


class BridgeAgent(Agent):
    """Base of the framework bridges (see the module docs). Subclasses implement
    ``make_model`` and ``run_framework``; users subclass those and implement ``build``."""

    #: the framework's exceptions that fail the turn (``TurnFailed(cause=exc)``) rather
    #: than crash the agent; set by each bridge
    turn_errors: ClassVar[tuple[type[Exception], ...]] = ()
    #: True when the framework stores the user message itself (an Agents SDK session)
    stores_input: ClassVar[bool] = False
    _built: ClassVar[WeakKeyDictionary[LLMPool, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._built = WeakKeyDictionary()  # per class: a subclass builds its own

    @classmethod
    def make_model(cls, pool: LLMPool) -> Any:
        """The framework's model object on ``pool`` (implemented by each bridge)."""
        raise NotImplementedError(f"{cls.__qualname__} must implement make_model")

    @classmethod
    def build(cls, model: Any) -> Any:
        """The framework object this agent class runs, built on ``model`` (the pool's
        adapter). Called once per class and pool, then shared by the class's agents.
        Override it; the default raises ``NotImplementedError``."""
        raise NotImplementedError(f"{cls.__qualname__} must implement build(model)")

    def framework(self) -> Any:
        """This class's framework object for the runtime's pool (built on first use)."""
        pool = self.ctx.services.llm
        built = type(self)._built
        found = built.get(pool)
        if found is None:
            found = built[pool] = type(self).build(type(self).make_model(pool))
        return found

    def framework_history(self) -> list[Message]:
        """The conversation as the framework should see it: ``build_context()`` (summary
        and the recent messages that fit ``context_tokens``) without the agent's own
        system prompt."""
        context = self.build_context()
        system = self.conversation.system
        if context and system is not None and context[0] is system:
            del context[0]
        return context

    async def run_framework(self, turn: Turn, history: list[Message]) -> BridgeResult:
        """Run the framework on ``turn`` given ``history`` (implemented by each bridge)."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement run_framework")

    async def respond(self, turn: Turn) -> Reply:
        """Run the framework on ``turn`` with the pool's scope set, append what was said to
        the conversation and reply with the answer and what its LLM calls cost."""
        scope = BridgeScope(
            pool=self.ctx.services.llm,
            agent_id=self.id,
            model=self.model,
            deadline=self.deadline,
            tenant=self.tenant,
            cache=self.llm_cache,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stream=turn.stream,
            tools=self.ctx.services.tools,
        )
        history = self.framework_history()
        if not self.stores_input:
            await self.remember_turn(turn)  # once per cluster message id
        with bridge_scope(scope):
            try:
                result = await self.run_framework(turn, history)
            except (LLMError, TurnFailed):
                raise
            except Exception as exc:
                cause = llm_error_in(exc)
                if cause is not None:
                    raise TurnFailed(self.id, cause) from exc
                if isinstance(exc, self.turn_errors):
                    raise TurnFailed(self.id, exc) from exc
                raise
        if result.messages:
            await self.remember(*result.messages)
        if turn.stream is not None and result.text and not scope.streamed:
            await turn.stream.put(result.text)
        account = scope.account
        account.tool_calls += result.tool_calls
        return account.reply(self.id, result.text, turn)


def output_text(output: object) -> str:
    """A framework run's final output as reply text: a string as it is, a pydantic model
    as its JSON, anything else as JSON (``str`` for what JSON cannot hold)."""
    if isinstance(output, str):
        return output
    dump = getattr(output, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    return json.dumps(output, default=str)


def llm_error_in(exc: BaseException) -> LLMError | None:
    """The ``LLMError`` a framework wrapped ``exc`` around (its cause/context chain, or
    an exception group's members), or None."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, LLMError):
            return current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None
