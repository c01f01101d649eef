"""What the shared (network) backends have in common: the codec, the counters, and turning a
client failure into :class:`~agentrt.tools.CacheBackendError`."""

from __future__ import annotations

from agentrt.tools._errors import CacheBackendError
from agentrt.tools.cache._codec import Entry, EntryCodec

__all__ = ["RemoteBackend", "backend_failure"]


def backend_failure(backend: str, operation: str, exc: BaseException) -> CacheBackendError:
    """The error for ``backend``'s failed ``operation``: a timeout, or the client's error."""
    problem = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
    return CacheBackendError(backend, operation, problem)


class RemoteBackend:
    """Base of ``RedisBackend`` and ``MemcachedBackend``: nothing is local (``peek`` is
    always None); ``ops``, ``errors`` and ``decode_errors`` are counted for ``stats()``."""

    name = "remote"

    def __init__(self, *, compress_threshold: int, max_value_bytes: int) -> None:
        self._codec = EntryCodec(
            compress_threshold=compress_threshold, max_value_bytes=max_value_bytes
        )
        self._ops = 0
        self._errors = 0
        self._decode_errors = 0

    @property
    def codec(self) -> EntryCodec:
        """The codec values are stored with."""
        return self._codec

    def _fail(self, operation: str, exc: BaseException) -> CacheBackendError:
        """Count a failed ``operation`` and describe it (a timeout, or the client's error)."""
        self._errors += 1
        return backend_failure(self.name, operation, exc)

    def peek(self, key: str) -> Entry | None:
        """Always None: nothing is local."""
        return None
