"""Hypothesis strategies for the memory tests."""

from __future__ import annotations

from hypothesis import strategies as st

from agentrt.messages import ImagePart, Message, TextPart, ToolCall

text = st.text(st.characters(codec="utf-8"), max_size=60)
tool_calls = st.lists(
    st.builds(ToolCall, st.text(min_size=1, max_size=8), st.text(max_size=8), text),
    max_size=2,
).map(tuple)

images = st.builds(
    ImagePart,
    st.sampled_from(
        ["https://img.test/a.png", "http://x.test/p?q=1", "data:image/png;base64,iVB="]
    ),
    st.sampled_from(["auto", "low", "high"]),
)
parts = st.lists(st.one_of(st.builds(TextPart, text), images), min_size=1, max_size=4).map(tuple)

messages = st.one_of(
    st.builds(Message.user, text),
    st.builds(Message.user, parts, name=st.none() | st.text(max_size=8)),
    st.builds(Message.system, text),
    st.builds(Message.assistant, text, tool_calls=tool_calls),
    st.builds(Message.tool_result, st.text(max_size=8), text, is_error=st.booleans()),
    st.builds(
        Message,
        role=st.sampled_from(["system", "user", "assistant", "tool"]),
        content=text,
        name=st.none() | st.text(max_size=8),
        timestamp=st.floats(0, 2e9, allow_nan=False),
        tokens=st.integers(0, 10_000),
    ),
)
