from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from agentrt.tools import CacheDecodeError, CacheEncodeError, Entry
from agentrt.tools.cache._codec import FORMAT_MSGPACK, FORMAT_MSGPACK_ZSTD, EntryCodec

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values, st.booleans(), st.floats(0.1, 1e6))
def test_roundtrip(value: Any, error: bool, ttl: float) -> None:
    codec = EntryCodec(compress_threshold=64)
    entry = Entry(value, 1.5, ttl, error, 0.25, ("tool:x",))
    assert codec.decode(codec.encode(entry)) == entry


def test_small_values_plain_large_values_compressed() -> None:
    codec = EntryCodec(compress_threshold=256)
    small = codec.encode(Entry("x" * 10, 0.0, 1.0))
    large = codec.encode(Entry("abc" * 1000, 0.0, 1.0))
    assert small[0] == FORMAT_MSGPACK
    assert large[0] == FORMAT_MSGPACK_ZSTD
    assert len(large) < 3000 // 4
    assert codec.decode(large).value == "abc" * 1000


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x09anything",  # unknown format byte
        b"\x01\xc1",  # invalid msgpack
        b"\x01" + msgspec.msgpack.encode({"not": "an entry"}),
        b"\x02not zstd at all",
        pickle.dumps(Entry("x", 0.0, 1.0)),  # a pickle is never loaded
    ],
)
def test_bad_blobs_are_rejected(blob: bytes) -> None:
    with pytest.raises(CacheDecodeError):
        EntryCodec().decode(blob, "k")


def test_decompression_bomb_is_refused() -> None:
    codec = EntryCodec(max_value_bytes=1000)
    payload = msgspec.msgpack.encode(Entry("z" * 100_000, 0.0, 1.0))
    blob = bytes((FORMAT_MSGPACK_ZSTD,)) + zstandard.ZstdCompressor().compress(payload)
    with pytest.raises(CacheDecodeError, match="too large"):
        codec.decode(blob)


def test_unencodable_value_is_a_type_error() -> None:
    with pytest.raises(CacheEncodeError, match="msgpack") as info:
        EntryCodec().encode(Entry(object(), 0.0, 1.0))
    assert isinstance(info.value, TypeError)
