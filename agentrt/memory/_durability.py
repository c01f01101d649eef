"""Durability modes: how a conversation's records reach its store.

A :class:`Journal` sits between one conversation and its :class:`~agentrt.memory.Store`:

- ``"write_through"`` (default): :meth:`Journal.put` returns once the store has the value,
  so an appended message that was acknowledged is stored.
- ``"write_behind"``: writes are buffered (a later write to a key replaces the buffered
  one) and flushed as one batch (``put_many`` then ``delete``) at most ``max_delay``
  seconds after the first buffered write, or at once when ``max_batch`` writes are
  buffered. A flush runs in a task owned by the journal that exits when the buffer is
  empty. If the store fails, the batch goes back into the buffer (nothing is lost) and is
  retried after a bounded backoff (logged once per outage: the first failure as a warning,
  the recovery as info); when ``max_pending`` writes are buffered, writers wait
  for a flush and see its :class:`~agentrt.memory._errors.StoreError` (backpressure).
  :meth:`Journal.aclose` flushes; the runtime calls it on terminate and on shutdown.

With a ``fence`` (cluster mode: the :class:`~agentrt.memory.Fence` this incarnation of the
agent claimed), every write, buffered or not, goes through the store's fenced write
(``put_many_fenced``: puts and deletes of one flush in one atomic step). When another
node has claimed the agent since, the store refuses it with
:class:`~agentrt.memory.StaleWrite`, and the journal is **fenced out** for good: the
refused batch and whatever is buffered are dropped (the new owner's state is the truth
now, and retrying could never succeed), one error line is logged naming the writes
dropped and both tokens, ``stats()`` counts them (``fenced_out_writes``), and every later
``put``/``delete``/``flush``/``aclose`` raises that ``StaleWrite`` at once, so the agent
learns at its next write that it must stop. Without a fence, nothing changes.

Reads through :meth:`Journal.read` see buffered writes first.

Example::

    journal = Journal(store, DurabilityConfig(mode="write_behind", max_delay=0.05))
    await journal.put("conv/1/m/0", data)    # buffered
    await journal.aclose()                    # flushed
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.memory._errors import StaleWrite, StoreError
from agentrt.memory.stores._base import Store
from agentrt.memory.stores._fencing import Fence, FencedStore

__all__ = ["Durability", "DurabilityConfig", "Journal"]

_log = logging.getLogger("agentrt.memory.durability")

_NO_PENDING: dict[str, bytes | None] = {}
"""The empty buffer every journal starts with and returns to; never written into
(``Journal._buffer`` makes a journal its own dict at its first buffered write)."""

Durability = Literal["write_through", "write_behind"]
"""``"write_through"``: acknowledged means stored. ``"write_behind"``: batched, bounded delay."""


@dataclass(frozen=True, kw_only=True)
class DurabilityConfig:
    """How writes reach the store.

    - ``mode`` (``"write_through"``): see :data:`Durability`.
    - ``max_delay`` (0.05 s): write-behind: longest a buffered write waits for its flush.
    - ``max_batch`` (256): write-behind: flush at once when this many writes are buffered.
    - ``max_pending`` (4,096): write-behind: writers wait for a flush beyond this bound.
    - ``retry_max`` (5.0 s): write-behind: longest backoff between failed flushes.
    - ``ttl`` (None): seconds every stored record lives; ``None`` keeps them.

    Example: ``DurabilityConfig(mode="write_behind", max_delay=0.2, ttl=86_400)``
    """

    mode: Durability = "write_through"
    max_delay: Annotated[float, Bounds(low=0, high=3_600, unit=" s")] = 0.05
    max_batch: Annotated[int, Bounds(low=1, high=1_000_000)] = 256
    max_pending: Annotated[int, Bounds(low=1, high=100_000_000)] = 4_096
    retry_max: Annotated[float, Bounds(low=0, open_low=True, high=3_600, unit=" s")] = 5.0
    ttl: (
        Annotated[float, Bounds(low=0, open_low=True, high=10 * 365 * 86_400, unit=" s")] | None
    ) = None

    def __post_init__(self) -> None:
        if self.mode not in ("write_through", "write_behind"):
            raise ConfigError("mode", f"unknown mode {self.mode!r}")
        check_fields(self)  # NaN, inf, bools, negatives and the absurd
        if self.max_pending < self.max_batch:
            raise ConfigError("max_pending", "must be >= max_batch")


class Journal:
    """Writes of one conversation to ``store`` in the configured durability mode."""

    # one per conversation: slotted, and its flush lock made at the first flush
    __slots__ = (
        "_batches",
        "_dropped",
        "_failures",
        "_fenced_out",
        "_flush_lock",
        "_pending",
        "_streak",
        "_task",
        "_writes",
        "config",
        "fence",
        "last_error",
        "store",
    )

    def __init__(
        self, store: Store, config: DurabilityConfig | None = None, *, fence: Fence | None = None
    ) -> None:
        if fence is not None and not isinstance(store, FencedStore):
            raise ConfigError("fence", f"the {store.name} store cannot write fenced")
        self.store = store
        self.config = config or DurabilityConfig()
        self.fence = fence
        self._fenced_out: StaleWrite | None = None
        self._dropped = 0
        # insertion-ordered, None = delete; the shared empty _NO_PENDING until a write is
        # buffered (write-through never buffers: 64 B less per conversation)
        self._pending: dict[str, bytes | None] = _NO_PENDING
        self._task: asyncio.Task[None] | None = None
        self._flush_lock: asyncio.Lock | None = None  # see _lock
        self._failures = 0
        self._streak = 0  # failed flushes since the last one that succeeded
        self._batches = 0
        self._writes = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Buffered writes not yet in the store."""
        return len(self._pending)

    async def put(self, key: str, value: bytes) -> None:
        """Write ``value`` at ``key`` (stored on return in write-through mode)."""
        await self.put_many({key: value})

    async def put_many(self, items: dict[str, bytes]) -> None:
        """Write several values; one store batch in write-through mode."""
        self._check_fence()
        self._writes += len(items)
        if self.config.mode == "write_through":
            await self._write(items, ())
            return
        for key, value in items.items():
            self._buffer(key, value)
        await self._after_buffer()

    async def delete(self, *keys: str) -> None:
        """Delete ``keys`` (after the writes buffered before, in write-behind mode)."""
        self._check_fence()
        if self.config.mode == "write_through":
            await self._write({}, keys)
            return
        for key in keys:
            self._buffer(key, None)
        await self._after_buffer()

    async def _write(self, puts: dict[str, bytes], deletes: Sequence[str]) -> None:
        """One store write: fenced (one atomic step) when the journal has a fence."""
        fence = self.fence
        if fence is None:
            if puts:
                await self.store.put_many(puts, self.config.ttl)
            if deletes:
                await self.store.delete(*deletes)
            return
        store = cast(FencedStore, self.store)
        try:
            await store.put_many_fenced(puts, fence, self.config.ttl, delete=deletes)
        except StaleWrite as exc:
            self._fence_out(len(puts) + len(deletes), exc)
            raise

    async def write_now(self, puts: dict[str, bytes], deletes: Sequence[str] = ()) -> None:
        """Write ``puts`` and delete ``deletes`` at once, past the buffer (creating a head,
        erasing a conversation), fenced like every other write."""
        self._check_fence()
        await self._write(puts, deletes)

    def _check_fence(self) -> None:
        if self._fenced_out is not None:
            raise self._fenced_out

    def _fence_out(self, writes: int, exc: StaleWrite) -> None:
        """Drop what can never be written (see the module docs) and say so once."""
        dropped = writes + len(self._pending)
        self._pending = _NO_PENDING
        self._dropped += dropped
        self._fenced_out = exc
        self.last_error = str(exc)
        _log.error(
            "fenced out: %d writes dropped (token %d, the agent's is %d now: another node "
            "claimed it): %s", dropped, exc.token, exc.current, exc,
        )  # fmt: skip

    def _buffer(self, key: str, value: bytes | None) -> None:
        pending = self._pending
        if pending is _NO_PENDING:  # never written into: it is shared
            pending = self._pending = {}
        pending.pop(key, None)  # a rewrite moves to the end: keeps write order
        pending[key] = value

    async def _after_buffer(self) -> None:
        if len(self._pending) >= self.config.max_pending:
            await self.flush()
        elif self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def read(self, key: str) -> bytes | None:
        """The latest value of ``key``: a buffered write, else the store's."""
        if key in self._pending:
            return self._pending[key]
        return await self.store.get(key)

    async def _flush_later(self) -> None:
        failures = 0
        try:
            while self._pending:
                if len(self._pending) < self.config.max_batch:
                    await asyncio.sleep(self.config.max_delay)
                try:
                    await self._flush_once()
                    failures = 0
                except StaleWrite:
                    return  # fenced out: dropped and logged, nothing left to retry
                except StoreError:
                    failures += 1
                    await asyncio.sleep(min(self.config.retry_max, 0.05 * 2**failures))
        finally:
            self._task = None

    def _lock(self) -> asyncio.Lock:
        """One batch in flight at a time (keeps write order); made when first needed."""
        lock = self._flush_lock
        if lock is None:
            lock = self._flush_lock = asyncio.Lock()
        return lock

    async def _flush_once(self) -> None:
        async with self._lock():
            batch, self._pending = self._pending, _NO_PENDING
            if not batch:
                return
            puts = {k: v for k, v in batch.items() if v is not None}
            deletes = [k for k, v in batch.items() if v is None]
            try:
                await self._write(puts, deletes)
            except StaleWrite:
                raise  # fenced out: the batch is dropped (see _fence_out)
            except BaseException as exc:  # StoreError or cancellation: keep the batch
                newer, self._pending = self._pending, batch  # older writes first
                for key, value in newer.items():
                    self._buffer(key, value)
                if isinstance(exc, StoreError):
                    self._failed(len(batch), exc)
                raise
            self._batches += 1
            self.last_error = None
            if self._streak:
                _log.info("write-behind flush succeeded after %d failed tries", self._streak)
                self._streak = 0

    def _failed(self, writes: int, exc: StoreError) -> None:
        """Count a failed flush; log the first of a streak as a warning, retries at debug
        (an outage of a few seconds no longer writes a line per retry per conversation)."""
        self._failures += 1
        self._streak += 1
        self.last_error = str(exc)
        level = logging.WARNING if self._streak == 1 else logging.DEBUG
        _log.log(level, "write-behind flush of %d writes failed (kept, retried): %s", writes, exc)

    async def flush(self) -> None:
        """Write everything buffered now; raises ``StoreError`` if the store fails (and
        ``StaleWrite`` once fenced out)."""
        self._check_fence()
        while self._pending:
            await self._flush_once()

    def stats(self) -> dict[str, Any]:
        """Mode, buffered writes, batches flushed, failures and the last error."""
        return {
            "mode": self.config.mode,
            "pending_writes": len(self._pending),
            "writes": self._writes,
            "batches": self._batches,
            "flush_failures": self._failures,
            "last_error": self.last_error,
            "fenced_out_writes": self._dropped,
        }

    async def aclose(self) -> None:
        """Stop the flush task and flush what is buffered (raises ``StoreError`` on failure)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()
