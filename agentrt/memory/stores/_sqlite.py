"""``SQLiteStore``: the embedded durable store (one SQLite file, WAL mode).

The stdlib :mod:`sqlite3` driver blocks, so every statement runs on one dedicated thread
owned by the store (a single-worker executor): statements are serialized without a lock
and the event loop never waits on the disk. The database is opened in WAL mode with
``synchronous=NORMAL``: a committed write survives a process crash; an OS crash may lose
the last transactions (set ``synchronous="FULL"`` to fsync every commit). Each ``put`` /
``put_many`` / ``delete`` is one transaction.

Values are framed and compressed (:func:`~agentrt.memory.stores._base.frame_value`) before
they are written. Expired rows read as absent and are deleted lazily.

Example::

    store = SQLiteStore("/var/lib/agentrt/memory.db")
    await store.put("conv/1/head", data)
    await store.aclose()
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import zstandard

from agentrt.errors import ConfigError
from agentrt.memory._errors import StoreError
from agentrt.memory.stores._base import OpTimings, frame_value, unframe_value

__all__ = ["SQLiteStore"]

_T = TypeVar("_T")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS agentrt_kv ("
    "key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL NOT NULL DEFAULT 0)"
)


class SQLiteStore:
    """A key-value table in one SQLite file, driven from a dedicated thread."""

    name = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["OFF", "NORMAL", "FULL"] = "NORMAL",
        compress_min: int = 256,
    ) -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL"):
            raise ConfigError("synchronous", f"must be OFF, NORMAL or FULL, got {synchronous!r}")
        self.path = str(path)
        self._synchronous = synchronous
        self._compress_min = compress_min
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="agentrt-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._compressor = zstandard.ZstdCompressor(level=3)
        self._decompressor = zstandard.ZstdDecompressor()
        self._ops = 0
        self._errors = 0
        self.timings = OpTimings()
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    async def _run(self, operation: str, key: str, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise StoreError("sqlite", operation, key, "store is closed")
        self._ops += 1
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(self._connect()))
        except sqlite3.Error as exc:
            self._errors += 1
            raise StoreError("sqlite", operation, key, str(exc)) from exc
        finally:
            self.timings.record(operation, time.perf_counter() - started)

    async def get(self, key: str) -> bytes | None:
        """The value at ``key`` or ``None``."""
        found = await self.get_many([key])
        return found.get(key)

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The present values among ``keys`` (one query)."""
        wanted = list(keys)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        sql = f"SELECT key, value, expires FROM agentrt_kv WHERE key IN ({marks})"
        rows = await self._run("get", wanted[0], lambda c: c.execute(sql, wanted).fetchall())
        now = time.time()
        out = {}
        for key, value, expires in rows:
            if not expires or expires > now:
                out[key] = unframe_value(key, bytes(value), self._decompressor)
        return out

    async def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` at ``key`` (one transaction)."""
        await self.put_many({key: value}, ttl)

    async def put_many(self, items: Mapping[str, bytes], ttl: float | None = None) -> None:
        """Store ``items`` in one transaction."""
        if not items:
            return
        expires = time.time() + ttl if ttl else 0.0
        rows = [
            (k, frame_value(v, self._compressor, self._compress_min), expires)
            for k, v in items.items()
        ]

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN")
                conn.executemany("INSERT OR REPLACE INTO agentrt_kv VALUES (?, ?, ?)", rows)

        await self._run("put", rows[0][0], write)

    async def delete(self, *keys: str) -> None:
        """Remove ``keys`` (one transaction)."""
        if not keys:
            return
        params = [(k,) for k in keys]

        def remove(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN")
                conn.executemany("DELETE FROM agentrt_kv WHERE key = ?", params)

        await self._run("delete", keys[0], remove)

    async def keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix`` (one indexed range query)."""
        sql = "SELECT key FROM agentrt_kv WHERE key >= ? AND key < ?"
        bounds = (prefix, prefix + "\U0010ffff")
        rows = await self._run("keys", prefix, lambda c: c.execute(sql, bounds).fetchall())
        return [key for (key,) in rows if key.startswith(prefix)]

    async def rename_many(self, renames: Mapping[str, str]) -> None:
        """Move rows to new keys, values and expiry untouched (one transaction)."""
        if not renames:
            return
        pairs = [(new, old) for old, new in renames.items()]

        def move(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN")
                conn.executemany("DELETE FROM agentrt_kv WHERE key = ?", [(n,) for n, _ in pairs])
                conn.executemany("UPDATE agentrt_kv SET key = ? WHERE key = ?", pairs)

        await self._run("rename", next(iter(renames)), move)

    def stats(self) -> dict[str, Any]:
        """Path, operations, errors and latencies."""
        return {
            "backend": self.name,
            "path": self.path,
            "ops": self._ops,
            "errors": self._errors,
            "latency": self.timings.view(),
        }

    async def aclose(self) -> None:
        """Close the connection and stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await loop.run_in_executor(self._executor, close)
        self._executor.shutdown(wait=True)
