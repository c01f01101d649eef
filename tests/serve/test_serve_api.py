"""``agentrt serve`` through the official ``openai`` SDK and raw HTTP: JSON answers,
SSE streams chunk by chunk, usage, model listing and resent histories."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest
from support.serving import Gate, Serving

from agentrt import Agent, Reply
from agentrt.agent import Turn
from agentrt.serve import ServeConfig


def client(server: Any, **kw: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=server.url, api_key=kw.pop("api_key", "-"), max_retries=0, **kw
    )


async def test_a_json_completion_in_openai_shape(serving: Serving) -> None:
    async with serving() as (server, rt, mock):
        raw = await client(server).chat.completions.with_raw_response.create(
            model="assistant", messages=[{"role": "user", "content": "hello"}], user="c1"
        )
        done = raw.parse()
        assert raw.headers["x-agent-id"] == "c1"
        assert done.object == "chat.completion"
        assert done.model == "assistant"
        assert done.id.startswith("chatcmpl-")
        assert done.created > 0
        (choice,) = done.choices
        assert choice.message.role == "assistant"
        assert choice.message.content == "echo: hello"
        assert choice.finish_reason == "stop"
        assert done.usage is not None
        assert done.usage.completion_tokens > 0
        assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
        # the agent is serve/<model>/<conversation>, activated by the request
        assert "serve/assistant/c1" in rt
        assert mock.state.counts["chat"] == 1


async def test_a_stream_is_openais_chunks_then_usage_then_done(serving: Serving) -> None:
    async with serving() as (server, _rt, _mock):
        stream = await client(server).chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "tell me a story"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"X-Agent-Id": "s1"},
        )
        chunks = [c async for c in stream]
        assert len({c.id for c in chunks}) == 1
        assert all(c.object == "chat.completion.chunk" and c.model == "assistant" for c in chunks)
        assert chunks[0].choices[0].delta.role == "assistant"
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "echo: tell me a story"
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens > 0
        assert all(c.usage is None for c in chunks[:-1])

        # the raw wire: SSE events, usage absent unless asked, [DONE] last
        body = {
            "model": "assistant",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(server.url + "/chat/completions", json=body) as resp,
        ):
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            raw = (await resp.read()).decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    decoded = [json.loads(e[6:]) for e in events[:-1]]
    assert all("usage" not in d for d in decoded)
    assert decoded[-1]["choices"][0] == {
        "index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"
    }  # fmt: skip


async def test_models_lists_the_exposed_models(serving: Serving) -> None:
    async with serving() as (server, _rt, _mock):
        api = client(server)
        listed = [m.id async for m in api.models.list()]
        assert listed == ["assistant", "held"]
        one = await api.models.retrieve("held")
        assert one.id == "held"
        assert one.owned_by == "agentrt"
        with pytest.raises(openai.NotFoundError) as caught:
            await api.models.retrieve("nope")
        assert caught.value.code == "model_not_found"


async def test_a_named_agent_is_one_model(serving: Serving) -> None:

    async with serving() as (server, rt, _mock):
        await rt.spawn(Agent, id="helper")
        server.expose("helper", "helper")
        done = await client(server).chat.completions.create(
            model="helper", messages=[{"role": "user", "content": "hi"}]
        )
        assert done.choices[0].message.content == "echo: hi"
        assert [m.role for m in await rt.history("helper")] == ["user", "assistant"]


async def test_a_resent_history_appends_only_what_is_new(serving: Serving) -> None:
    async with serving() as (server, rt, _mock):
        api = client(server)
        messages: list[dict[str, Any]] = [{"role": "user", "content": "one"}]
        for text in ("two", "three"):
            done = await api.chat.completions.create(
                model="assistant", messages=messages, user="h1"
            )
            messages += [
                {"role": "assistant", "content": done.choices[0].message.content},
                {"role": "user", "content": text},
            ]
        await api.chat.completions.create(model="assistant", messages=messages, user="h1")
        stored = [(m.role, m.content) for m in await rt.history("serve/assistant/h1")]
        assert stored == [
            ("user", "one"), ("assistant", "echo: one"),
            ("user", "two"), ("assistant", "echo: two"),
            ("user", "three"), ("assistant", "echo: three"),
        ]  # fmt: skip

        # a single message is always appended (a client that sends only what is new)
        await api.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "four"}], user="h1"
        )
        assert len(await rt.history("serve/assistant/h1")) == 8

        # two new user messages are one turn
        history = [{"role": r, "content": c} for r, c in stored]
        history += [
            {"role": "user", "content": "four"},
            {"role": "assistant", "content": "echo: four"},
        ]
        await api.chat.completions.create(
            model="assistant",
            messages=[*history, {"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            user="h1",
        )
        assert (await rt.history("serve/assistant/h1"))[-2].content == "a\n\nb"


async def test_a_contradicting_history_is_a_409_naming_the_message(serving: Serving) -> None:
    async with serving() as (server, rt, _mock):
        api = client(server)
        await api.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "one"}], user="h2"
        )
        before = await rt.history("serve/assistant/h2")
        wrong = [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "something else"},
            {"role": "user", "content": "two"},
        ]
        with pytest.raises(openai.ConflictError) as caught:
            await api.chat.completions.create(model="assistant", messages=wrong, user="h2")
        error = caught.value.body
        assert isinstance(error, dict)
        assert error["param"] == "messages[1]"
        assert error["code"] == "history_conflict"
        assert caught.value.response.headers["x-should-retry"] == "false"
        # a history with an assistant message the conversation never had
        invented = [*wrong[:1], {"role": "assistant", "content": "echo: one"}]
        invented += [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]
        with pytest.raises(openai.ConflictError, match=r"messages\[2\]"):
            await api.chat.completions.create(model="assistant", messages=invented, user="h2")
        assert await rt.history("serve/assistant/h2") == before  # nothing stored


async def test_a_retry_after_a_failed_turn_matches(serving: Serving, gate: Gate) -> None:
    async with serving(ServeConfig(port=0, timeout_s=0.05)) as (server, rt, _mock):
        api = client(server)
        with pytest.raises(openai.APIStatusError) as caught:  # the deadline passes at the gate
            await api.chat.completions.create(
                model="held", messages=[{"role": "user", "content": "one"}], user="r1"
            )
        assert caught.value.status_code == 504
        gate.opened.set()
        history = [{"role": "user", "content": "one"}]
        # the unanswered "one" is not part of the visible history: resending it matches
        done = await api.chat.completions.create(model="held", messages=history, user="r1")
        assert done.choices[0].message.content == "held: one"
        history += [
            {"role": "assistant", "content": "held: one"},
            {"role": "user", "content": "two"},
        ]
        done = await api.chat.completions.create(model="held", messages=history, user="r1")
        assert done.choices[0].message.content == "held: two"
        assert [m.role for m in await rt.history("serve/held/r1")][-2:] == ["user", "assistant"]


class Quiet(Agent):
    """Answers without streaming a delta (a router, a rule-based agent)."""

    async def respond(self, turn: Turn) -> Reply:
        return self.make_reply(turn, f"quiet: {turn.text}")


async def test_an_agent_that_does_not_stream_still_streams_its_answer(serving: Serving) -> None:
    async with serving() as (server, _rt, _mock):
        server.expose("quiet", Quiet)
        stream = await client(server).chat.completions.create(
            model="quiet", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [c async for c in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "quiet: hi"
        assert chunks[-1].choices[0].finish_reason == "stop"
