"""A conversation's tenant (issue 15 §1): recorded in its head and snapshot (format 3,
in the clear), read back, and listed by ``list_conversations(store, tenant=...)`` on the
three stores (Redis for real)."""

from __future__ import annotations

import logging

import pytest
from support.agents import Chatty, fast_config

from agentrt.errors import InvalidArgument
from agentrt.memory import (
    Conversation,
    CorruptSnapshot,
    DictionaryConfig,
    DictionaryRegistry,
    Store,
    list_conversations,
)
from agentrt.memory._snapshot import (
    ConversationState,
    decode_state,
    encode_state,
    snapshot_tenant,
)
from agentrt.messages import Message
from agentrt.runtime import Runtime

from .conftest import chat


def _registry(store: Store | None = None) -> DictionaryRegistry:
    return DictionaryRegistry(DictionaryConfig(dict_size=2048, auto_train=False), store=store)


async def test_list_a_tenants_conversations(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    registry = _registry(store)
    owners = {"agent/a1": "acme", "agent/a2": "acme", "agent/g1": "globex", "agent/n1": None}
    for key, tenant in owners.items():
        conv = await Conversation.open(store, key, registry=registry, tenant=tenant)
        await conv.extend(chat(4))
        await conv.aclose()
    # a head written before tenants were recorded (format 2), and a damaged one
    await store.put(
        "agent/old/head", encode_state(ConversationState(1, None, None, [], [], []), registry)
    )
    await store.put("agent/bad/head", b"AGRTCONV\x03" + bytes(30))
    # more heads than one batch of reads
    state = ConversationState(2, None, None, [], [], [])
    await store.put_many(
        {f"bulk/{i:03}/head": encode_state(state, registry, "acme") for i in range(300)}
    )
    assert await list_conversations(store, "agent/", tenant="acme") == ["agent/a1", "agent/a2"]
    with caplog.at_level(logging.WARNING, logger="agentrt.memory.layout"):
        assert await list_conversations(store, tenant="globex") == ["agent/g1"]
    assert "agent/bad/head left out" in caplog.text
    acme = await list_conversations(store, tenant="acme")
    assert acme == ["agent/a1", "agent/a2", *(f"bulk/{i:03}" for i in range(300))]
    assert await list_conversations(store, tenant="nobody") == []
    assert "agent/old" in await list_conversations(store, "agent/")  # no filter: every head
    for bad in ("", 3):
        with pytest.raises(InvalidArgument) as caught:
            await list_conversations(store, tenant=bad)  # type: ignore[arg-type]
        assert caught.value.name == "tenant"


async def test_the_tenant_survives_resume_snapshot_and_restore(store: Store) -> None:
    registry = _registry(store)
    conv = await Conversation.open(store, "k", registry=registry, tenant="acmé")
    await conv.extend(chat(3))
    blob = await conv.snapshot()
    await conv.aclose()
    assert snapshot_tenant("k/head", await store.get("k/head") or b"") == "acmé"
    again = await Conversation.restore(blob, registry=registry)
    assert again.tenant == "acmé"
    resumed = await Conversation.open(store, "k", registry=registry)  # None keeps it
    assert resumed.tenant == "acmé"
    await resumed.aclose()
    moved = await Conversation.open(store, "k", registry=registry, tenant="globex")
    assert await list_conversations(store, tenant="globex") == ["k"]  # head rewritten at once
    assert await moved.history() == chat(3)
    await moved.aclose()


def test_a_small_body_is_stored_uncompressed_unless_it_names_a_tenant() -> None:
    """A new conversation's head (its system prompt, no messages) is format 1: zstd would
    cost more CPU than the bytes it saves; with a tenant it is format 3 all the same."""
    registry = _registry()
    state = ConversationState(5, Message.system("You are terse."), None, [], [], [])
    small = encode_state(state, registry)
    assert small[8] == 1
    assert decode_state("k", small, registry) == state
    assert snapshot_tenant("k", small) is None
    tagged = encode_state(state, registry, "acme")
    assert tagged[8] == 3
    assert decode_state("k", tagged, registry) == state
    big = ConversationState(5, Message.system("You are terse." * 40), None, [], [], [])
    assert encode_state(big, registry)[8] == 2


def test_format_3_frames_the_tenant_and_checks_it() -> None:
    registry = _registry()
    state = ConversationState(5, Message.system("s"), None, [], [], chat(12))
    plain = encode_state(state, registry)
    tagged = encode_state(state, registry, "acme")
    assert plain[8] == 2  # no tenant: format 2, as releases without tenants read
    assert tagged[8] == 3
    assert snapshot_tenant("k", plain) is None
    assert snapshot_tenant("k", tagged) == "acme"
    assert decode_state("k", tagged, registry) == decode_state("k", plain, registry)
    at = 8 + 13 + 2  # version, dictionary id, raw length, body length; tenant length
    flipped = tagged[:at] + b"b" + tagged[at + 1 :]
    with pytest.raises(CorruptSnapshot, match="checksum"):
        snapshot_tenant("k", flipped)
    with pytest.raises(CorruptSnapshot, match="truncated"):
        snapshot_tenant("k", tagged[: at + 2])
    not_utf8 = tagged[:at] + b"\xff" + tagged[at + 1 :]
    with pytest.raises(CorruptSnapshot, match="UTF-8"):
        snapshot_tenant("k", not_utf8)


@pytest.mark.parametrize("bad", ["", "x" * 70_000, 7, "\ud800"])
def test_a_bad_tenant_is_refused(bad: object) -> None:
    with pytest.raises(InvalidArgument) as caught:
        Conversation(registry=_registry(), tenant=bad)  # type: ignore[arg-type]
    assert caught.value.name == "tenant"


async def test_an_agents_tenant_is_recorded_with_its_conversation() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn(Chatty, id="a", tenant="acme")
        await rt.spawn(Chatty, id="b")
        for agent_id in ("a", "b"):
            await rt.ask(agent_id, "hello")
            assert await rt.passivate(agent_id)
        assert await list_conversations(rt.store, tenant="acme") == ["agent/a"]
        assert await list_conversations(rt.store, "agent/") == ["agent/a", "agent/b"]
