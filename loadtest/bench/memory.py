"""Conversation-memory benchmark: agentrt.memory against a plain list of message dicts.

Corpus: :mod:`loadtest.bench.chat_corpus` generates multi-turn agent conversations
deterministically (system prompts repeated across conversations, user questions, long
markdown answers with code, JSON tool calls and results, occasional revisits of a file or
a code block; the module docstring documents the shape). The runtime's dictionary is
trained from *warm-up* conversations (seeds 1000+) through the normal auto-training path;
every figure is then measured on other conversations (seeds 1+).

The peer is what a user would otherwise write: a ``list`` of message ``dict``s, persisted
with ``json.dumps``/``json.loads``.

Figures (agentrt default ``ConversationConfig``: 32 recent messages, 50-message chunks,
zstd level 3, one shared 256 KiB dictionary; a summarizer that answers at once, run by the
conversation's own background task while the driver yields once per message, as an agent
awaiting its LLM would):

- ``append``: one ``await conv.append(m)`` (sealing a chunk every ~50th call included),
  building 2,000-message conversations, no store.
- ``context``: ``conv.context(8_000)`` after every 10th append of those conversations.
- ``context_whole``: ``conv.context(budget)`` of a 1,000-message conversation (no
  summarizer) with a budget that holds all of it, so every sealed chunk is in the prompt;
  beside it ``context_whole_plain``, the peer: a list of message dicts with their token
  counts kept, walked back from the newest to the budget. Their ratio,
  ``context_whole_over_plain``, is the median of per-round ratios (interleaved rounds).
- ``history``: ``await conv.history(i, i + 20)`` of a random sealed range (decompresses one
  or two chunks).
- ``snapshot_<store>``: save (``snapshot()`` + ``store.put``) then restore (``store.get`` +
  ``Conversation.restore``) of a 2,000-message conversation; one sample = the pair.
  Stores: ``MemoryStore``, ``SQLiteStore`` (temp file, WAL), ``RedisStore`` (127.0.0.1:6379,
  or a private redis-server when none answers). The peer does ``json.dumps`` + put, get +
  ``json.loads`` against the same store.
- ``bytes_per_agent``: ``tracemalloc`` delta (after ``gc.collect()``) around building one
  conversation from its encoded bytes (agentrt: msgpack-decoded messages appended one by
  one; peer: ``json.loads`` of the same messages), averaged over several conversations.
  Everything the structure keeps alive is counted; temporaries freed during the build are
  not; the shared dictionary (one per runtime) is not.
- ``memory_bytes_accuracy``: ``Conversation.memory_bytes()`` / that tracemalloc figure, for
  the conversation furthest from 1.0, on the English corpus and on
  :func:`~loadtest.bench.chat_corpus.mixed_language` conversations of 20, 200 and 2,000
  messages (the estimate is held within 10% by ``tests/memory/test_memory_bytes.py``).
- ``ratio``: raw msgpack bytes / compressed bytes over the sealed chunks of the
  2,000-message conversations.

With ``--real-text``, only the real-text mode runs instead
(:mod:`loadtest.bench.memory_realtext`: short public-chat-like conversations, the stored
ratio of short and long conversations beside zstd with and without a dictionary of the
same size, and the resident bytes of an active 6-message conversation beside the plain
list, all from one run).

    python -m loadtest.bench.memory            # table
    python -m loadtest.bench.memory --quick --json
    python -m loadtest.bench.memory --real-text --json
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from agentrt.memory import (
    Conversation,
    ConversationConfig,
    DictionaryRegistry,
    DurabilityConfig,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    Store,
)
from agentrt.messages import Message
from agentrt.tokens import estimate_tokens, message_tokens
from loadtest.bench.chat_corpus import conversation, mixed_language
from loadtest.bench.measure import bench_parser, emit, local_redis, summarize
from loadtest.bench.memory_realtext import held_bytes, real_text

_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(list[Message])


async def _summarize(messages: Sequence[Message], previous: str | None) -> str:
    """Stands in for the LLM: ~600 characters, answered at once."""
    head = " ".join(m.content[:40] for m in messages[:12])
    return ((previous or "")[-300:] + " | " + head)[:600]


def _as_dict(message: Message) -> dict[str, Any]:
    return msgspec.to_builtins(message)  # type: ignore[no-any-return]


async def _build(registry: DictionaryRegistry, messages: list[Message]) -> Conversation:
    conv = Conversation(registry=registry, system=messages[0], summarizer=_summarize)
    for message in messages[1:]:
        await conv.append(message)
        await asyncio.sleep(0)  # an agent awaits its LLM between messages
    await conv.wait_summarized()
    return conv


async def _warm_up(registry: DictionaryRegistry, count: int) -> None:
    for seed in range(1000, 1000 + count):
        conv = await _build(registry, conversation(seed, 400))
        await conv.aclose()
    while registry.stats()["training"]:
        await asyncio.sleep(0.01)


async def _ops_in_memory(registry: DictionaryRegistry, seeds: range, n: int) -> dict[str, Any]:
    append: list[float] = []
    context: list[float] = []
    history: list[float] = []
    raw = stored = 0
    clock = time.perf_counter
    rng = random.Random(7)
    for seed in seeds:
        messages = conversation(seed, n)
        conv = Conversation(registry=registry, system=messages[0], summarizer=_summarize)
        for i, message in enumerate(messages[1:]):
            start = clock()
            await conv.append(message)
            append.append(clock() - start)
            if i % 10 == 0:
                start = clock()
                conv.context(8_000)
                context.append(clock() - start)
            await asyncio.sleep(0)
        sealed = conv.chunks[-1].stop
        for _ in range(300):
            lo = rng.randrange(0, sealed - 20)
            start = clock()
            await conv.history(lo, lo + 20)
            history.append(clock() - start)
        stats = conv.stats()
        raw += stats.raw_bytes
        stored += stats.stored_bytes
        await conv.aclose()
    return {"append": append, "context": context, "history": history, "ratio": raw / stored}


async def _context_whole(registry: DictionaryRegistry, rounds: int) -> dict[str, Any]:
    """``context_whole`` and its peer (module docs): best of 20 calls per round each."""
    messages = conversation(5, 1_000)
    conv = Conversation(registry=registry, system=messages[0])
    for message in messages[1:]:
        await conv.append(message)
    plain = [_as_dict(m) for m in messages[1:]]
    tokens = [message_tokens(m, estimate_tokens) for m in messages[1:]]
    budget = 10**9

    def peer() -> list[dict[str, Any]]:
        used, i = 0, len(plain)
        while i > 0 and used + tokens[i - 1] <= budget:
            used += tokens[i - 1]
            i -= 1
        return plain[i:]

    def best(fn: Callable[[], object]) -> float:
        out = float("inf")
        for _ in range(20):
            start = time.perf_counter()
            fn()
            out = min(out, time.perf_counter() - start)
        return out

    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        ours.append(best(lambda: conv.context(budget)))
        theirs.append(best(peer))
    assert len(conv.context(budget)) == len(messages)  # the whole conversation
    await conv.aclose()
    return {
        "context_whole": _pct(ours),
        "context_whole_plain": _pct(theirs),
        "context_whole_over_plain": round(
            statistics.median(a / b for a, b in zip(ours, theirs, strict=True)), 2
        ),
    }


async def _snapshots(
    registry: DictionaryRegistry, store: Store, conv: Conversation, rounds: int
) -> tuple[list[float], list[float], list[float], int]:
    """Samples of agentrt save+restore, of the plain-json peer, and of the transport alone
    (put + get of the same snapshot bytes), and the snapshot's size."""
    ours: list[float] = []
    peer: list[float] = []
    floor: list[float] = []
    clock = time.perf_counter
    plain = [_as_dict(m) for m in await conv.history()]
    size = 0
    await store.put("bench/warm-up", b"x")  # connect / open the file outside the samples
    await store.get("bench/warm-up")
    for i in range(rounds):
        key = f"bench/snap/{i % 4}"
        start = clock()
        blob = await conv.snapshot()
        await store.put(key, blob)
        data = await store.get(key)
        assert data is not None
        again = await Conversation.restore(data, registry=registry, key=key)
        ours.append(clock() - start)
        size = len(blob)
        await again.aclose()
        start = clock()
        await store.put(key, blob)
        await store.get(key)
        floor.append(clock() - start)
        start = clock()
        await store.put(key + "/plain", json.dumps(plain).encode())
        text = await store.get(key + "/plain")
        assert text is not None
        json.loads(text)
        peer.append(clock() - start)
    await store.delete(
        "bench/warm-up", *(f"bench/snap/{i}{s}" for i in range(4) for s in ("", "/plain"))
    )
    return ours, peer, floor, size


async def _durable_appends(
    registry: DictionaryRegistry, store: Store, mode: str, n: int
) -> list[float]:
    """Per-append latency of a conversation journaled to ``store`` in ``mode``."""
    config = ConversationConfig(durability=DurabilityConfig(mode=mode))  # type: ignore[arg-type]
    messages = conversation(77, n)
    conv = await Conversation.open(store, f"bench/durable/{mode}", registry=registry, config=config)
    samples = []
    for message in messages:
        start = time.perf_counter()
        await conv.append(message)
        samples.append(time.perf_counter() - start)
        await asyncio.sleep(0)
    await conv.erase()
    await conv.aclose()
    return samples


async def _bytes_per_agent(
    registry: DictionaryRegistry,
    n: int,
    agents: int,
    corpus: Callable[[int, int], list[Message]] = conversation,
) -> dict[str, Any]:
    ours: list[int] = []
    plain: list[int] = []
    estimates: list[int] = []
    for seed in range(1, 1 + agents):
        messages = corpus(seed, n)
        packed = _ENC.encode(messages)
        text = json.dumps([_as_dict(m) for m in messages]).encode()

        async def build_ours(packed: bytes = packed) -> Conversation:
            return await _build(registry, _DEC.decode(packed))

        async def build_plain(text: bytes = text) -> list[dict[str, Any]]:
            return json.loads(text)  # type: ignore[no-any-return]

        size, conv = await held_bytes(build_ours)()
        ours.append(size)
        estimates.append(conv.memory_bytes())
        await conv.aclose()
        del conv
        size, lst = await held_bytes(build_plain)()
        plain.append(size)
        del lst
    return {
        "agentrt": int(statistics.mean(ours)),
        "plain": int(statistics.mean(plain)),
        "estimate": int(statistics.mean(estimates)),
        # the worst conversation's memory_bytes() / tracemalloc
        "accuracy": min((e / o for e, o in zip(estimates, ours, strict=True)), key=_off),
    }


def _off(ratio: float) -> float:
    return abs(ratio - 1.0)


def _stores(tmp: Path, redis_url: str) -> list[tuple[str, Store]]:
    prefix = f"agentrt-bench:{random.getrandbits(32):08x}:"
    return [
        ("memory", MemoryStore()),
        ("sqlite", SQLiteStore(tmp / "bench.db")),
        ("redis", RedisStore(redis_url, prefix=prefix)),
    ]


async def run(quick: bool) -> tuple[dict[str, Any], list[list[Any]]]:
    registry = DictionaryRegistry()
    await _warm_up(registry, 6 if quick else 12)
    conversations = range(1, 2) if quick else range(1, 7)
    measured = await _ops_in_memory(registry, conversations, 2_000)
    bytes_200 = await _bytes_per_agent(registry, 200, 2 if quick else 10)
    bytes_2000 = await _bytes_per_agent(registry, 2_000, 1 if quick else 5)
    mixed = {
        str(n): await _bytes_per_agent(registry, n, count, mixed_language)
        for n, count in (
            (20, 2 if quick else 10),
            (200, 2 if quick else 10),
            (2_000, 1 if quick else 5),
        )
    }
    big = await _build(registry, conversation(99, 2_000))
    snaps: dict[str, tuple[dict[str, float], dict[str, float], int]] = {}
    snaps_small: dict[str, tuple[dict[str, float], dict[str, float], int]] = {}
    floors: dict[str, dict[str, float]] = {}
    durable: dict[str, dict[str, float]] = {}
    small = await _build(registry, conversation(98, 200))
    with tempfile.TemporaryDirectory() as tmp:
        async with local_redis() as redis_url:
            for name, store in _stores(Path(tmp), redis_url):
                rounds = 10 if quick else 100
                ours, peer, floor, size = await _snapshots(registry, store, big, rounds)
                snaps[name] = (_pct(ours), _pct(peer), size)
                floors[name] = _pct(floor)
                ours, peer, floor, size = await _snapshots(registry, store, small, rounds)
                snaps_small[name] = (_pct(ours), _pct(peer), size)
                if name != "memory":
                    for mode in ("write_through", "write_behind"):
                        samples = await _durable_appends(
                            registry, store, mode, 100 if quick else 1000
                        )
                        durable[f"append {mode.replace('_', '-')} {name}"] = _pct(samples)
                await store.aclose()
    await big.aclose()
    await small.aclose()
    await registry.aclose()
    ops = {k: _pct(measured[k]) for k in ("append", "context", "history")}
    whole = await _context_whole(registry, 3 if quick else 21)
    ops["context_whole"] = whole["context_whole"]
    ops["context_whole_plain"] = whole["context_whole_plain"]
    result = {
        "ops": {**ops, "snapshot_sqlite": snaps["sqlite"][0], "snapshot_redis": snaps["redis"][0]},
        "bytes_per_agent": {
            "200": {"agentrt": bytes_200["agentrt"], "plain": bytes_200["plain"]},
            "2000": {"agentrt": bytes_2000["agentrt"], "plain": bytes_2000["plain"]},
        },
        "ratio": round(measured["ratio"], 3),
        "context_whole_over_plain": whole["context_whole_over_plain"],
        "memory_bytes_accuracy": {
            "english_200": round(bytes_200["accuracy"], 3),
            "english_2000": round(bytes_2000["accuracy"], 3),
            **{f"mixed_{n}": round(held["accuracy"], 3) for n, held in mixed.items()},
        },
    }
    rows: list[list[Any]] = [[name, *ops[name].values(), "", "", ""] for name in ops]
    rows += [[name, *figures.values(), "", "", ""] for name, figures in durable.items()]
    for label, table in (("2,000", snaps), ("200", snaps_small)):
        for name, (ours_p, peer_p, size) in table.items():
            note = f"{size:,} B"
            row = [f"snapshot {label} msgs {name}", *ours_p.values()]
            rows.append([*row, *peer_p.values(), note])
    for name, figures in floors.items():
        rows.append(
            [
                f"  {name} put+get only",
                *figures.values(),
                "",
                "",
                "",
            ]
        )
    for n, held in (("200", bytes_200), ("2000", bytes_2000)):
        share = f"{held['agentrt'] / held['plain']:.1%} of plain"
        rows.append([f"held {n} msgs", held["agentrt"], held["estimate"], held["plain"], "", share])
    for n, held in mixed.items():
        share = f"{held['agentrt'] / held['plain']:.1%} of plain"
        rows.append(
            [
                f"held {n} mixed-language",
                held["agentrt"],
                held["estimate"],
                held["plain"],
                "",
                share,
            ]
        )
    for name, ratio in result["memory_bytes_accuracy"].items():
        rows.append([f"memory_bytes/tracemalloc {name}", ratio, "", "", "", "worst conversation"])
    rows.append(["ratio raw/stored", result["ratio"], "", "", "", ""])
    return result, rows


def _pct(samples: list[float]) -> dict[str, float]:
    return summarize(samples, "us", (50, 99))


def _real_text_rows(result: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for label in ("short", "long"):
        part = result[label]
        json_bytes = part["bytes"]["json"]
        for name, ratio in part["ratio"].items():
            size = part["bytes"][name]
            rows.append(
                [f"{label} ({part['median_messages']:g} msgs) {name}", size, json_bytes, ratio]
            )
    held = result["resident_6_messages"]
    names = ("plain", "messages", "encoded", "agentrt", "agentrt_stored")
    rows += [[f"resident 6 msgs {name}", held[name], held["plain"], ""] for name in names]
    rows.append(
        ["resident 6 msgs agentrt_encoded", held["agentrt_encoded"], held["plain_encoded"], ""]
    )
    rows += [[f"  {name}", size, "", ""] for name, size in held["breakdown"].items()]
    rows.append(["  utf8_copies (once encoded)", held["utf8_copies"], "", ""])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__.splitlines()[0] if __doc__ else "memory")
    parser.add_argument(
        "--real-text", action="store_true", help="short public-chat-like conversations only"
    )
    args = parser.parse_args(argv)
    if args.real_text:
        real = asyncio.run(real_text(args.quick))
        columns = ["figure", "bytes", "JSON bytes", "JSON/bytes"]
        rows = _real_text_rows(real)
        emit(real, as_json=args.json, title="real-text memory", rows=rows, columns=columns)
        return 0
    result, rows = asyncio.run(run(args.quick))
    columns = ["figure", "p50 µs|B", "p99 µs|est.", "peer p50|B", "peer p99", "note"]
    emit(result, as_json=args.json, title="conversation memory", rows=rows, columns=columns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
