"""``Secret``: a value (an API key) that never prints.

``str()``, ``repr()``, ``format()`` and f-strings of a ``Secret`` give ``***``, so a
secret held in a config object cannot leak through a ``repr``, a log line, an exception
message or ``agentrt config show`` (:func:`agentrt.redact.redacted` masks it too). The
value is read only on purpose, with :meth:`Secret.reveal`, by the code that sends it (the
LLM backend's auth header). Two secrets are equal when their values are (compared in
constant time). A ``Secret`` is immutable; an empty one is refused with ``ConfigError``.
It pickles (and deep-copies) with its value, so a config can cross to a worker process:
a pickle is as secret as the key.

Example::

    >>> key = Secret("sk-live-123")
    >>> key, f"{key}", str(key)
    (Secret('***'), '***', '***')
    >>> key.reveal()
    'sk-live-123'
"""

from __future__ import annotations

import hmac

from agentrt.errors import ConfigError
from agentrt.redact import Masked

__all__ = ["Secret"]


class Secret(Masked):
    """A secret string that shows as ``***`` everywhere but :meth:`reveal`."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise ConfigError("secret", f"must be a str, got {type(value).__name__}")
        if not value:
            raise ConfigError("secret", "must not be empty")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The secret itself: only for the code that must send it."""
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Secret is immutable")

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))
