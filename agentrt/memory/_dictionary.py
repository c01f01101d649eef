"""The runtime's zstd dictionaries: trained from the text the node sees, versioned, persistable.

A :class:`DictionaryRegistry` is owned by the runtime and handed to every
:class:`~agentrt.memory.Conversation`; all agents share it (there is no module-level
registry). Its life:

1. **Sampling.** Every conversation offers each message it appends (its msgpack bytes,
   already encoded for the store; :meth:`DictionaryRegistry.offer`), and the registry keeps
   one in ``sample_every`` as a training sample (bounded by ``max_sample_bytes``; oldest
   dropped first). Nothing waits for a sealed chunk: real chats are short (median ~6
   messages) and almost never seal one, so the samples come from every conversation,
   short ones included. Until a dictionary exists, chunks and snapshots are compressed
   with plain zstd (dictionary id 0).
2. **Training.** After ``train_after_samples`` samples the registry trains a dictionary of
   ``dict_size`` bytes in a worker thread (``asyncio.to_thread``: fastcover with fixed
   ``k``/``d`` takes ~60 ms on 8,000 samples, too long for the event loop) in a task the
   registry owns. ``await registry.train()`` does the same on demand, and
   ``await registry.train(samples)`` trains from samples the caller gives (pre-training
   from a sample corpus, or from messages read back from the store) instead of the
   sampled ones. The new dictionary becomes *current*; with ``retrain_after_samples`` set,
   a later version replaces it as current.
3. **Versions.** A dictionary's id is the first 4 bytes of its BLAKE2b digest (never 0):
   the id *is* the version name, derived from the content, so two nodes training at the
   same time never clash (different content, different ids; same content, same id).
   ``version`` (a per-node training count) is informational only. Every chunk and every
   snapshot records the id that compressed it; old dictionaries stay loaded (and stored),
   so everything written with an old version stays readable.
4. **Persistence.** With a ``store``, each dictionary is written under
   ``{store_prefix}{id:08x}`` before anything uses it, and the current id under
   ``{store_prefix}current``. :meth:`load_current` (at runtime start) resumes with the
   stored current dictionary, and :meth:`load` fetches the dictionaries a restored
   conversation names, so everything stays readable after a restart and on other nodes.
   A record naming an id that is neither loaded nor stored raises
   :class:`~agentrt.memory.UnknownDictionary`; ``Conversation.open`` quarantines such a
   conversation like any other damaged one (moved, never overwritten).

One ``ZstdCompressor`` per dictionary (level ``level``, no checksum, no dict id in the
frame) and one ``ZstdDecompressor`` per dictionary are built once and reused; none is built
per message or per chunk. They are used from the event loop thread only.

Example::

    registry = DictionaryRegistry(DictionaryConfig(train_after_samples=500), store=store)
    await registry.load_current()          # resume the dictionary of the last run
    await registry.train([m.content.encode() for m in corpus])   # optional pre-training
    ...                                     # conversations append messages, offering samples
    await registry.aclose()                 # waits for/cancels a training in flight
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import struct
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import zstandard

from agentrt.errors import ArgumentTypeError, ConfigError
from agentrt.memory._errors import CorruptSnapshot, UnknownDictionary
from agentrt.memory.stores._base import Store

__all__ = ["DictionaryConfig", "DictionaryRegistry", "dictionary_id"]

_log = logging.getLogger("agentrt.memory.dictionary")
_DICT_MAGIC = b"AGZD\x01"  # persisted dictionary, format version 1
_CURRENT_MAGIC = b"AGZC\x01"  # persisted "current dictionary" pointer, format version 1


@dataclass(frozen=True, kw_only=True)
class DictionaryConfig:
    """How the runtime's dictionaries are trained and used.

    - ``level`` (3): zstd level of every chunk (best ratio/speed trade-off measured on the
      chat corpus: level 6 gains ~4% ratio for 2.8x the sealing time).
    - ``snapshot_level`` (6): zstd level of snapshots and head records, written once per
      close or seal rather than per chunk: on short public-chat-like conversations
      (``python -m loadtest.bench.memory --real-text``) level 6 stores them in ~6% fewer
      bytes than level 3 for ~70 µs more per snapshot.
    - ``dict_size`` (262,144): bytes of a trained dictionary. One per runtime, so size is
      cheap: on the benchmark's chat corpus 64 KiB gave a 3.01x ratio, zstd's default
      110 KiB 3.03x, 256 KiB 3.10x, for ~7% more sealing time.
    - ``train_after_samples`` (2,000): samples kept before the first training.
    - ``sample_every`` (1): keep one in this many of the messages conversations offer
      (1 keeps all until the first training; raise it to sample a busy node thinly).
    - ``retrain_after_samples`` (None): train a new version after this many further
      samples; ``None`` trains once (and stops sampling).
    - ``max_sample_bytes`` (8 MiB): bound of the sample buffer (oldest dropped first).
    - ``auto_train`` (True): train in the background when due; ``False`` leaves it to
      :meth:`DictionaryRegistry.train`.
    - ``store_prefix`` (``"dict/"``): key prefix of persisted dictionaries.

    Example: ``DictionaryConfig(dict_size=32_768, train_after_samples=500)``
    """

    level: int = 3
    snapshot_level: int = 6
    dict_size: int = 262_144
    train_after_samples: int = 2_000
    sample_every: int = 1
    retrain_after_samples: int | None = None
    max_sample_bytes: int = 8 * 1024 * 1024
    auto_train: bool = True
    store_prefix: str = "dict/"

    def __post_init__(self) -> None:
        if not 1 <= self.level <= 22:
            raise ConfigError("level", f"must be 1..22, got {self.level}")
        if not 1 <= self.snapshot_level <= 22:
            raise ConfigError("snapshot_level", f"must be 1..22, got {self.snapshot_level}")
        if self.dict_size < 1024:
            raise ConfigError("dict_size", f"must be >= 1024 bytes, got {self.dict_size}")
        if self.train_after_samples < 10:
            raise ConfigError("train_after_samples", "must be >= 10")
        if not 1 <= self.sample_every <= 1_000_000:
            raise ConfigError("sample_every", f"must be 1..1000000, got {self.sample_every}")
        if self.retrain_after_samples is not None and self.retrain_after_samples < 10:
            raise ConfigError("retrain_after_samples", "must be >= 10 or None")
        if self.max_sample_bytes < self.dict_size:
            raise ConfigError("max_sample_bytes", "must be >= dict_size")


def dictionary_id(data: bytes) -> int:
    """The id of dictionary bytes ``data``: 4 bytes of BLAKE2b, never 0."""
    value = int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big")
    return value or 1


def _exact(data: bytes) -> bytes:
    """A right-sized copy: ``ZstdCompressor.compress`` returns bytes whose allocation keeps
    the compress bound (about the raw size); holding those would waste ~3x the memory."""
    return bytes(memoryview(data))


def _as_samples(samples: Iterable[bytes | str]) -> list[bytes]:
    out = []
    for n, item in enumerate(samples):
        if isinstance(item, str):
            item = item.encode("utf-8", "surrogatepass")
        elif not isinstance(item, bytes | bytearray | memoryview):
            raise ArgumentTypeError(
                f"samples[{n}]", f"samples[{n}] must be bytes or str, got {type(item).__name__}"
            )
        if item:
            out.append(bytes(item))
    return out


def _train(samples: list[bytes | bytearray | memoryview], size: int) -> bytes:
    # Fixed fastcover parameters: k=0/d=0 would search them, 4-5x slower for <0.5% ratio.
    trained = zstandard.train_dictionary(size, samples, k=256, d=8)
    return bytes(trained.as_bytes())


class _Entry:
    """One loaded dictionary with its reusable (de)compressor."""

    __slots__ = ("compressor", "data", "decompressor", "snapshots", "version")

    def __init__(self, data: bytes, version: int, config: DictionaryConfig) -> None:
        zdict = zstandard.ZstdCompressionDict(data)
        self.data = data
        self.version = version
        self.compressor = zstandard.ZstdCompressor(
            level=config.level, dict_data=zdict, write_checksum=False, write_dict_id=False
        )
        self.snapshots = zstandard.ZstdCompressor(
            level=config.snapshot_level, dict_data=zdict, write_checksum=False, write_dict_id=False
        )
        self.decompressor = zstandard.ZstdDecompressor(dict_data=zdict)


class DictionaryRegistry:
    """The dictionaries of one runtime. See the module docstring."""

    def __init__(self, config: DictionaryConfig | None = None, *, store: Store | None = None):
        self.config = config or DictionaryConfig()
        self._store = store
        self._plain = zstandard.ZstdCompressor(level=self.config.level, write_checksum=False)
        self._plain_snapshots = zstandard.ZstdCompressor(
            level=self.config.snapshot_level, write_checksum=False
        )
        self._plain_d = zstandard.ZstdDecompressor()
        self._entries: dict[int, _Entry] = {}
        self._current = 0
        self._samples: deque[bytes] = deque()
        self._sample_bytes = 0
        self._since_training = 0
        self._offered = 0
        self._task: asyncio.Task[int] | None = None
        self._lock = asyncio.Lock()
        self._trainings = 0
        self._train_seconds = 0.0
        self._compressed = 0
        self._decompressed = 0

    @property
    def current_id(self) -> int:
        """Id of the dictionary new chunks use (0: none trained yet)."""
        return self._current

    @property
    def wants_samples(self) -> bool:
        """True while the registry collects training samples."""
        if not self._current:
            return True
        return self.config.retrain_after_samples is not None

    def compress(self, raw: bytes) -> tuple[int, bytes]:
        """Compress ``raw`` with the current dictionary; returns ``(dict_id, data)``."""
        self._compressed += 1
        if not self._current:
            return 0, _exact(self._plain.compress(raw))
        return self._current, _exact(self._entries[self._current].compressor.compress(raw))

    def compress_snapshot(self, raw: bytes) -> tuple[int, bytes]:
        """Compress a snapshot or head body with the current dictionary at
        ``snapshot_level``; returns ``(dict_id, data)``."""
        if not self._current:
            return 0, _exact(self._plain_snapshots.compress(raw))
        return self._current, _exact(self._entries[self._current].snapshots.compress(raw))

    def decompress(self, dict_id: int, data: bytes, raw_size: int) -> bytes:
        """Decompress chunk ``data`` written with ``dict_id``.

        Raises :class:`UnknownDictionary` when ``dict_id`` is not loaded (call :meth:`load`
        first) and ``zstandard.ZstdError`` (a ``ValueError``-like error) on damaged data.
        """
        self._decompressed += 1
        if not dict_id:
            out: bytes = self._plain_d.decompress(data, max_output_size=raw_size)
            return out
        entry = self._entries.get(dict_id)
        if entry is None:
            raise UnknownDictionary(dict_id, "not loaded; await registry.load() first")
        return entry.decompressor.decompress(data, max_output_size=raw_size)

    def knows(self, dict_id: int) -> bool:
        """True when chunks written with ``dict_id`` can be read now."""
        return dict_id == 0 or dict_id in self._entries

    def offer(self, sample: bytes) -> None:
        """A conversation offers one appended message (its msgpack bytes): kept as a
        sample when the registry wants samples and it is the ``sample_every``-th offer."""
        if not self.wants_samples:
            return
        self._offered += 1
        if self._offered >= self.config.sample_every:
            self._offered = 0
            self.observe((sample,))

    def observe(self, samples: Iterable[bytes]) -> None:
        """Add training samples (encoded messages); may start a background training."""
        if not self.wants_samples:
            return
        for sample in samples:
            self._samples.append(sample)
            self._sample_bytes += len(sample)
            self._since_training += 1
        while self._sample_bytes > self.config.max_sample_bytes:
            self._sample_bytes -= len(self._samples.popleft())
        if self.config.auto_train and self._training_due() and self._task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: wait for train()
                self._task = asyncio.get_running_loop().create_task(self._auto_train())

    def _training_due(self) -> bool:
        if not self._current:
            return self._since_training >= self.config.train_after_samples
        again = self.config.retrain_after_samples
        return again is not None and self._since_training >= again

    async def _auto_train(self) -> int:
        try:
            return await self.train()
        except Exception:  # chunks keep using the old dictionary
            self._since_training = 0  # retry after as many new samples again, not at once
            _log.exception("dictionary training failed; will retry after more samples")
            return self._current
        finally:
            self._task = None

    async def train(self, samples: Iterable[bytes | str] | None = None) -> int:
        """Train a dictionary now (in a thread) and make it current; returns its id.

        ``samples`` (default: the samples the registry has kept): message texts or encoded
        messages of a sample corpus or of conversations read back from a store, e.g.
        ``await registry.train(m.content for m in corpus)``; ``str`` items are UTF-8
        encoded. Given samples leave the kept ones alone.

        Returns the current id unchanged when there are fewer than 10 non-empty samples
        (zstd needs some); raises ``ArgumentTypeError`` for an item that is neither
        ``bytes`` nor ``str``, and ``zstandard.ZstdError`` if training itself fails (too
        little text for ``dict_size``, for one). Persists the dictionary, then the
        current pointer, when the registry has a store (``StoreError`` if that fails; the
        dictionary is then not made current).
        """
        given = None if samples is None else _as_samples(samples)
        async with self._lock:
            chosen: list[bytes | bytearray | memoryview] = list(
                self._samples if given is None else given
            )
            if len(chosen) < 10:
                return self._current
            started = time.perf_counter()
            data = await asyncio.to_thread(_train, chosen, self.config.dict_size)
            self._train_seconds = time.perf_counter() - started
            dict_id = self.add(data)
            self._trainings += 1
            if given is None:
                self._since_training = 0
                if self.config.retrain_after_samples is None:
                    self._samples.clear()
                    self._sample_bytes = 0
            await self._persist(dict_id)
            self._current = dict_id
            _log.info("trained zstd dictionary %08x in %.0f ms", dict_id, self._train_seconds * 1e3)
            return dict_id

    def add(self, data: bytes, *, version: int | None = None) -> int:
        """Load dictionary bytes (trained here, stored, or shipped); returns its id.

        Does not make it current (training does). Adding a known dictionary is a no-op.
        """
        dict_id = dictionary_id(data)
        if dict_id not in self._entries:
            if version is None:
                version = max((e.version for e in self._entries.values()), default=0) + 1
            self._entries[dict_id] = _Entry(data, version, self.config)
        return dict_id

    async def _persist(self, dict_id: int) -> None:
        if self._store is None:
            return
        entry = self._entries[dict_id]
        record = _DICT_MAGIC + struct.pack(">II", dict_id, entry.version) + entry.data
        pointer = _CURRENT_MAGIC + struct.pack(">I", dict_id)
        prefix = self.config.store_prefix
        await self._store.put(f"{prefix}{dict_id:08x}", record)
        await self._store.put(f"{prefix}current", pointer)

    async def load(self, dict_ids: Iterable[int]) -> None:
        """Make sure every id in ``dict_ids`` is loaded, fetching from the store.

        Raises :class:`UnknownDictionary` for an id that is neither loaded nor stored, and
        :class:`CorruptSnapshot` (naming the key) for a stored record that does not decode.
        """
        missing = sorted({i for i in dict_ids if not self.knows(i)})
        if not missing:
            return
        if self._store is None:
            raise UnknownDictionary(missing[0], "the registry has no store to load it from")
        keys = {i: f"{self.config.store_prefix}{i:08x}" for i in missing}
        found = await self._store.get_many(keys.values())
        for dict_id, key in keys.items():
            record = found.get(key)
            if record is None:
                raise UnknownDictionary(dict_id, f"not in the store at {key!r}")
            self._load_record(key, dict_id, record)

    def _load_record(self, key: str, dict_id: int, record: bytes) -> None:
        head = len(_DICT_MAGIC) + 8
        if not record.startswith(_DICT_MAGIC) or len(record) <= head:
            raise CorruptSnapshot(key, "not a dictionary record (bad magic or too short)")
        stored_id, version = struct.unpack(">II", record[len(_DICT_MAGIC) : head])
        data = record[head:]
        if stored_id != dict_id or dictionary_id(data) != dict_id:
            raise CorruptSnapshot(key, f"dictionary content does not match id {dict_id:08x}")
        try:
            self.add(data, version=version)
        except zstandard.ZstdError as exc:
            raise CorruptSnapshot(key, f"not a zstd dictionary: {exc}") from exc

    async def load_current(self) -> int:
        """Resume the current dictionary recorded in the store; returns its id (0: none)."""
        if self._store is None:
            return self._current
        key = f"{self.config.store_prefix}current"
        pointer = await self._store.get(key)
        if pointer is None:
            return self._current
        if not pointer.startswith(_CURRENT_MAGIC) or len(pointer) != len(_CURRENT_MAGIC) + 4:
            raise CorruptSnapshot(key, "not a dictionary pointer")
        dict_id = int.from_bytes(pointer[len(_CURRENT_MAGIC) :], "big")
        await self.load([dict_id])
        self._current = dict_id
        return dict_id

    def stats(self) -> dict[str, Any]:
        """Current id and version, dictionaries loaded, samples held, trainings, counters."""
        current = self._entries.get(self._current)
        return {
            "current_id": self._current,
            "current_version": current.version if current else 0,
            "dictionaries": len(self._entries),
            "dictionary_bytes": sum(len(e.data) for e in self._entries.values()),
            "samples": len(self._samples),
            "sample_bytes": self._sample_bytes,
            "trainings": self._trainings,
            "last_train_ms": round(self._train_seconds * 1e3, 3),
            "training": self._task is not None,
            "chunks_compressed": self._compressed,
            "chunks_decompressed": self._decompressed,
        }

    async def aclose(self) -> None:
        """Cancel a background training in flight and wait for it. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
