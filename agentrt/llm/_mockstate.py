"""The state of one running mock LLM server: counters, scripted faults, per-model
configurations, rate buckets and the keep-alive connections it will drop.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from typing import Any

from aiohttp import web

from agentrt.llm._mockconfig import MockServerConfig

__all__ = ["MockServerState"]


class MockServerState:
    """Counters and scripted faults of one running mock server.

    ``counts`` keys: ``http`` (every request), ``chat``, ``stream``, ``anthropic`` (requests
    to ``/v1/messages``), ``embeddings``,
    ``embedding_inputs``, ``status_<code>``, ``fault_<name>``. ``open_connections`` is the
    number of client connections currently open.
    """

    def __init__(self, config: MockServerConfig) -> None:
        self.config = config
        self.counts: Counter[str] = Counter()
        self.fail_next: deque[int | str] = deque()
        self.requests_seen: deque[dict[str, Any]] = deque(maxlen=64)
        self.random = random.Random(config.seed)
        self.closing = asyncio.Event()
        self.slots = asyncio.Semaphore(config.max_inflight) if config.max_inflight else None
        self._buckets: dict[str, tuple[float, float]] = {}  # model -> (level, stamp)
        self._configs: dict[str, MockServerConfig] = {}
        self.doomed: dict[object, None] = {}  # connections to drop at their next request
        self.inflight = 0
        self._runner: web.AppRunner | None = None

    def attach(self, runner: web.AppRunner) -> None:
        """Count connections of ``runner`` (called once the runner is set up)."""
        self._runner = runner

    @property
    def open_connections(self) -> int:
        """Client connections currently open to this server."""
        server = self._runner.server if self._runner else None
        return len(server.connections) if server else 0

    def reconfigure(self, config: MockServerConfig) -> None:
        """Replace the fault configuration (counters are kept)."""
        self.config = config
        self._configs.clear()
        self.slots = asyncio.Semaphore(config.max_inflight) if config.max_inflight else None

    def config_for(self, model: str) -> MockServerConfig:
        """The configuration a request for ``model`` is served with (its profile)."""
        config = self._configs.get(model)
        if config is None:
            config = self.config.for_model(model)
            if len(self._configs) < 1024:
                self._configs[model] = config
        return config

    def drop_idle_connections(self) -> int:
        """Act as a proxy that closed its keep-alive connections without telling the
        client: every open connection is dropped when its next request arrives. Returns
        how many were doomed."""
        server = self._runner.server if self._runner else None
        connections = list(server.connections) if server else []
        for protocol in connections:
            self.doom(protocol.transport)
        return len(connections)

    def doom(self, transport: object) -> None:
        """Drop ``transport``'s connection when its next request arrives (bounded)."""
        if len(self.doomed) >= 4096:
            self.doomed.pop(next(iter(self.doomed)))
        self.doomed[transport] = None

    def stats(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "open_connections": self.open_connections}

    def over_rate(self, cfg: MockServerConfig, model: str) -> bool:
        """Token bucket of ``rate_limit_rps`` per model (burst one second's worth)."""
        rate = cfg.rate_limit_rps
        if not rate:
            return False
        now = time.monotonic()
        level, stamp = self._buckets.get(model, (max(1.0, rate), now))
        level = min(rate, level + (now - stamp) * rate)
        limited = level < 1
        self._buckets[model] = (level if limited else level - 1, now)
        return limited

    def next_fault(self, header: str | None, cfg: MockServerConfig) -> int | str | None:
        """The fault for this request: header, then script, then random rates."""
        if header:
            return int(header) if header.isdigit() else header
        if self.fail_next:
            return self.fail_next.popleft()
        rnd = self.random
        if cfg.hang_rate and rnd.random() < cfg.hang_rate:
            return "hang"
        if cfg.error_rate_500 and rnd.random() < cfg.error_rate_500:
            return 500
        if cfg.error_rate_503 and rnd.random() < cfg.error_rate_503:
            return 503
        if cfg.error_rate_429 and rnd.random() < cfg.error_rate_429:
            return 429
        return cfg.malformed

    async def delay(self, output_tokens: int, cfg: MockServerConfig | None = None) -> None:
        cfg = cfg or self.config
        ms = cfg.latency_ms + output_tokens * cfg.per_token_ms
        if cfg.jitter_ms:
            ms += self.random.uniform(0, cfg.jitter_ms)
        if ms > 0:
            await asyncio.sleep(ms / 1000)
