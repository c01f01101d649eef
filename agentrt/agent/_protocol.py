"""Messages between callers and agents: turns, replies, streamed chunks.

A user turn is a ``Turn`` sent with ``call``; the reply is a ``Reply``. A streamed turn
carries a ``StreamSink``: the agent puts text deltas into it as the LLM produces them and
the caller reads them concurrently (``Runtime.stream`` does both halves). A turn sent with
``cast`` and a ``reply_to`` ref delivers its ``Reply`` (or ``TurnError``) to that actor's
``handle_info``: how agents chain work without waiting (pipelines, fan-out).

Deadlines are absolute times on the event loop's clock (``loop.time()``), so they
propagate unchanged from agent to agent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentrt.actor import ActorRef
from agentrt.messages import Content, ContentPart

if TYPE_CHECKING:
    from agentrt.llm import ChatResponse

__all__ = ["History", "Passivate", "Reply", "StreamSink", "Turn", "TurnError"]


class StreamSink:
    """A bounded channel of text deltas from an agent to one reader.

    ``put`` waits while the reader is ``maxsize`` chunks behind (backpressure), and drops
    chunks once the reader has gone (``close_reader``). ``None`` marks the end.
    """

    __slots__ = ("_closed", "_queue")

    def __init__(self, maxsize: int = 64) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize)
        self._closed = False

    async def put(self, delta: str) -> None:
        """Deliver one delta (no-op once the reader went away)."""
        if not self._closed:
            await self._queue.put(delta)

    def end(self) -> None:
        """Mark the end of the stream (never blocks)."""
        if self._closed:
            return
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:  # the reader will see the end after draining
            self._closed = True

    async def get(self) -> str | None:
        """The next delta, or None at the end."""
        if self._closed and self._queue.empty():
            return None
        return await self._queue.get()

    def close_reader(self) -> None:
        """The reader stopped reading: later ``put``s are dropped."""
        self._closed = True
        while not self._queue.empty():
            self._queue.get_nowait()


@dataclass(frozen=True, slots=True)
class Turn:
    """A user (or agent) message to answer.

    - ``text``: the message's text (for a turn sent as content parts, its text parts
      joined by newlines).
    - ``deadline``: absolute ``loop.time()`` by which the reply is due (None: the agent's
      ``turn_timeout``).
    - ``sender``: who speaks (a user name or the calling agent's id), recorded as the
      message's ``name``.
    - ``stream``: deliver text deltas here as they are produced.
    - ``reply_to``: with ``cast``, send the ``Reply``/``TurnError`` to this actor.
    - ``tag``: any value echoed back in the ``Reply`` (to match replies to requests).
    - ``trace``: the caller's trace context (opaque; set by the runtime while a tracing
      exporter is attached), the parent of the agent's turn span.
    - ``parts``: the content parts (``TextPart``, ``ImagePart``) when the turn was sent
      as parts, checked by the runtime; empty for a text turn. The user message stored
      is ``parts`` when there are some, else ``text`` (:attr:`content`).
    - ``msg_id``: the turn's cross-node message id (cluster mode sets it on a turn that
      came over the wire; None for a local turn). The default ``Agent.respond`` stores
      the user message once per id (``Conversation.append_user``): a turn run again by
      a new owner after its node died continues from what was stored.
    """

    text: str
    deadline: float | None = None
    sender: str | None = None
    stream: StreamSink | None = None
    reply_to: ActorRef | None = None
    tag: Any = None
    trace: Any = None
    parts: tuple[ContentPart, ...] = ()
    msg_id: str | None = None

    @property
    def content(self) -> Content:
        """What the user message stores: the parts when given, else the text."""
        return self.parts or self.text


@dataclass(frozen=True, slots=True)
class Reply:
    """An agent's answer to a turn, with what it cost.

    ``steps`` LLM calls were made and ``tool_calls`` tools run; ``truncated`` is True when
    ``max_steps`` ended the loop while the model still wanted tools. Times are seconds
    spent waiting for the LLM and for tools.
    """

    agent_id: str
    text: str
    steps: int = 1
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    llm_seconds: float = 0.0
    tool_seconds: float = 0.0
    truncated: bool = False
    tag: Any = None


@dataclass(frozen=True, slots=True)
class TurnError:
    """A failed turn, returned by the agent instead of crashing (the caller re-raises
    ``error``), or delivered to a ``reply_to`` actor."""

    agent_id: str
    error: BaseException
    tag: Any = None


@dataclass(frozen=True, slots=True)
class Passivate:
    """Ask an agent to save its conversation and stop. Refused (the agent answers False)
    when messages are waiting or, with ``idle_before``, when it was active after that
    loop time; ``force`` skips both checks."""

    idle_before: float | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class History:
    """Ask an agent (with ``call``) for its stored conversation: the answer is the list
    of its ``Message``s from index ``start`` on, system prompt included, read after every
    turn queued before this request (``Runtime.history``)."""

    start: int = 0


class TurnAccount:
    """What one turn spent so far (the agent's turn loop adds to it, then ``reply``)."""

    __slots__ = (
        "budget",
        "cost",
        "input_tokens",
        "llm",
        "output_tokens",
        "steps",
        "tool_calls",
        "tools",
    )

    def __init__(self) -> None:
        self.steps = self.tool_calls = self.input_tokens = self.output_tokens = 0
        self.cost = self.llm = self.tools = 0.0
        self.budget: int | None = None  # set once the model refused the context as too long

    def add_llm(self, response: ChatResponse, seconds: float) -> None:
        """Count one LLM call that took ``seconds`` and answered ``response``."""
        self.llm += seconds
        self.steps += 1
        self.input_tokens += response.usage.input_tokens
        self.output_tokens += response.usage.output_tokens
        self.cost += response.cost

    def reply(self, agent_id: str, text: str, turn: Turn, truncated: bool = False) -> Reply:
        return Reply(
            agent_id=agent_id,
            text=text,
            steps=self.steps,
            tool_calls=self.tool_calls,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost=self.cost,
            llm_seconds=self.llm,
            tool_seconds=self.tools,
            truncated=truncated,
            tag=turn.tag,
        )
