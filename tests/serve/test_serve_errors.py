"""``agentrt serve`` refuses what it cannot do with OpenAI's error object, naming the
field, and sheds load with 429/504 instead of queueing: bad requests, tokens and
tenants, rate limits, the in-flight bound, a full mailbox, an exhausted LLM, deadlines."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import aiohttp
import openai
import pytest
from support.agents import fast_config
from support.serving import Gate, Serving
from support.waiting import eventually

from agentrt.actor import MailboxConfig
from agentrt.errors import ConfigError
from agentrt.llm import RetryPolicy
from agentrt.serve import RateLimit, ServeConfig, Tenant
from agentrt.testing import MockServerConfig

USER = [{"role": "user", "content": "hi"}]


def req(**fields: Any) -> dict[str, Any]:
    """A request for model ``assistant`` saying ``hi``, with ``fields`` changed."""
    return {"model": "assistant", "messages": USER, **fields}


def one(**message: Any) -> dict[str, Any]:
    """A request whose only message is ``message`` (a user's by default)."""
    return req(messages=[{"role": "user", **message}])


AUDIO = [{"type": "audio"}]
FTP = [{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}]
SYSTEM = {"role": "system", "content": "x"}
ANSWER = {"role": "assistant", "content": "x"}
BAD: list[tuple[Any, str, str]] = [
    (b"{not json", "", "invalid_json"),
    ([], "", "invalid_json"),
    ({"messages": USER}, "model", "invalid_value"),
    (req(messages=[]), "messages", "invalid_value"),
    (req(stream="yes"), "stream", "invalid_value"),
    (req(n=2), "n", "invalid_value"),
    (req(temperature=0.2), "temperature", "unsupported_parameter"),
    (req(tools=[{"type": "function"}]), "tools", "unsupported_parameter"),
    (req(stream_options={"include_usage": True}), "stream_options", "invalid_value"),
    (req(stream=True, stream_options={"x": 1}), "stream_options.x", "invalid_value"),
    (req(user=7), "user", "invalid_value"),
    (req(messages=["hi"]), "messages[0]", "invalid_value"),
    (one(role="robot", content="x"), "messages[0].role", "invalid_value"),
    (req(messages=[SYSTEM, *USER]), "messages[0].role", "unsupported_message"),
    (one(role="tool", content="x", tool_call_id="c"), "messages[0].role", "unsupported_message"),
    (one(content=None), "messages[0].content", "invalid_value"),
    (one(content=AUDIO), "messages[0].content[0].type", "invalid_value"),
    (one(content=FTP), "messages[0].content[0].url", "invalid_value"),
    (one(content="x", colour="red"), "messages[0].colour", "invalid_value"),
    (req(messages=[*USER, ANSWER]), "messages[1].role", "invalid_value"),
    (req(messages=[*USER, ANSWER, *USER]), "messages", "missing_conversation"),
]


async def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    data = body if isinstance(body, bytes) else None
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url + "/chat/completions", json=None if data else body, data=data, headers=headers
        ) as resp,
    ):
        return resp.status, await resp.json(), resp.headers


async def test_bad_requests_are_400s_naming_the_field(serving: Serving) -> None:
    async with serving() as (server, rt, mock):
        for body, param, code in BAD:
            status, answer, headers = await _post(server.url, body)
            error = answer["error"]
            assert status == 400, (body, answer)
            assert set(error) == {"message", "type", "param", "code"}
            assert error["type"] == "invalid_request_error"
            assert (error["param"] or "") == param, (body, error)
            assert error["code"] == code, (body, error)
            assert param in error["message"]
            assert headers["X-Should-Retry"] == "false"
        assert mock.state.counts.get("chat", 0) == 0  # none reached the LLM
        assert not [i for i in rt.agent_ids() if i.startswith("serve/")]


async def test_ignored_fields_and_system_messages_are_opt_in(serving: Serving) -> None:
    config = ServeConfig(port=0, ignore_fields=("temperature",), system_messages="ignore")
    async with serving(config) as (server, _rt, _mock):
        body = {
            "model": "assistant",
            "temperature": 0.3,
            "messages": [{"role": "system", "content": "be brief"}, *USER],
        }
        status, answer, _ = await _post(server.url, body)
        assert status == 200, answer
        assert answer["choices"][0]["message"]["content"] == "echo: hi"


async def test_a_body_over_the_limit_is_413(serving: Serving) -> None:
    async with serving(ServeConfig(port=0, max_body_bytes=2048)) as (server, _rt, _mock):
        status, answer, _ = await _post(
            server.url,
            {"model": "assistant", "messages": [{"role": "user", "content": "x" * 4096}]},
        )
        assert status == 413
        assert answer["error"]["code"] == "request_too_large"


async def test_tenants_tokens_models_and_their_own_agents(
    serving: Serving, caplog: pytest.LogCaptureFixture
) -> None:
    tenants = (Tenant("acme", "tok-acme-123"), Tenant("globex", "tok-globex-456"))
    caplog.set_level(logging.DEBUG)
    async with serving(ServeConfig(port=0, tenants=tenants)) as (server, rt, _mock):
        server.expose("acme-only", "shared-helper", tenants=("acme",))
        with pytest.raises(openai.AuthenticationError) as caught:
            await openai.AsyncOpenAI(
                base_url=server.url, api_key="wrong", max_retries=0
            ).models.list()
        assert caught.value.code == "invalid_api_key"
        status, answer, headers = await _post(server.url, {"model": "assistant", "messages": USER})
        assert status == 401
        assert answer["error"]["type"] == "authentication_error"
        assert headers["WWW-Authenticate"].startswith("Bearer")
        acme = openai.AsyncOpenAI(base_url=server.url, api_key="tok-acme-123", max_retries=0)
        globex = openai.AsyncOpenAI(base_url=server.url, api_key="tok-globex-456", max_retries=0)
        assert [m.id async for m in acme.models.list()] == ["assistant", "held", "acme-only"]
        assert [m.id async for m in globex.models.list()] == ["assistant", "held"]
        with pytest.raises(openai.NotFoundError):
            await globex.chat.completions.create(model="acme-only", messages=USER)  # type: ignore[arg-type]
        for api in (acme, globex):  # the same conversation id, two tenants: two agents
            await api.chat.completions.create(model="assistant", messages=USER, user="c1")  # type: ignore[arg-type]
        ids = {i for i in rt.agent_ids() if i.startswith("serve/")}
        assert ids == {"serve/acme/assistant/c1", "serve/globex/assistant/c1"}
        assert len(await rt.history("serve/acme/assistant/c1")) == 2
        # the agents work for their tenant (tenant-scoped caches)
        tenants_seen = {rt.directory.slot(i).options.get("tenant") for i in ids}  # type: ignore[union-attr]
        assert tenants_seen == {"acme", "globex"}
        assert "tok-" not in repr(server.config) + repr(server) + str(server.stats())
    assert "tok-acme-123" not in caplog.text
    assert "tok-globex-456" not in caplog.text


async def test_a_host_not_served_is_421(serving: Serving) -> None:
    async with serving() as (server, _rt, _mock):
        status, answer, _ = await _post(server.url, {}, headers={"Host": "evil.example"})
        assert status == 421
        assert answer["error"]["type"] == "invalid_request_error"


async def test_unknown_paths_and_wrong_methods_get_openai_errors(serving: Serving) -> None:
    async with serving() as (server, _rt, _mock), aiohttp.ClientSession() as http:
        base = server.url
        async with http.get(base + "/nope") as resp:
            assert resp.status == 404
            assert "/v1/nope" in (await resp.json())["error"]["message"]
        async with http.get(base + "/chat/completions") as resp:
            assert resp.status == 405
            assert "use POST" in (await resp.json())["error"]["message"]
        async with http.post(base + "/models", json={}) as resp:
            assert resp.status == 405
        async with http.get(base + "/models/assistant?x=1") as resp:
            assert resp.status == 200
            assert (await resp.json())["id"] == "assistant"
        async with http.get(base + "/models/%61ssistant") as resp:  # percent-encoded
            assert resp.status == 200
        async with http.head(base + "/models") as resp:
            assert resp.status == 200
        assert server.stats()["statuses"] == {"200": 3, "404": 1, "405": 2}


def test_off_loopback_needs_tenants() -> None:
    with pytest.raises(ConfigError, match=r"serve\.host"):
        ServeConfig(host="0.0.0.0")
    with pytest.raises(ConfigError, match=r"tenants\[1\].token"):
        ServeConfig(tenants=(Tenant("a", "same"), Tenant("b", "same")))
    with pytest.raises(ConfigError, match=r"rate\.per_s"):
        RateLimit(0)
    assert "s3cret" not in repr(Tenant("a", "s3cret"))


async def test_over_the_tenant_rate_is_429_with_retry_after(serving: Serving) -> None:
    config = ServeConfig(port=0, rate=RateLimit(per_s=0.01, burst=2))
    async with serving(config) as (server, _rt, _mock):
        api = openai.AsyncOpenAI(base_url=server.url, api_key="-", max_retries=0)
        for _ in range(2):
            await api.chat.completions.create(model="assistant", messages=USER)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError) as caught:
            await api.chat.completions.create(model="assistant", messages=USER)  # type: ignore[arg-type]
        assert caught.value.code == "rate_limit_exceeded"
        assert int(caught.value.response.headers["Retry-After"]) >= 1
        assert server.stats()["tenants"][""] == {"requests": 3, "rate_limited": 1}


async def test_beyond_max_in_flight_is_429_at_once(serving: Serving, gate: Gate) -> None:
    async with serving(ServeConfig(port=0, max_in_flight=1)) as (server, _rt, _mock):
        api = openai.AsyncOpenAI(base_url=server.url, api_key="-", max_retries=0)
        first = asyncio.ensure_future(
            api.chat.completions.create(model="held", messages=USER, user="a")  # type: ignore[arg-type]
        )
        await eventually(gate.entered.is_set, what="the first request is inside its turn")
        with pytest.raises(openai.RateLimitError) as caught:
            await api.chat.completions.create(model="held", messages=USER, user="b")  # type: ignore[arg-type]
        assert caught.value.code == "server_busy"
        assert caught.value.response.headers["Retry-After"] == "1"
        gate.opened.set()
        assert (await first).choices[0].message.content == "held: hi"


async def test_a_full_mailbox_is_429(serving: Serving, gate: Gate) -> None:
    from agentrt.actor import NodeConfig

    runtime = fast_config()
    runtime = replace(
        runtime,
        node=NodeConfig(
            watchdog=False,
            shutdown_timeout=2.0,
            mailbox=MailboxConfig(capacity=2, overflow="reject"),
        ),
    )
    async with serving(runtime=runtime) as (server, _rt, _mock):
        api = openai.AsyncOpenAI(base_url=server.url, api_key="-", max_retries=0)
        ask = lambda: asyncio.ensure_future(  # noqa: E731
            api.chat.completions.create(model="held", messages=USER, user="m")  # type: ignore[arg-type]
        )
        first = ask()
        await eventually(gate.entered.is_set, what="the first turn is running")
        queued = [ask(), ask()]  # wait in the mailbox (capacity 2)
        await eventually(lambda: _depth(_rt, "serve/held/m") == 2, what="two are queued")
        with pytest.raises(openai.RateLimitError) as caught:
            await api.chat.completions.create(model="held", messages=USER, user="m")  # type: ignore[arg-type]
        assert caught.value.code == "mailbox_full"
        gate.opened.set()
        await first
        await asyncio.gather(*queued)


def _depth(rt: Any, agent_id: str) -> int:
    slot = rt.directory.slot(agent_id)
    return slot.ref.stats().depth if slot is not None and slot.ref is not None else -1


async def test_an_exhausted_llm_is_429_with_its_retry_after(serving: Serving) -> None:
    llm = MockServerConfig(error_rate_429=1.0, retry_after_s=1)
    async with serving(llm=llm, provider={"retry": RetryPolicy(max_retries=0)}) as (
        server,
        _rt,
        _mock,
    ):
        api = openai.AsyncOpenAI(base_url=server.url, api_key="-", max_retries=0)
        with pytest.raises(openai.RateLimitError) as caught:
            await api.chat.completions.create(model="assistant", messages=USER)  # type: ignore[arg-type]
        assert caught.value.code == "llm_busy"
        assert caught.value.response.headers["Retry-After"] == "1"
        # streaming: the failure comes before the first token, so the status is kept
        with pytest.raises(openai.RateLimitError):
            await api.chat.completions.create(model="assistant", messages=USER, stream=True)  # type: ignore[arg-type]


async def test_the_deadline_is_504(serving: Serving, gate: Gate) -> None:
    async with serving(ServeConfig(port=0, timeout_s=0.05)) as (server, _rt, _mock):
        api = openai.AsyncOpenAI(base_url=server.url, api_key="-", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            await api.chat.completions.create(model="held", messages=USER)  # type: ignore[arg-type]
        assert caught.value.status_code == 504
        assert caught.value.code == "timeout"
        # streaming: after the first delta the status line is sent; the deadline then
        # arrives as OpenAI's error event, which the SDK raises
        stream = await api.chat.completions.create(model="held", messages=USER, stream=True)  # type: ignore[arg-type]
        seen: list[str] = []
        parts = aiter(stream)
        seen.append((await anext(parts)).choices[0].delta.content or "")
        seen.append((await anext(parts)).choices[0].delta.content or "")
        with pytest.raises(openai.APIError, match="deadline") as failed:
            await anext(parts)
        assert "".join(seen) == "held:"
        assert isinstance(failed.value.body, dict)
        assert failed.value.body["code"] == "timeout"
        gate.opened.set()
