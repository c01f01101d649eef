"""The ``Store`` interface every persistence backend implements, and its value framing.

A store maps string keys to bytes. It is deliberately small and async::

    await store.put("conv/42/head", data, ttl=None)
    data = await store.get("conv/42/head")          # bytes or None
    found = await store.get_many(["a", "b"])        # {key: bytes} for the keys present
    await store.put_many({"a": b"1", "b": b"2"})    # one batch (write-behind uses it)
    await store.delete("a", "b")
    keys = await store.keys("conv/42/")             # every key under a prefix
    await store.rename_many({"a": "quarantine/a"})  # move values as stored, undecoded
    await store.aclose()

Values are opaque bytes to the interface; the memory layer versions its own payloads
(snapshots, chunks, dictionaries each start with a magic and a version). Nothing is
pickled anywhere. Backends that leave the process (SQLite, Redis) additionally frame each
value with one version/compression byte (:func:`frame_value`): ``0x00`` raw, ``0x01``
zstd; values shorter than ``compress_min``, that do not shrink, or (above 16 KiB) whose
4 KiB middle probe does not shrink by 10% are kept raw. A value whose
frame byte is unknown, or whose zstd data is damaged, raises
:class:`~agentrt.memory._errors.CorruptSnapshot` naming the key. Backend failures raise
:class:`~agentrt.memory._errors.StoreError` naming the backend, the operation and the key.

``ttl`` is in seconds (``None``: keep forever); an expired key reads as absent.

The shipped backends time each operation (:class:`OpTimings`, by operation name: ``get``,
``put``, ``put_many``, ``delete``...); their ``stats()`` carry it as ``"latency"``
(``{operation: {"count", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"}}``, failed
operations included), which the runtime exports as
``agentrt_store_operation_seconds``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

import zstandard

from agentrt.memory._errors import CorruptSnapshot
from agentrt.telemetry import LogHistogram

__all__ = [
    "FRAME_RAW",
    "FRAME_ZSTD",
    "OpTimings",
    "Store",
    "frame_value",
    "timed",
    "unframe_value",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

FRAME_RAW = 0x00
"""Frame byte of a value stored as given."""
FRAME_ZSTD = 0x01
"""Frame byte of a value stored zstd-compressed (level 3, no dictionary)."""


_PROBE = 4096


@runtime_checkable
class Store(Protocol):
    """An async key-value store of bytes. See the module docstring for the contract."""

    name: str
    """Short backend name for errors and telemetry (``"memory"``, ``"sqlite"``, ``"redis"``)."""

    async def get(self, key: str) -> bytes | None:
        """The value at ``key``, or ``None`` when absent or expired."""
        ...

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The values of those ``keys`` that are present, in one round trip."""
        ...

    async def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` at ``key``; once this returns the value is stored."""
        ...

    async def put_many(self, items: Mapping[str, bytes], ttl: float | None = None) -> None:
        """Store several values at once (atomically where the backend allows)."""
        ...

    async def delete(self, *keys: str) -> None:
        """Remove ``keys``; absent keys are ignored."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix`` (unordered; expired ones may be included)."""
        ...

    async def rename_many(self, renames: Mapping[str, str]) -> None:
        """Move the value of each key ``old`` to ``new`` exactly as stored (never decoded,
        so damaged data moves intact), TTL kept; absent ``old`` keys are skipped. Used to
        quarantine damaged records instead of overwriting them."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counters of this store (operations, errors, bytes...)."""
        ...

    async def aclose(self) -> None:
        """Release connections/threads. Idempotent."""
        ...


class OpTimings:
    """Latency of a store's operations, one ``LogHistogram`` (seconds) per operation
    name, kept since the store opened. ``view()``: per operation its count and
    ``summary(unit="ms")``.

    Example::

        timings = OpTimings()
        timings.record("get", 0.0004)
        timings.view()["get"]["p50_ms"]  # ~0.4
    """

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: dict[str, LogHistogram] = {}

    def record(self, operation: str, seconds: float) -> None:
        hist = self.ops.get(operation)
        if hist is None:
            hist = self.ops[operation] = LogHistogram()
        hist.record(seconds)

    def view(self) -> dict[str, dict[str, float]]:
        return {op: hist.summary(unit="ms") for op, hist in self.ops.items()}


class _Timed(Protocol):
    timings: OpTimings


_S = TypeVar("_S", bound=_Timed)


_Method = Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]


def timed(operation: str) -> Callable[[_Method[_S, _P, _T]], _Method[_S, _P, _T]]:
    """Decorate a store's async method: its time (failed calls too) goes to
    ``self.timings`` under ``operation``."""

    def wrap(fn: _Method[_S, _P, _T]) -> _Method[_S, _P, _T]:
        async def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            started = time.perf_counter()
            try:
                return await fn(self, *args, **kwargs)
            finally:
                self.timings.record(operation, time.perf_counter() - started)

        functools.update_wrapper(run, fn)  # name and docstring of the method
        return run

    return wrap


def frame_value(
    value: bytes, compressor: zstandard.ZstdCompressor, compress_min: int = 256
) -> bytes:
    """``value`` with its frame byte, compressed when that makes it smaller."""
    if len(value) >= compress_min and _worth_compressing(value, compressor):
        packed = compressor.compress(value)
        if len(packed) + 1 < len(value):
            return bytes((FRAME_ZSTD,)) + packed
    return bytes((FRAME_RAW,)) + value


def _worth_compressing(value: bytes, compressor: zstandard.ZstdCompressor) -> bool:
    """For large values, compress a 4 KiB probe first: already-compressed payloads
    (snapshots and chunks are zstd inside) are stored raw without a full pass."""
    if len(value) <= _PROBE * 4:
        return True
    middle = len(value) // 2
    return len(compressor.compress(value[middle : middle + _PROBE])) < _PROBE * 0.9


def unframe_value(key: str, data: bytes, decompressor: zstandard.ZstdDecompressor) -> bytes:
    """Inverse of :func:`frame_value`; raises :class:`CorruptSnapshot` naming ``key``."""
    if not data:
        raise CorruptSnapshot(key, "empty stored value (no frame byte)")
    kind = data[0]
    if kind == FRAME_RAW:
        return data[1:]
    if kind == FRAME_ZSTD:
        try:
            out: bytes = decompressor.decompress(data[1:])
        except zstandard.ZstdError as exc:
            raise CorruptSnapshot(key, f"damaged zstd value: {exc}") from exc
        return out
    raise CorruptSnapshot(key, f"unknown value frame byte {kind:#04x}")
