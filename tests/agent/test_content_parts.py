"""Content parts at the runtime's boundary (issue 14 §4): ``ask``/``stream``/``send_turn``
take text and images; bad parts are refused naming the field, before anything is stored;
a turn with parts goes over real HTTP to the mock and is stored exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.agents import Chatty, fast_config

from agentrt.agent import Reply, Turn
from agentrt.llm import PoolConfig, ProviderConfig
from agentrt.messages import (
    ImagePart,
    Message,
    MessageTypeError,
    MessageValueError,
    TextPart,
    check_message,
)
from agentrt.runtime import Runtime, StoreConfig
from agentrt.testing import serve_mock_llm

PNG = "data:image/png;base64,iVBORw0KGgo="
BAD: list[tuple[Any, type[Exception], str]] = [
    ([TextPart("hi"), ImagePart("ftp://x.test/a.png")], MessageValueError, r"text\[1\]\.url"),
    ([ImagePart("javascript:alert(1)")], MessageValueError, r"text\[0\]\.url"),
    ([ImagePart("https://")], MessageValueError, r"text\[0\]\.url: not a valid"),
    ([ImagePart("https://x.test/a b.png")], MessageValueError, r"text\[0\]\.url: not a valid"),
    ([ImagePart("data:text/html;base64,PGI+")], MessageValueError, r"text\[0\]\.url: a data"),
    ([ImagePart("data:image/png,rawbytes")], MessageValueError, r"text\[0\]\.url: a data"),
    ([ImagePart("https://x.test/a.png", "huge")], MessageValueError, r"text\[0\]\.detail"),  # type: ignore[arg-type]
    ([ImagePart(None)], MessageTypeError, r"text\[0\]\.url: expected str"),  # type: ignore[arg-type]
    ([TextPart("x \ud800")], MessageValueError, r"text\[0\]\.text: lone surrogate"),
    ([TextPart(7)], MessageTypeError, r"text\[0\]\.text: expected str"),  # type: ignore[arg-type]
    ([{"type": "text", "text": "hi"}], MessageTypeError, r"text\[0\]: expected a TextPart"),
    ([], MessageValueError, r"text: must hold at least one part"),
]


@pytest.mark.parametrize(("bad", "error", "problem"), BAD)
async def test_bad_parts_are_refused_at_every_entry_naming_the_field(
    tmp_path: Path, bad: Any, error: type[Exception], problem: str
) -> None:
    cfg = replace(fast_config(), store=StoreConfig(kind="sqlite", path=str(tmp_path / "a.db")))
    async with Runtime(cfg) as rt:
        await rt.spawn(Chatty, id="a")
        await rt.ask("a", "keep me")
        with pytest.raises(error, match=problem):
            await rt.ask("a", bad)
        with pytest.raises(error, match=problem):
            await rt.send_turn("a", bad, reply_to=None, sender=None, deadline=None, tag=None)
        with pytest.raises(error, match=problem):
            async for _ in rt.stream("a", bad):
                pass
        history = await rt.call("a", "history")
        assert [m.content for m in history] == ["keep me", "echo: keep me"]
        assert rt.turn_stats().accepted == 1


def test_stored_messages_are_checked_too() -> None:
    check_message(Message.user((TextPart("a"), ImagePart(PNG, detail="high"))))
    with pytest.raises(MessageValueError, match=r"message\.content\[0\]: images belong in user"):
        check_message(Message(role="assistant", content=(ImagePart(PNG),)))
    with pytest.raises(MessageTypeError, match=r"message\.content: expected str or a tuple"):
        check_message(Message(role="user", content=[TextPart("a")]))  # type: ignore[arg-type]
    # a list given to Message.user is stored as a tuple
    assert Message.user([TextPart("a")]).content == (TextPart("a"),)
    assert Message.user([TextPart("a"), ImagePart(PNG), TextPart("b")]).text == "a\nb"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_a_turn_with_parts_goes_over_http_and_is_stored_exactly(
    tmp_path: Path, kind: str
) -> None:
    parts = [TextPart("Describe it."), ImagePart("https://img.test/a.png", detail="low")]
    async with serve_mock_llm() as server:
        provider = ProviderConfig(name="local", kind=kind, base_urls=(server.url,))  # type: ignore[arg-type]
        store = StoreConfig(kind="sqlite", path=str(tmp_path / "a.db"))
        cfg = replace(fast_config(), llm=PoolConfig(providers=(provider,)), store=store)
        async with Runtime(cfg) as rt:
            await rt.spawn(Chatty, id="a")
            reply = await rt.ask("a", parts, sender="ann")
            streamed = rt.stream("a", (TextPart("again"),))
            deltas = [d async for d in streamed]
            await rt.passivate("a")
            history = await rt.call("a", "history")  # read back from SQLite
    label = "low" if kind == "openai" else "url"
    assert reply.text == f"echo: Describe it.\n[image {label}]"
    assert "".join(deltas) == "echo: again"
    assert (history[0].role, history[0].content, history[0].name) == ("user", tuple(parts), "ann")
    assert history[2].content == (TextPart("again"),)


class Seer(Chatty):
    """Answers with what its ``respond`` was handed."""

    async def respond(self, turn: Turn) -> Reply:
        return self.make_reply(turn, f"{turn.text!r} {len(turn.parts)} parts")


async def test_a_respond_override_reads_the_text_and_the_parts() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn(Seer, id="s")
        parts = (TextPart("a"), ImagePart(PNG), TextPart("b"))
        assert (await rt.ask("s", list(parts))).text == "'a\\nb' 3 parts"
        assert (await rt.ask("s", "plain")).text == "'plain' 0 parts"
