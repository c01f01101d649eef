"""The default ``Summarizer``: condenses old conversation chunks through the LLM pool.

It runs in the background (the memory layer schedules it, never on the reply path) at
``Priority.BACKGROUND``, so a user waiting on a reply always goes first, and at
temperature 0. Summaries are attributed to the agent id ``"<summarizer>"`` in the pool's
accounting.

Example::

    summarizer = LLMSummarizer(lambda: pool, model="gpt-4o-mini")
    conversation = Conversation(registry=registry, summarizer=summarizer)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agentrt.llm import ChatRequest, LLMPool, Priority
from agentrt.messages import Message

__all__ = ["LLMSummarizer"]

PROMPT = (
    "You maintain the running summary of a conversation between a user and an assistant. "
    "Merge the previous summary (if any) with the new messages into one summary that keeps "
    "facts, decisions, names, numbers, open questions and tool results the assistant may "
    "need later. Write plain sentences, at most 200 words."
)


def transcript(messages: Sequence[Message], limit_chars: int = 24_000) -> str:
    """The messages as ``role: content`` lines (tool calls and results included), cut to
    the last ``limit_chars`` characters."""
    lines = []
    for m in messages:
        who = m.role if not m.name else f"{m.role} ({m.name})"
        text = m.text
        if images := m.images:
            text = f"{text} [{len(images)} image(s)]".strip()
        if m.tool_calls:
            calls = ", ".join(f"{c.name}({c.arguments})" for c in m.tool_calls)
            text = f"{text} [calls {calls}]".strip()
        lines.append(f"{who}: {text}")
    out = "\n".join(lines)
    return out[-limit_chars:]


class LLMSummarizer:
    """A ``Summarizer`` that asks ``model`` through the pool returned by ``pool()``.

    ``pool`` is a callable so that the summarizer follows the runtime's current pool.
    """

    def __init__(self, pool: Callable[[], LLMPool], *, model: str, max_tokens: int = 400) -> None:
        self._pool = pool
        self.model = model
        self.max_tokens = max_tokens

    async def __call__(self, messages: Sequence[Message], previous: str | None, /) -> str:
        body = transcript(messages)
        if previous:
            body = f"Previous summary:\n{previous}\n\nNew messages:\n{body}"
        request = ChatRequest(
            model=self.model,
            messages=(Message.system(PROMPT), Message.user(body)),
            temperature=0,
            max_tokens=self.max_tokens,
        )
        response = await self._pool().chat(
            request, agent_id="<summarizer>", priority=Priority.BACKGROUND
        )
        return response.content
