"""The semantic cache's in-process index and its pure parts, with controlled vectors and a
fake clock (no loop, no server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clock import FakeClock

from agentrt.errors import ConfigError
from agentrt.llm import ChatRequest, SemanticCachePolicy, SemanticIndex
from agentrt.llm._semantic import final_question
from agentrt.llm._semkey import semantic_context_key
from agentrt.messages import ImagePart, Message, TextPart
from agentrt.runtime import RuntimeConfig


def test_the_closest_entry_at_or_above_the_threshold_wins() -> None:
    index = SemanticIndex()
    index.add("c", [1.0, 0.0], "east", ttl=60)
    index.add("c", [0.0, 1.0], "north", ttl=60)
    found = index.search("c", [0.9, 0.1], threshold=0.9)
    assert found is not None
    assert found[0] == "east"
    assert found[1] == pytest.approx(0.9 / (0.82**0.5), rel=1e-5)
    assert index.search("c", [1.0, 1.0], threshold=0.71) is None  # cos 45 deg = 0.7071
    assert index.search("c", [1.0, 1.0], threshold=0.70) is not None
    assert index.search("other", [1.0, 0.0], threshold=0.1) is None  # contexts never mix


def test_entries_expire_on_the_clock() -> None:
    clock = FakeClock()
    index = SemanticIndex(clock=clock)
    index.add("c", [1.0, 0.0], "short", ttl=5)
    index.add("c", [0.9, 0.1], "long", ttl=50)
    assert index.search("c", [1.0, 0.0], threshold=0.5) == ("short", pytest.approx(1.0))
    clock.advance(5)
    found = index.search("c", [1.0, 0.0], threshold=0.5)
    assert found is not None
    assert found[0] == "long"
    assert (len(index), index.stats()["expired"]) == (1, 1)


def test_the_bound_evicts_the_oldest_first() -> None:
    index = SemanticIndex(max_entries=2)
    index.add("a", [1.0, 0.0], "first", ttl=60)
    index.add("b", [0.0, 1.0], "second", ttl=60)
    index.add("b", [1.0, 1.0], "third", ttl=60)
    assert index.search("a", [1.0, 0.0], threshold=0.5) is None
    assert index.search("b", [0.0, 1.0], threshold=0.99) == ("second", pytest.approx(1.0))
    stats = index.stats()
    assert (stats["entries"], stats["contexts"], stats["evicted"]) == (2, 1, 1)


def test_bad_vectors_never_match_and_are_never_stored() -> None:
    index = SemanticIndex()
    assert not index.add("c", [0.0, 0.0], "zero", ttl=60)
    assert index.add("c", [1.0, 0.0], "ok", ttl=60)
    assert not index.add("c", [1.0, 0.0, 0.0], "wrong dimension", ttl=60)
    assert index.search("c", [1.0, 0.0, 0.0], threshold=0.1) is None
    assert index.search("c", [float("nan"), 1.0], threshold=0.1) is None
    assert index.stats()["rejected"] == 4
    assert len(index) == 1


def test_tags_drop_their_entries() -> None:
    index = SemanticIndex()
    index.add("c", [1.0, 0.0], "faq", ttl=60, tags=("llm", "faq"))
    index.add("c", [0.0, 1.0], "other", ttl=60, tags=("llm",))
    assert index.invalidate_tag("faq") == 1
    assert index.search("c", [1.0, 0.0], threshold=0.9) is None
    assert index.invalidate_tag("llm") == 1
    assert len(index) == 0


@pytest.mark.parametrize("bound", [0, -1, True, 1.5])
def test_a_bad_bound_is_a_config_error(bound: object) -> None:
    with pytest.raises(ConfigError) as info:
        SemanticIndex(max_entries=bound)  # type: ignore[arg-type]
    assert info.value.key == "max_entries"


def test_the_final_question_is_the_last_user_text() -> None:
    def req(*messages: Message) -> ChatRequest:
        return ChatRequest(model="m", messages=messages)

    assert final_question(req(Message.system("s"), Message.user("q?"))) == "q?"
    parts = Message.user((TextPart(text="a"), TextPart(text="b")))
    assert final_question(req(parts)) == "a\nb"
    image = Message.user((TextPart(text="a"), ImagePart(url="https://x.test/i.png")))
    assert final_question(req(image)) is None
    assert final_question(req(Message.user("q"), Message.assistant("a"))) is None
    assert final_question(req(Message.user("q"), Message.tool_result("c", "r"))) is None


def test_the_context_leaves_out_only_the_last_question() -> None:
    on = SemanticCachePolicy(enabled=True, embedding_model="e")

    def key(*messages: Message, policy: SemanticCachePolicy = on) -> str:
        request = ChatRequest(model="m", messages=messages, temperature=0)
        return semantic_context_key(request, policy, "a1", "t1")

    base = key(Message.system("s"), Message.user("one"))
    assert base == key(Message.system("s"), Message.user("two"))
    assert base != key(Message.system("other"), Message.user("one"))
    other_model = SemanticCachePolicy(enabled=True, embedding_model="f")
    assert base != key(Message.system("s"), Message.user("one"), policy=other_model)
    agent = SemanticCachePolicy(enabled=True, embedding_model="e", scope="agent")
    assert base != key(Message.system("s"), Message.user("one"), policy=agent)


def test_the_runtime_config_file_sets_the_pool_policy(tmp_path: Path) -> None:
    path = tmp_path / "agentrt.toml"
    path.write_text(
        '[[llm.providers]]\nname = "local"\nbase_urls = ["http://127.0.0.1:1/v1"]\n'
        '[llm.response_cache.semantic]\nenabled = true\nembedding_model = "e"\nscope = "tenant"\n'
    )
    semantic = RuntimeConfig.load(path, env={}).llm.response_cache.semantic
    assert (semantic.enabled, semantic.scope, semantic.threshold) == (True, "tenant", 0.96)
    path.write_text(path.read_text().replace('"tenant"', '"everyone"'))
    with pytest.raises(ConfigError, match="scope"):
        RuntimeConfig.load(path, env={})
