"""The deterministic replies of the mock provider and the mock HTTP server.

Both mocks answer the same way, so a test or demo behaves identically in process and
over real HTTP. The reply depends only on the last message and the offered tools:

- last message is a tool result -> ``"tool result: <its content>"``, finish ``stop``;
- the user text contains ``[[tool:NAME {json args}]]`` and a tool ``NAME`` is offered ->
  one tool call per directive (ids ``call_<n>_<hash>``), finish ``tool_calls``;
- the user text contains ``[[words:N]]`` -> ``N`` words ``w1 w2 ... wN`` (long replies,
  many stream chunks);
- the user text contains ``[[reply:TEXT]]`` -> exactly ``TEXT``;
- otherwise -> ``"echo: <last user text>"``.

The last user text of a message with content parts is its text parts joined by newlines,
then ``[image <detail>]`` for each image (:func:`parts_text`), so an echo shows what
arrived: ``"echo: What is this?\n[image low]"``.

Example::

    >>> mock_reply("user", "[[tool:weather {\\"city\\": \\"Paris\\"}]]", ("weather",)).finish
    'tool_calls'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agentrt.messages import ToolCall

__all__ = ["MockReply", "mock_embedding", "mock_reply", "parts_text"]

_TOOL = re.compile(r"\[\[tool:([A-Za-z0-9_.-]+)(?:\s+(\{.*?\}))?\]\]", re.DOTALL)
_WORDS = re.compile(r"\[\[words:(\d{1,6})\]\]")
_REPLY = re.compile(r"\[\[reply:(.*?)\]\]", re.DOTALL)


@dataclass(frozen=True, slots=True)
class MockReply:
    """What a mock answers: text, tool calls and the finish reason."""

    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish: str = "stop"


def parts_text(texts: Sequence[str], image_details: Sequence[str]) -> str:
    """The text a mock reads from a message with content parts (see the module docstring).

    >>> parts_text(["What is this?"], ["low"])
    'What is this?\n[image low]'
    """
    return "\n".join([*texts, *(f"[image {d}]" for d in image_details)])


def _call_id(index: int, text: str) -> str:
    digest = hashlib.blake2b(f"{index}:{text}".encode(), digest_size=4).hexdigest()
    return f"call_{index}_{digest}"


def mock_reply(last_role: str, last_content: str, tool_names: Sequence[str]) -> MockReply:
    """The deterministic reply to a conversation whose last turn is given."""
    if last_role == "tool":
        return MockReply(f"tool result: {last_content}")
    calls = tuple(
        ToolCall(_call_id(i, last_content), name, args or "{}")
        for i, (name, args) in enumerate(_TOOL.findall(last_content))
        if name in tool_names
    )
    if calls:
        return MockReply("", calls, "tool_calls")
    if words := _WORDS.search(last_content):
        count = int(words.group(1))
        return MockReply(" ".join(f"w{i}" for i in range(1, count + 1)))
    if reply := _REPLY.search(last_content):
        return MockReply(reply.group(1))
    return MockReply(f"echo: {last_content}")


def mock_embedding(text: str, dim: int) -> list[float]:
    """A deterministic unit-free vector of ``dim`` floats in [-1, 1) derived from ``text``."""
    out: list[float] = []
    counter = 0
    while len(out) < dim:
        digest = hashlib.blake2b(f"{counter}:{text}".encode(), digest_size=64).digest()
        out.extend((b - 128) / 128 for b in digest)
        counter += 1
    return out[:dim]
