"""The measurements behind conversation memory's codec choices, on the benchmark corpus.

1. **Message encoding**: msgspec msgpack (chosen) vs msgspec JSON vs orjson (via
   ``msgspec.to_builtins``/``msgspec.convert`` to and from the same ``Message`` struct):
   encode and decode µs per message, raw bytes, and bytes once sealed in 50-message zstd
   chunks (level 3, each encoding with a dictionary trained on its own encoding).
2. **zstd level** for 50-message chunks with the trained dictionary: ratio, µs to seal
   (encode + compress) and to open (decompress + decode) one chunk.
3. **Dictionary**: ratio with none vs trained, and training time with fixed fastcover
   parameters (k=256, d=8; what the registry uses) vs zstd's parameter search.
4. **Framing**: one zstd frame per message (with the dictionary) vs 50-message chunks.

Dictionaries are trained on warm-up conversations (seeds 1000+) and measured on others.
With ``--real-text`` the corpus is :mod:`loadtest.bench.chat_realtext` (public-chat-like
text: no system prompt, no tools, 30% non-English; warm-up = short conversations of drawn
lengths, measured = long conversations of the same text).

    python -m loadtest.bench.memory_codec
    python -m loadtest.bench.memory_codec --quick --json
    python -m loadtest.bench.memory_codec --real-text --json
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
import zstandard

from agentrt.messages import Message
from loadtest.bench.chat_corpus import conversation
from loadtest.bench.chat_realtext import chats
from loadtest.bench.measure import bench_parser, emit

_CHUNK = 50
Codec = tuple[Callable[[Any], bytes], Callable[[bytes], Any], Callable[[list[Message]], bytes]]


def _codecs() -> dict[str, Codec]:
    mp_enc = msgspec.msgpack.Encoder()
    mp_dec = msgspec.msgpack.Decoder(Message)
    js_enc = msgspec.json.Encoder()
    js_dec = msgspec.json.Decoder(Message)
    out: dict[str, Codec] = {
        "msgspec-msgpack": (mp_enc.encode, mp_dec.decode, mp_enc.encode),
        "msgspec-json": (js_enc.encode, js_dec.decode, js_enc.encode),
    }
    try:
        import orjson
    except ImportError:  # the `bench` extra installs it
        return out

    def or_enc(m: Message) -> bytes:
        return orjson.dumps(msgspec.to_builtins(m))

    def or_dec(b: bytes) -> Message:
        return msgspec.convert(orjson.loads(b), Message)

    def or_many(ms: list[Message]) -> bytes:
        return orjson.dumps(msgspec.to_builtins(ms))

    out["orjson"] = (or_enc, or_dec, or_many)
    return out


def _per_message(fn: Callable[[Any], Any], items: list[Any]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def _chunks(convs: list[list[Message]]) -> list[list[Message]]:
    return [c[i : i + _CHUNK] for c in convs for i in range(1, len(c) - _CHUNK + 1, _CHUNK)]


def _train(
    samples: list[bytes], search: bool = False
) -> tuple[zstandard.ZstdCompressionDict, float]:
    start = time.perf_counter()
    if search:
        trained = zstandard.train_dictionary(65_536, samples)  # type: ignore[arg-type]
    else:
        trained = zstandard.train_dictionary(65_536, samples, k=256, d=8)  # type: ignore[arg-type]
    return trained, (time.perf_counter() - start) * 1e3


def _encodings(
    train: list[Message], messages: list[Message], chunks: list[list[Message]]
) -> dict[str, Any]:
    out = {}
    for name, (enc, dec, many) in _codecs().items():
        blobs = [enc(m) for m in messages]
        zdict, _ = _train([enc(m) for m in train])
        comp = zstandard.ZstdCompressor(level=3, dict_data=zdict, write_checksum=False)
        raw = [many(c) for c in chunks]
        stored = sum(len(comp.compress(r)) for r in raw)
        out[name] = {
            "encode_us": round(_per_message(enc, messages), 3),
            "decode_us": round(_per_message(dec, blobs), 3),
            "raw_bytes_per_msg": round(sum(map(len, blobs)) / len(blobs), 1),
            "stored_bytes_per_msg": round(stored / sum(map(len, chunks)), 1),
            "chunk_ratio": round(sum(map(len, raw)) / stored, 3),
        }
    return out


def _levels(
    zdict: zstandard.ZstdCompressionDict, chunks: list[list[Message]], levels: list[int]
) -> dict[str, Any]:
    enc = msgspec.msgpack.Encoder()
    dec = msgspec.msgpack.Decoder(list[Message])
    dctx = zstandard.ZstdDecompressor(dict_data=zdict)
    out = {}
    for level in levels:
        cctx = zstandard.ZstdCompressor(level=level, dict_data=zdict, write_checksum=False)
        start = time.perf_counter()
        frames = [cctx.compress(enc.encode(c)) for c in chunks]
        seal_us = (time.perf_counter() - start) / len(chunks) * 1e6
        start = time.perf_counter()
        for frame in frames:
            dec.decode(dctx.decompress(frame))
        open_us = (time.perf_counter() - start) / len(chunks) * 1e6
        raw = sum(len(enc.encode(c)) for c in chunks)
        out[str(level)] = {
            "ratio": round(raw / sum(map(len, frames)), 3),
            "seal_us": round(seal_us, 1),
            "open_us": round(open_us, 1),
        }
    return out


def run(quick: bool, real_text: bool = False) -> dict[str, Any]:
    if real_text:
        warm = [m for c in chats(10_000, 700 if quick else 3_000) for m in c]
        convs = chats(1, 2 if quick else 4, 600 if quick else 2000)
    else:
        warm = [m for s in range(1000, 1006 if quick else 1020) for m in conversation(s, 400)]
        convs = [conversation(s, 600 if quick else 2000) for s in range(1, 3 if quick else 5)]
    train = warm[:2000] if quick else warm
    messages = [m for c in convs for m in c]
    chunks = _chunks(convs)
    enc = msgspec.msgpack.Encoder().encode
    samples = [enc(m) for m in train]
    zdict, fixed_ms = _train(samples)
    raw = sum(len(enc(c)) for c in chunks)
    plain = zstandard.ZstdCompressor(level=3, write_checksum=False)
    with_dict = zstandard.ZstdCompressor(level=3, dict_data=zdict, write_checksum=False)
    result: dict[str, Any] = {
        "encodings": _encodings(train, messages, chunks),
        "levels": _levels(zdict, chunks, [1, 3, 6] if quick else [1, 3, 6, 9, 19]),
        "dictionary": {
            "samples": len(samples),
            "train_ms_fixed": round(fixed_ms, 1),
            "ratio_none": round(raw / sum(len(plain.compress(enc(c))) for c in chunks), 3),
            "ratio_trained": round(raw / sum(len(with_dict.compress(enc(c))) for c in chunks), 3),
        },
        "per_message_frames_ratio": round(
            sum(map(len, map(enc, messages)))
            / sum(len(with_dict.compress(enc(m))) for m in messages),
            3,
        ),
    }
    if not quick:
        _, search_ms = _train(samples, search=True)
        result["dictionary"]["train_ms_search"] = round(search_ms, 1)
    return result


def _rows(result: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for name, e in result["encodings"].items():
        rows.append(
            [
                f"encoding {name}",
                e["encode_us"],
                e["decode_us"],
                e["raw_bytes_per_msg"],
                e["stored_bytes_per_msg"],
                e["chunk_ratio"],
            ]
        )
    for level, figures in result["levels"].items():
        rows.append(
            [
                f"zstd level {level} (seal/open µs per chunk)",
                figures["seal_us"],
                figures["open_us"],
                "",
                "",
                figures["ratio"],
            ]
        )
    d = result["dictionary"]
    rows.append(["no dictionary", "", "", "", "", d["ratio_none"]])
    rows.append(
        [
            f"trained dictionary ({d['samples']} samples, {d['train_ms_fixed']} ms)",
            "",
            "",
            "",
            "",
            d["ratio_trained"],
        ]
    )
    if "train_ms_search" in d:
        rows.append(
            [f"  training with parameter search: {d['train_ms_search']} ms", "", "", "", "", ""]
        )
    rows.append(
        [
            "one frame per message (with dictionary)",
            "",
            "",
            "",
            "",
            result["per_message_frames_ratio"],
        ]
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("memory codec choices")
    parser.add_argument(
        "--real-text", action="store_true", help="public-chat-like text instead of agent work"
    )
    args = parser.parse_args(argv)
    result = run(args.quick, args.real_text)
    columns = [
        "figure",
        "encode | seal µs",
        "decode | open µs",
        "raw B/msg",
        "stored B/msg",
        "ratio",
    ]
    emit(result, as_json=args.json, title="memory codec", rows=_rows(result), columns=columns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
