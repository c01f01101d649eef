"""``agentrt serve`` on a cluster node maps a turn's failure at another node as on one node:
two runtimes in this process, nodes of one cluster on the test's Redis; the served agent
lives on node A (``placement="local"``, activated there first), the server listens on node
B. A full mailbox at A is a 429 with Retry-After at B, an exhausted LLM at A a 429 with
the LLM's Retry-After, the deadline a 504; the owner's error crosses with its cause."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any

import openai
import pytest
from support.agents import fast_config
from support.serving import GATE, Gate, Held, llm_config
from support.waiting import eventually

from agentrt import Agent
from agentrt.actor import MailboxConfig, NodeConfig
from agentrt.cluster import ClusterConfig
from agentrt.llm import RetryPolicy
from agentrt.runtime import Runtime
from agentrt.runtime._config import StoreConfig
from agentrt.serve import ServeConfig, Server
from agentrt.testing import MockServerConfig, serve_mock_llm

USER = [{"role": "user", "content": "hi"}]


@asynccontextmanager
async def two_nodes(
    redis_url: str, prefix: str, serve: ServeConfig, llm: MockServerConfig | None = None
) -> AsyncIterator[tuple[Runtime, Runtime, Server]]:
    """Nodes ``a`` and ``b`` (mailboxes of 2, rejecting), both with the served models'
    routes; a ``Server`` listening on ``b``."""
    node = NodeConfig(
        watchdog=False, shutdown_timeout=2.0, mailbox=MailboxConfig(capacity=2, overflow="reject")
    )
    async with AsyncExitStack() as stack:
        mock = await stack.enter_async_context(serve_mock_llm(llm))
        pool = llm_config(mock.url, retry=RetryPolicy(max_retries=0))
        store = StoreConfig(kind="redis", url=redis_url, prefix=prefix + "mem:")
        runtimes = []
        for name in ("a", "b"):
            cluster = ClusterConfig(
                name="t", redis_url=redis_url, prefix=prefix + "cl:", node_id=name,
                placement="local", ttl_ms=2_000, renew_ms=200,
            )  # fmt: skip
            rt = Runtime(replace(fast_config(), node=node, llm=pool, store=store), cluster=cluster)
            server = Server(rt, serve)
            server.expose("assistant", Agent)
            server.expose("held", Held)
            await stack.enter_async_context(rt)
            runtimes.append((rt, server))
        (a, _), (b, served) = runtimes
        await a.directory.cluster.membership.wait_for(2, timeout=20)  # type: ignore[attr-defined]
        await stack.enter_async_context(served)
        yield a, b, served


def _depth(rt: Any, agent_id: str) -> int:
    slot = rt.directory.slot(agent_id)
    return slot.ref.stats().depth if slot is not None and slot.ref is not None else -1


@pytest.fixture
def gate() -> Gate:
    GATE.append(Gate())
    return GATE[-1]


async def test_a_full_mailbox_at_the_owner_is_429(
    redis_url: str, redis_prefix: str, gate: Gate
) -> None:
    async with two_nodes(redis_url, redis_prefix, ServeConfig(port=0)) as (a, _b, server):
        agent = "serve/held/m"
        first = asyncio.ensure_future(a.ask(agent, "hi"))  # activates it at a, and holds
        await eventually(gate.entered.is_set, what="the first turn is running at a")
        api = openai.AsyncOpenAI(base_url=server.url, api_key="-", max_retries=0)
        ask = lambda: asyncio.ensure_future(  # noqa: E731
            api.chat.completions.create(model="held", messages=USER, user="m")  # type: ignore[arg-type]
        )
        queued = [ask(), ask()]  # through b, into a's mailbox (capacity 2)
        await eventually(lambda: _depth(a, agent) == 2, what="two are queued at a")
        assert a.directory.slot(agent) is not None
        with pytest.raises(openai.RateLimitError) as caught:
            await api.chat.completions.create(model="held", messages=USER, user="m")  # type: ignore[arg-type]
        assert caught.value.code == "mailbox_full"
        assert caught.value.response.headers["Retry-After"] == "1"
        gate.opened.set()
        await first
        done = await asyncio.gather(*queued)
        assert [d.choices[0].message.content for d in done] == ["held: hi", "held: hi"]


async def test_an_exhausted_llm_at_the_owner_is_429(redis_url: str, redis_prefix: str) -> None:
    llm = MockServerConfig(error_rate_429=1.0, retry_after_s=3)
    async with two_nodes(redis_url, redis_prefix, ServeConfig(port=0), llm) as (a, b, server):
        agent = "serve/assistant/x"
        with pytest.raises(Exception):  # noqa: B017 - activates it at a; the LLM refuses
            await a.ask(agent, "hi")
        assert a.directory.slot(agent) is not None
        assert b.directory.slot(agent) is None
        api = openai.AsyncOpenAI(base_url=server.url, api_key="-", max_retries=0)
        with pytest.raises(openai.RateLimitError) as caught:
            await api.chat.completions.create(model="assistant", messages=USER, user="x")  # type: ignore[arg-type]
        assert caught.value.code == "llm_busy"
        assert caught.value.response.headers["Retry-After"] == "3"
        with pytest.raises(openai.RateLimitError):  # a stream: refused before its status line
            await api.chat.completions.create(
                model="assistant", messages=USER, user="x", stream=True
            )  # type: ignore[call-overload]


async def test_the_deadline_at_the_owner_is_504(
    redis_url: str, redis_prefix: str, gate: Gate
) -> None:
    serve = ServeConfig(port=0, timeout_s=0.2)
    async with two_nodes(redis_url, redis_prefix, serve) as (a, _b, server):
        agent = "serve/held/d"
        first = asyncio.ensure_future(a.ask(agent, "hi"))  # activates it at a, and holds
        await eventually(gate.entered.is_set, what="the first turn is running at a")
        api = openai.AsyncOpenAI(base_url=server.url, api_key="-", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            await api.chat.completions.create(model="held", messages=USER, user="d")  # type: ignore[arg-type]
        assert caught.value.status_code == 504
        assert caught.value.code == "timeout"
        gate.opened.set()
        await first
