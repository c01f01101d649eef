"""``ServeConfig``, ``Tenant`` and ``RateLimit``: how ``agentrt serve`` listens, who may
call it and how fast. Every field is checked when the object is built (``ConfigError``
naming the field); tokens are held as ``Secret`` and never shown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from agentrt._secret import Secret
from agentrt.errors import ConfigError
from agentrt.runtime._config import _is_loopback

__all__ = ["NAME_PATTERN", "RateLimit", "ServeConfig", "Tenant"]

#: Model and tenant names: what may sit between the ``/`` of an agent id.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _check_name(key: str, name: object) -> None:
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise ConfigError(
            key, f"must match {NAME_PATTERN.pattern} (letters, digits, . _ -), got {name!r}"
        )


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``per_s`` requests per second on average, ``burst`` at once
    (default: one second's worth, at least 1). A request over it is answered 429 with
    ``Retry-After``."""

    per_s: float
    burst: int | None = None

    def __post_init__(self) -> None:
        per_s = self.per_s
        if isinstance(per_s, bool) or not isinstance(per_s, int | float):
            raise ConfigError("rate.per_s", f"must be a number, got {per_s!r}")
        if not math.isfinite(per_s) or per_s <= 0:
            raise ConfigError("rate.per_s", f"must be a finite number > 0, got {per_s!r}")
        burst = self.burst
        if burst is not None and (type(burst) is not int or burst < 1):
            raise ConfigError("rate.burst", f"must be an int >= 1, got {burst!r}")

    @property
    def capacity(self) -> int:
        """The bucket's size: ``burst``, or one second's worth (at least 1)."""
        return self.burst if self.burst is not None else max(1, math.ceil(self.per_s))


@dataclass(frozen=True, slots=True)
class Tenant:
    """A caller of the server: requests carrying ``Authorization: Bearer <token>`` act
    for tenant ``name``. Its agents are its own (ids ``serve/<name>/<model>/...``, spawned
    with ``tenant=name``, so tenant-scoped tool and semantic caches are its own too), and
    ``rate`` (None: unlimited) bounds its requests. ``token`` is a ``Secret`` (a ``str``
    is wrapped), never shown in a repr, a log line or an error."""

    name: str
    token: Secret | str
    rate: RateLimit | None = None

    def __post_init__(self) -> None:
        _check_name("tenant.name", self.name)
        token: object = self.token
        if isinstance(token, str):
            if not token:
                raise ConfigError("tenant.token", "must not be empty")
            object.__setattr__(self, "token", Secret(token))
        elif not isinstance(token, Secret):
            raise ConfigError("tenant.token", "must be a str or a Secret")
        if self.rate is not None and not isinstance(self.rate, RateLimit):
            raise ConfigError("tenant.rate", f"must be a RateLimit or None, got {self.rate!r}")

    @property
    def secret(self) -> Secret:
        """The token, as a ``Secret``."""
        assert isinstance(self.token, Secret)  # made one in __post_init__
        return self.token


@dataclass(frozen=True, kw_only=True, slots=True)
class ServeConfig:
    """How the server listens and sheds load.

    - ``host`` ("127.0.0.1"), ``port`` (8000; 0: a free port the OS picks);
      ``allowed_hosts``: more names the ``Host`` header may carry (see
      ``agentrt.runtime._httpguard``).
    - ``tenants``: who may call (their bearer tokens). None configured: no
      authentication, allowed only on a loopback ``host`` (``ConfigError`` otherwise).
    - ``rate``: the rate limit of the unauthenticated (loopback) caller; tenants have
      their own.
    - ``max_in_flight`` (256): requests served at once; one more is answered 429 with
      ``Retry-After`` at once, never queued.
    - ``timeout_s`` (None: the agent's ``turn_timeout``): the deadline of a request's
      turn; past it the answer is 504.
    - ``max_body_bytes`` (1 MiB): a bigger request body is answered 413.
    - ``system_messages`` ("reject"): what a ``system``/``developer`` message in a request
      does. The agent's system prompt is the server's: ``"reject"`` answers 400 naming
      the message, ``"ignore"`` drops them (for clients that always send one).
    - ``ignore_fields``: request fields accepted and ignored (e.g. ``("temperature",)``
      for a client that always sends one); any other field agentrt does not apply is
      answered 400 naming it.
    - ``retry_after_s`` (1.0): the ``Retry-After`` of a 429 whose cause gives none.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    allowed_hosts: tuple[str, ...] = ()
    tenants: tuple[Tenant, ...] = ()
    rate: RateLimit | None = None
    max_in_flight: int = 256
    timeout_s: float | None = None
    max_body_bytes: int = 1 << 20
    system_messages: Literal["reject", "ignore"] = "reject"
    ignore_fields: tuple[str, ...] = ()
    retry_after_s: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ConfigError("serve.host", f"must be a non-empty string, got {self.host!r}")
        if type(self.port) is not int or not 0 <= self.port <= 65535:
            raise ConfigError("serve.port", f"must be an int within 0..65535, got {self.port!r}")
        for name, value in (("allowed_hosts", self.allowed_hosts), ("tenants", self.tenants)):
            if not isinstance(value, tuple):
                raise ConfigError(f"serve.{name}", f"must be a tuple, got {value!r}")
        names: set[str] = set()
        tokens: set[str] = set()
        for i, tenant in enumerate(self.tenants):
            if not isinstance(tenant, Tenant):
                raise ConfigError(f"serve.tenants[{i}]", f"must be a Tenant, got {tenant!r}")
            if tenant.name in names:
                raise ConfigError(f"serve.tenants[{i}].name", f"{tenant.name!r} given twice")
            if tenant.secret.reveal() in tokens:
                raise ConfigError(f"serve.tenants[{i}].token", "the same token as another tenant")
            names.add(tenant.name)
            tokens.add(tenant.secret.reveal())
        if not self.tenants and not _is_loopback(self.host):
            raise ConfigError(
                "serve.host",
                f"{self.host!r} is not a loopback address: configure tenants (bearer tokens) "
                "to bind it",
            )
        if self.rate is not None and not isinstance(self.rate, RateLimit):
            raise ConfigError("serve.rate", f"must be a RateLimit or None, got {self.rate!r}")
        if type(self.max_in_flight) is not int or self.max_in_flight < 1:
            raise ConfigError(
                "serve.max_in_flight", f"must be an int >= 1, got {self.max_in_flight!r}"
            )
        _positive("serve.timeout_s", self.timeout_s, optional=True)
        _positive("serve.retry_after_s", self.retry_after_s, optional=False)
        if type(self.max_body_bytes) is not int or self.max_body_bytes < 1024:
            raise ConfigError(
                "serve.max_body_bytes", f"must be an int >= 1024, got {self.max_body_bytes!r}"
            )
        if self.system_messages not in ("reject", "ignore"):
            raise ConfigError(
                "serve.system_messages",
                f"must be 'reject' or 'ignore', got {self.system_messages!r}",
            )
        if not isinstance(self.ignore_fields, tuple) or not all(
            isinstance(f, str) and f for f in self.ignore_fields
        ):
            raise ConfigError(
                "serve.ignore_fields", f"must be a tuple of field names, got {self.ignore_fields!r}"
            )


def _positive(key: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(key, f"must be a finite number > 0, got {value!r}")
