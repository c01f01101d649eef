"""The semantic LLM cache through LLMPool, with embeddings over real HTTP from the mock
server (deterministic hash vectors: an exact repeat is similarity 1.0, different texts
are far apart; thresholds are tested against the similarity the mock's vectors really
have, computed here)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
import pytest

from agentrt.errors import ConfigError
from agentrt.llm import (
    SEMANTIC_HIT_EVENT,
    ChatRequest,
    InvalidRequest,
    LLMPool,
    MockLLMServer,
    MockServerConfig,
    PoolConfig,
    ResponseCachePolicy,
    SemanticCachePolicy,
    ToolSpec,
    serve_mock_llm,
)
from agentrt.llm._mockreply import mock_embedding
from agentrt.messages import ImagePart, Message, TextPart
from agentrt.telemetry import Events, Telemetry

from .conftest import agent_view, ask, provider

DIM = 64
PRICED: dict[str, Any] = {"price_in_per_1k": 1.0, "price_out_per_1k": 2.0}


def semantic(**kwargs: Any) -> ResponseCachePolicy:
    kwargs.setdefault("enabled", True)
    kwargs.setdefault("embedding_model", "mock-embed")
    return ResponseCachePolicy(semantic=SemanticCachePolicy(**kwargs))


@pytest.fixture
async def server() -> AsyncIterator[MockLLMServer]:
    profiles = {"broken-embed": {"error_rate_500": 1.0}}
    async with serve_mock_llm(MockServerConfig(embedding_dim=DIM, profiles=profiles)) as running:
        yield running


def pool_for(
    server: MockLLMServer, policy: ResponseCachePolicy, events: Events | None = None
) -> LLMPool:
    config = PoolConfig(providers=(provider(server.url, **PRICED),), response_cache=policy)
    return LLMPool(config, recorder=Telemetry(), events=events)


def cosine(a: str, b: str) -> float:
    x, y = mock_embedding(a, DIM), mock_embedding(b, DIM)
    dot = sum(p * q for p, q in zip(x, y, strict=True))
    return dot / (math.hypot(*x) * math.hypot(*y))


# -- the policy ----------------------------------------------------------------------------


def test_off_by_default() -> None:
    assert not ResponseCachePolicy().semantic.enabled
    assert not SemanticCachePolicy().enabled
    assert SemanticCachePolicy().scope == "shared"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"enabled": True}, "embedding_model"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"scope": "global"}, "scope"),
        ({"ttl_s": 0}, "ttl_s"),
        ({"tags": "faq"}, "tags"),
        ({"enabled": 1}, "enabled"),
    ],
)
def test_bad_policy_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        SemanticCachePolicy(**kwargs)
    assert info.value.key == field


def test_response_policy_checks_its_semantic_field() -> None:
    with pytest.raises(ConfigError) as info:
        ResponseCachePolicy(semantic={"enabled": True})  # type: ignore[arg-type]
    assert info.value.key == "semantic"


# -- the pool ------------------------------------------------------------------------------


async def test_nothing_is_embedded_when_off(server: MockLLMServer) -> None:
    async with pool_for(server, ResponseCachePolicy()) as pool:
        await pool.chat(ask("same", temperature=0))
        assert not (await pool.chat(ask("same", temperature=0))).cached
        assert pool.stats()["semantic_cache"]["lookups"] == 0
    assert server.state.counts["embeddings"] == 0
    assert server.state.counts["chat"] == 2


async def test_a_repeat_hits_and_its_savings_are_accounted_as_semantic(
    server: MockLLMServer,
) -> None:
    events = Events()
    seen: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    events.attach("t", SEMANTIC_HIT_EVENT, lambda n, m, meta, s: seen.append((m, meta)))
    async with pool_for(server, semantic(), events) as pool:
        first = await pool.chat(ask("What is the refund policy?", temperature=0), agent_id="a1")
        again = await pool.chat(ask("What is the refund policy?", temperature=0), agent_id="a2")
        stats = pool.stats()
        a2 = agent_view(pool, "a2")
    assert server.state.counts["chat"] == 1
    assert server.state.counts["embedding_inputs"] == 2
    assert not first.cached
    assert again.cached
    assert again.content == first.content
    assert (again.cost, again.usage.total_tokens) == (0.0, 0)
    sem = stats["semantic_cache"]
    assert (sem["lookups"], sem["hits"], sem["misses"], sem["stored"]) == (2, 1, 1, 1)
    assert sem["index"]["backend"] == "in_process"
    exact = stats["response_cache"]  # the savings go through the exact cache's accounting
    assert (exact["hits"], exact["semantic_hits"]) == (1, 1)
    assert exact["by_model"]["mock"]["semantic_hits"] == 1
    assert exact["by_model"]["mock"]["tokens_saved"] == first.usage.total_tokens
    assert a2 is not None
    assert a2["llm_cache_hits"] == 1
    assert a2["llm_cache_cost_saved"] == pytest.approx(first.cost)
    assert len(seen) == 1
    measurements, metadata = seen[0]
    assert measurements["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert metadata == {"model": "mock", "agent_id": "a2", "scope": "shared"}


async def test_the_threshold_decides_with_the_real_similarity(server: MockLLMServer) -> None:
    pairs = [
        ("What is the refund policy?", "what's the refund policy"),
        ("How do I reset my password?", "how can I reset my password"),
        ("Where is my order?", "where's my order"),
        ("When do you open?", "what time do you open"),
        ("Can I change my address?", "can I update my address"),
        ("How much is shipping?", "what does shipping cost"),
    ]
    stored, asked = max(pairs, key=lambda p: cosine(*p))
    similarity = cosine(stored, asked)
    assert similarity > 0.02  # the mock's vectors: a pair with room below it exists
    below = semantic(threshold=similarity - 0.005)
    above = semantic(threshold=min(1.0, similarity + 0.005))
    async with pool_for(server, above) as pool:  # each pool: an index of its own
        await pool.chat(ask(stored, temperature=0))
        missed = await pool.chat(ask(asked, temperature=0))
    async with pool_for(server, below) as pool:
        await pool.chat(ask(stored, temperature=0))
        hit = await pool.chat(ask(asked, temperature=0))
    assert not missed.cached
    assert hit.cached
    assert hit.content == f"echo: {stored}"  # the stored question's answer


@pytest.mark.parametrize(
    "other",
    [
        ChatRequest(model="mock", messages=(Message.system("be terse"), Message.user("q"))),
        ChatRequest(
            model="mock",
            messages=(Message.user("earlier"), Message.assistant("ok"), Message.user("q")),
        ),
        ChatRequest(model="mock", messages=(Message.user("q"),), max_tokens=5),
        ChatRequest(model="mock", messages=(Message.user("q"),), tools=(ToolSpec(name="t"),)),
        ChatRequest(model="mock-2", messages=(Message.user("q"),)),
    ],
    ids=["system-prompt", "earlier-turns", "sampling", "tools", "model"],
)
async def test_everything_but_the_question_must_match_exactly(
    server: MockLLMServer, other: ChatRequest
) -> None:
    base = ChatRequest(model="mock", messages=(Message.user("q"),), temperature=0)
    other = msgspec.structs.replace(other, temperature=0)
    async with pool_for(server, semantic(threshold=0.5)) as pool:
        await pool.chat(base)
        assert not (await pool.chat(other)).cached
        assert (await pool.chat(other)).cached  # its own context now has it
    assert server.state.counts["chat"] == 2


async def test_agent_scope_keeps_answers_to_their_agent(server: MockLLMServer) -> None:
    async with pool_for(server, semantic(scope="agent")) as pool:
        await pool.chat(ask("q", temperature=0), agent_id="a1")
        assert not (await pool.chat(ask("q", temperature=0), agent_id="a2")).cached
        assert (await pool.chat(ask("q", temperature=0), agent_id="a1")).cached
        with pytest.raises(InvalidRequest) as info:
            await pool.chat(ask("q", temperature=0))
    assert info.value.field == "agent_id"


async def test_tenant_scope_shares_within_a_tenant_only(server: MockLLMServer) -> None:
    async with pool_for(server, semantic(scope="tenant")) as pool:
        await pool.chat(ask("q", temperature=0), agent_id="a1", tenant_id="acme")
        assert (await pool.chat(ask("q", temperature=0), agent_id="a2", tenant_id="acme")).cached
        other = await pool.chat(ask("q", temperature=0), agent_id="a3", tenant_id="globex")
        assert not other.cached
        with pytest.raises(InvalidRequest) as info:
            await pool.chat(ask("q", temperature=0), agent_id="a4")
    assert info.value.field == "tenant_id"


async def test_nonzero_temperature_and_non_text_questions_are_skipped(
    server: MockLLMServer,
) -> None:
    image = Message.user((TextPart(text="what is this"), ImagePart(url="https://x.test/a.png")))
    tool_turn = (Message.user("q"), Message.tool_result("c1", "42"))
    async with pool_for(server, semantic()) as pool:
        await pool.chat(ask("warm", temperature=0.7))
        await pool.chat(ChatRequest(model="mock", messages=(image,), temperature=0))
        await pool.chat(ChatRequest(model="mock", messages=tool_turn, temperature=0))
        assert pool.stats()["semantic_cache"]["skipped"] == 3
        await pool.chat(
            ask("warm", temperature=0.7), cache=semantic(allow_nonzero_temperature=True)
        )
        warm = await pool.chat(
            ask("warm", temperature=0.7), cache=semantic(allow_nonzero_temperature=True)
        )
    assert warm.cached
    assert server.state.counts["embedding_inputs"] == 2


async def test_a_failing_embedding_call_never_fails_the_request(server: MockLLMServer) -> None:
    async with pool_for(server, semantic(embedding_model="broken-embed")) as pool:
        first = await pool.chat(ask("q", temperature=0))
        second = await pool.chat(ask("q", temperature=0))
        stats = pool.stats()["semantic_cache"]
    assert first.content == second.content == "echo: q"
    assert not second.cached
    assert (stats["embed_errors"], stats["lookups"]) == (2, 0)
    assert server.state.counts["chat"] == 2


async def test_invalidating_a_tag_drops_semantic_entries(server: MockLLMServer) -> None:
    async with pool_for(server, semantic(tags=("faq",))) as pool:
        await pool.chat(ask("q", temperature=0))
        await pool.chat(ask("other", temperature=0), cache=semantic())
        assert await pool.invalidate_cache_tag("faq") == 1
        assert not (await pool.chat(ask("q", temperature=0))).cached
        assert (await pool.chat(ask("other", temperature=0), cache=semantic())).cached
        assert await pool.invalidate_cache_tag("llm") == 2
