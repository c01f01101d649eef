"""The stored form of a cache entry: a format byte, then msgpack, zstd above a threshold.

Layout: one header byte, then the payload. ``0x01``: msgpack of the entry; ``0x02``: a zstd
frame of that msgpack. Any other first byte is a format this version does not know and is
rejected (:class:`~agentrt.tools.CacheDecodeError`), as is a payload that is not a valid
entry or decompresses beyond ``max_value_bytes``. Nothing is ever unpickled: a poisoned
cache yields data, never code.

msgpack comes from ``msgspec`` (already a dependency, typed decoding validates the entry's
shape at C speed), so no ``msgpack`` package is needed.

Example::

    codec = EntryCodec(compress_threshold=1024)
    blob = codec.encode(Entry(value={"temp": 18}, stored_at=time.time(), ttl=60.0))
    codec.decode(blob).value    # {"temp": 18}
"""

from __future__ import annotations

from typing import Any

import msgspec
import zstandard

from agentrt.errors import ConfigError
from agentrt.tools._errors import CacheDecodeError, CacheEncodeError

__all__ = ["FORMAT_MSGPACK", "FORMAT_MSGPACK_ZSTD", "Entry", "EntryCodec"]

FORMAT_MSGPACK = 0x01
FORMAT_MSGPACK_ZSTD = 0x02


class Entry(msgspec.Struct, frozen=True, array_like=True):
    """One cached value.

    - ``value``: any JSON/msgpack-able value (treat it as read-only: the memory backend
      hands out the stored object itself).
    - ``stored_at``: wall-clock seconds when stored (``time.time()``).
    - ``ttl``: seconds it lives after ``stored_at``.
    - ``error``: True for a negatively cached error.
    - ``cost``: the estimated cost of producing it (what a hit saves).
    - ``tags``: invalidation tags (stored with the value so that an entry copied from
      Redis into memory keeps them).
    """

    value: Any
    stored_at: float
    ttl: float
    error: bool = False
    cost: float = 0.0
    tags: tuple[str, ...] = ()

    def remaining(self, now: float) -> float:
        """Seconds left before expiry at wall-clock ``now`` (negative when expired)."""
        return self.stored_at + self.ttl - now


class EntryCodec:
    """Encodes/decodes :class:`Entry` with the format byte; one per loop (the zstd
    contexts are reused and are not thread-safe).

    - ``compress_threshold``: payloads of at least this many bytes are zstd-compressed
      (default 1024), when that makes them smaller.
    - ``level``: zstd level (default 3).
    - ``max_value_bytes``: the largest payload decoded, compressed or not (default 8 MiB).
    """

    def __init__(
        self, *, compress_threshold: int = 1024, level: int = 3, max_value_bytes: int = 8 << 20
    ) -> None:
        if compress_threshold < 0:
            raise ConfigError("compress_threshold", f"must be >= 0, got {compress_threshold!r}")
        if max_value_bytes < 1:
            raise ConfigError("max_value_bytes", f"must be >= 1, got {max_value_bytes!r}")
        self.compress_threshold = compress_threshold
        self.max_value_bytes = max_value_bytes
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Entry)
        self._compressor = zstandard.ZstdCompressor(level=level)
        self._decompressor = zstandard.ZstdDecompressor()

    def payload_size(self, entry: Entry) -> int:
        """Bytes of the uncompressed payload (the memory backend's size estimate)."""
        return len(self._encoder.encode(entry))

    def encode(self, entry: Entry) -> bytes:
        """The stored bytes of ``entry``. Raises ``CacheEncodeError`` (a TypeError) for a
        value msgpack cannot hold."""
        try:
            payload = self._encoder.encode(entry)
        except (TypeError, msgspec.EncodeError) as exc:
            raise CacheEncodeError(f"cache value is not msgpack-serializable: {exc}") from exc
        if len(payload) >= self.compress_threshold:
            packed = self._compressor.compress(payload)
            if len(packed) < len(payload):
                return bytes((FORMAT_MSGPACK_ZSTD,)) + packed
        return bytes((FORMAT_MSGPACK,)) + payload

    def decode(self, blob: bytes, key: str | None = None) -> Entry:
        """The entry stored as ``blob``; CacheDecodeError (naming ``key``) when invalid."""
        if not blob:
            raise CacheDecodeError("empty value", key)
        fmt, payload = blob[0], memoryview(blob)[1:]
        if fmt == FORMAT_MSGPACK_ZSTD:
            payload = memoryview(self._decompress(payload, key))
        elif fmt != FORMAT_MSGPACK:
            raise CacheDecodeError(f"unknown format byte 0x{fmt:02x}", key)
        if len(payload) > self.max_value_bytes:
            raise CacheDecodeError(f"value of {len(payload)} bytes exceeds max_value_bytes", key)
        try:
            return self._decoder.decode(payload)
        except msgspec.DecodeError as exc:
            raise CacheDecodeError(f"invalid entry: {exc}", key) from None

    def _decompress(self, payload: memoryview, key: str | None) -> bytes:
        try:
            params = zstandard.get_frame_parameters(payload)
            if params.content_size > self.max_value_bytes:
                raise CacheDecodeError("compressed value too large", key)
            out: bytes = self._decompressor.decompress(
                payload, max_output_size=self.max_value_bytes
            )
        except zstandard.ZstdError as exc:
            raise CacheDecodeError(f"invalid zstd frame: {exc}", key) from None
        return out
