"""Property: any sequence of appends, seals, summaries, trainings, snapshots/restores and
store reopenings gives back exactly the messages appended."""

from __future__ import annotations

import asyncio

from hypothesis import event, given
from hypothesis import strategies as st

from agentrt.memory import (
    Conversation,
    ConversationConfig,
    DictionaryConfig,
    DictionaryRegistry,
    DurabilityConfig,
    MemoryStore,
    SummaryConfig,
)
from agentrt.memory._codec import encode_message
from agentrt.messages import Message
from agentrt.testing import ScriptedSummarizer

from .strategies import messages

ops = st.lists(
    st.one_of(
        st.lists(messages, min_size=1, max_size=8).map(lambda m: ("append", m)),
        st.sampled_from([("summarize",), ("train",), ("restore",), ("reopen",), ("flush",)]),
    ),
    max_size=30,
)


def _samples(version: int) -> list[bytes]:
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
    ]
    return [
        encode_message(Message.user(f"{words[i % 12]} {version} {words[(i * version) % 12]} " * 3))
        for i in range(300)
    ]


def _config(mode: str) -> ConversationConfig:
    return ConversationConfig(
        recent_messages=2,
        chunk_messages=3,
        resident_chunks=1,
        summary=SummaryConfig(after_chunks=1, max_chunks=2, retry_base=0.0),
        durability=DurabilityConfig(mode=mode, max_delay=0.001),  # type: ignore[arg-type]
    )


@given(ops, st.sampled_from(["write_through", "write_behind"]))
async def test_any_sequence_gives_back_what_was_appended(
    operations: list[tuple], mode: str
) -> None:
    store = MemoryStore()
    dconfig = DictionaryConfig(train_after_samples=10, auto_train=False, dict_size=1024)
    registry = DictionaryRegistry(dconfig, store=store)
    config = _config(mode)
    summarizer = ScriptedSummarizer()
    conv = await Conversation.open(
        store, "c", registry=registry, config=config, summarizer=summarizer, system="sys"
    )
    appended: list[Message] = []
    trainings = 0
    for op in operations:
        if op[0] == "append":
            for message in op[1]:
                assert await conv.append(message) == len(appended)
                appended.append(message)
        elif op[0] == "summarize":
            await conv.wait_summarized()
        elif op[0] == "train":
            trainings += 1
            registry.observe(_samples(trainings))
            await registry.train()
        elif op[0] == "flush":
            await conv.flush()
        elif op[0] == "restore":
            blob = await conv.snapshot()
            await conv.aclose()
            conv = await Conversation.restore(
                blob, registry=registry, key="c", store=store, config=config, summarizer=summarizer
            )
        else:  # reopen: a restart, with a fresh registry that reads dictionaries back
            await conv.aclose()
            registry = DictionaryRegistry(dconfig, store=store)
            await registry.load_current()
            conv = await Conversation.open(
                store, "c", registry=registry, config=config, summarizer=summarizer
            )
        assert len(conv) == len(appended)
    stats = conv.stats()
    event(f"chunks: {min(stats.chunks, 3)}+, evicted: {stats.chunks > stats.resident_chunks}")
    dicts = len({c.dict_id for c in conv.chunks})
    event(f"dictionaries in chunks: {min(dicts, 2)}+, summary: {conv.summary is not None}")
    assert await conv.history() == appended
    assert await conv.history(1, -1) == appended[1:-1]
    assert conv.system == Message.system("sys")
    summary = conv.summary
    if summary is not None:
        assert summary.end_message == sum(c.count for c in conv.chunks[: summary.end_chunk])
    await conv.aclose()
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
