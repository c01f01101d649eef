"""The mock LLM server's configuration: :class:`MockServerConfig`, every field a fault
the server can play (see :mod:`agentrt.llm._mockserver` for what each does).

Example::

    MockServerConfig(latency_ms=50, profiles={"mock-500": {"error_rate_500": 1.0}})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.llm._mockfaults import DIALECTS, RETRY_HEADERS, ErrorDialect, RetryHeader

__all__ = ["FAULTS", "MalformedMode", "MockServerConfig"]

MalformedMode = Literal["invalid_json", "missing_fields", "unknown_finish", "truncated_sse"]
_MALFORMED = ("invalid_json", "missing_fields", "unknown_finish", "truncated_sse")
FAULTS = (*_MALFORMED, "hang", "error_200", "json_stream", "bad_usage", "context", "reset")


_Ms = Annotated[float, Bounds(low=0, high=3_600_000, unit=" ms")]
_Fraction = Annotated[float, Bounds(low=0, high=1, note="is a fraction")]


@dataclass(frozen=True, kw_only=True)
class MockServerConfig:
    """Behaviour of the mock server; every default is a well-behaved, instant server.

    Example: ``MockServerConfig(latency_ms=50, error_rate_503=0.01, rate_limit_rps=500)``
    """

    latency_ms: _Ms = 0.0
    jitter_ms: _Ms = 0.0
    per_token_ms: _Ms = 0.0
    error_rate_500: _Fraction = 0.0
    error_rate_503: _Fraction = 0.0
    error_rate_429: _Fraction = 0.0
    rate_limit_rps: Annotated[float, Bounds(low=0, high=1e9)] = 0.0
    retry_after_s: Annotated[float, Bounds(low=0, high=86_400, unit=" s")] = 1.0
    hang_rate: _Fraction = 0.0
    malformed: MalformedMode | None = None
    max_inflight: Annotated[int, Bounds(low=1, high=1_000_000)] | None = None
    embedding_dim: Annotated[int, Bounds(low=1, high=65_536)] = 8
    seed: int = 0
    retry_header: RetryHeader = "retry-after"
    drop_after_error: bool = False
    admission_limit: Annotated[int, Bounds(low=0, high=1_000_000)] = 0
    context_window: Annotated[int, Bounds(low=0, high=100_000_000)] = 0
    error_dialect: ErrorDialect = "openai"
    usage_details: bool = False
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            check_fields(self)
        except ConfigError as exc:
            raise ConfigError(f"mock_llm.{exc.key}", exc.problem) from None
        if self.malformed is not None and self.malformed not in FAULTS:
            raise ConfigError("mock_llm.malformed", f"unknown mode {self.malformed!r}")
        if self.retry_header not in RETRY_HEADERS:
            raise ConfigError("mock_llm.retry_header", f"unknown form {self.retry_header!r}")
        if self.error_dialect not in DIALECTS:
            raise ConfigError("mock_llm.error_dialect", f"unknown dialect {self.error_dialect!r}")
        for model, overrides in self.profiles.items():
            where = f"mock_llm.profiles.{model}"
            try:
                replace(self, **{**overrides, "profiles": {}})
            except ConfigError as exc:  # a bad value: named with its profile
                key = exc.key.removeprefix("mock_llm.")
                raise ConfigError(f"{where}.{key}", exc.problem) from None
            except TypeError as exc:  # an unknown field, or not a table
                raise ConfigError(where, str(exc)) from None

    def for_model(self, model: str) -> MockServerConfig:
        """This config with the profile of ``model`` applied (itself without one)."""
        overrides = self.profiles.get(model)
        if not overrides:
            return self
        return replace(self, **{**overrides, "profiles": {}})
