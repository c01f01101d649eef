"""Alerts: targets with hysteresis, and where their transitions go.

A target (``Targets``) is checked on every telemetry tick. An alert turns its breaches
into something a person can act on without flapping: a breach must last ``for_s``
seconds before the alert **fires**, and the target must be met again for ``clear_s``
seconds before it **clears** (a breach during that time starts the recovery over). A
target checked every tick therefore fires no sooner than the first tick ``for_s`` after
the breach began: ``for_s`` and ``clear_s`` are rounded up to the tick
(``TelemetryConfig.window_s / 2``). A target with no figure (nothing measured in the
window, e.g. no turn ended) is no news: the alert keeps its state and its timers run on,
so an alert fires or clears at the next figure that still breaches or meets the target.

Each transition goes to every sink, in order; a sink that raises is logged and the
others still run:

- an event: ``("agentrt", "alert", "fired")`` / ``("agentrt", "alert", "cleared")``
  (measurements value, limit, duration_s; metadata alert, name);
- a log record on the ``agentrt.alerts`` logger (WARNING when fired, INFO when cleared;
  ``extra``: ``alert``, ``value``, ``limit``) unless ``AlertsConfig.log`` is False;
- a webhook (``AlertsConfig.webhook_url``): the alert's JSON POSTed from a task of its
  own, never on the tick's path, with a timeout and retries (``WebhookSink``);
- your callbacks (``Alerts.add_sink``): called with the ``Alert``; a coroutine function
  runs as a task.

``Alerts.view()`` (``rt.telemetry.alerts()``, the endpoint's ``GET /alerts``) returns
the active alerts and the recent transitions.

Example::

    TelemetryConfig(alerts=AlertsConfig(for_s=30, clear_s=60,
                                        webhook_url="http://127.0.0.1:9000/hook"))
    rt.telemetry.alerting.add_sink(lambda alert: page_someone(alert))
    rt.telemetry.alerts()["active"]
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.redact import config_repr, redact_url

if TYPE_CHECKING:
    from agentrt.telemetry._events import Events
    from agentrt.telemetry._targets import TargetStatus

__all__ = ["FIRED", "RESOLVED", "Alert", "Alerts", "AlertsConfig", "Sink", "WebhookSink"]

FIRED = ("agentrt", "alert", "fired")
RESOLVED = ("agentrt", "alert", "cleared")

_log = logging.getLogger("agentrt.alerts")

#: A sink: called with each ``Alert`` that fired or cleared (its ``state`` says which).
Sink = Callable[["Alert"], Any]

_Seconds = Annotated[float, Bounds(low=0, high=86_400, unit=" s")]


@dataclass(frozen=True, kw_only=True)
class AlertsConfig:
    """How targets become alerts (see the module docs).

    - ``enabled`` (True): False checks targets without alerting.
    - ``for_s`` (60): how long a breach must last before the alert fires (0: at once).
    - ``clear_s`` (120): how long the target must be met again before it clears.
    - ``log`` (True): a log record per transition on the ``agentrt.alerts`` logger.
    - ``webhook_url`` (None): POST each transition's JSON there (http or https).
    - ``webhook_timeout_s`` (5): per attempt; ``webhook_retries`` (3): attempts after
      the first when the request fails or answers 5xx/429 (backoff 0.5 s, doubling).
    - ``webhook_headers`` ({}): extra request headers (credentials: never shown in repr).
    - ``recent`` (100): transitions kept for ``view()``.
    """

    enabled: bool = True
    for_s: _Seconds = 60.0
    clear_s: _Seconds = 120.0
    log: bool = True
    webhook_url: str | None = None
    webhook_timeout_s: Annotated[float, Bounds(low=0, open_low=True, high=600, unit=" s")] = 5.0
    webhook_retries: Annotated[int, Bounds(low=0, high=100)] = 3
    webhook_headers: dict[str, str] = field(default_factory=dict, repr=False)
    recent: Annotated[int, Bounds(low=1, high=100_000)] = 100

    def __post_init__(self) -> None:
        check_fields(self)
        url = self.webhook_url
        if url is not None and not url.startswith(("http://", "https://")):
            raise ConfigError("webhook_url", f"must be an http(s) URL, got {redact_url(url)!r}")

    __repr__ = config_repr


@dataclass(slots=True)
class Alert:
    """One alert on target ``name``: ``state`` is ``"firing"`` or ``"cleared"``;
    ``value`` the figure when it last changed state, ``limit`` and ``unit`` the
    target's; ``since`` (wall-clock seconds) when the breach began, ``fired_at`` and
    ``cleared_at`` when it fired and cleared (None: not yet)."""

    name: str
    limit: float
    unit: str
    value: float | None
    since: float
    fired_at: float
    state: str = "firing"
    cleared_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "since": self.since,
            "fired_at": self.fired_at,
            "cleared_at": self.cleared_at,
        }


class _Track:
    __slots__ = ("alert", "breaching", "recovering")

    def __init__(self) -> None:
        self.breaching: float | None = None  # monotonic: when the breach began
        self.recovering: float | None = None  # monotonic: when the target was met again
        self.alert: Alert | None = None  # firing


class Alerts:
    """Hysteresis over target statuses, and the sinks of its transitions (module docs).

    ``clock`` (monotonic seconds) decides the hysteresis; ``wall`` stamps the alerts
    (both injectable: tests drive them by hand). ``update`` is called with each check's
    statuses (``Telemetry.check_targets``)."""

    def __init__(
        self,
        config: AlertsConfig | None = None,
        events: Events | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config = config if config is not None else AlertsConfig()
        self._events = events
        self._clock = clock
        self._wall = wall
        self._tracks: dict[str, _Track] = {}
        self._recent: deque[dict[str, Any]] = deque(maxlen=config.recent)
        self._sinks: list[Sink] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.fired = 0
        self.cleared = 0
        self.sink_failures = 0
        self.webhook: WebhookSink | None = None
        if config.webhook_url is not None:
            self.webhook = WebhookSink(
                config.webhook_url,
                timeout_s=config.webhook_timeout_s,
                retries=config.webhook_retries,
                headers=config.webhook_headers,
            )

    def add_sink(self, sink: Sink) -> None:
        """Call ``sink(alert)`` on every transition (after the event, log and webhook)."""
        self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        """Stop calling ``sink`` (ValueError if it was not added)."""
        self._sinks.remove(sink)

    # -- hysteresis ----------------------------------------------------------------------------

    def update(self, statuses: list[TargetStatus]) -> list[Alert]:
        """Advance every target's alert with its status now; returns the alerts that
        fired or cleared in this call."""
        if not self.config.enabled:
            return []
        now = self._clock()
        changed: list[Alert] = []
        for status in statuses:
            if status.value is None:  # not measured (no turn in the window): no news
                continue
            track = self._tracks.get(status.name)
            if track is None:
                track = self._tracks[status.name] = _Track()
            alert = track.alert
            if not status.ok:
                track.recovering = None
                if alert is not None:
                    alert.value = status.value
                    continue
                if track.breaching is None:
                    track.breaching = now
                if now - track.breaching >= self.config.for_s:
                    changed.append(self._fire(track, status, now))
            else:
                track.breaching = None
                if alert is None:
                    continue
                if track.recovering is None:
                    track.recovering = now
                if now - track.recovering >= self.config.clear_s:
                    changed.append(self._clear(track, status, now))
        return changed

    def _fire(self, track: _Track, status: TargetStatus, now: float) -> Alert:
        breaching = track.breaching if track.breaching is not None else now
        wall = self._wall()
        alert = Alert(
            name=status.name,
            limit=status.limit,
            unit=status.unit,
            value=status.value,
            since=wall - (now - breaching),
            fired_at=wall,
        )
        track.alert = alert
        self.fired += 1
        self._notify(alert, FIRED, now - breaching)
        return alert

    def _clear(self, track: _Track, status: TargetStatus, now: float) -> Alert:
        alert = track.alert
        assert alert is not None
        track.alert = None
        track.recovering = None
        alert.state = "cleared"
        alert.value = status.value
        alert.cleared_at = self._wall()
        self.cleared += 1
        self._notify(alert, RESOLVED, alert.cleared_at - alert.fired_at)
        return alert

    # -- sinks ---------------------------------------------------------------------------------

    def _notify(self, alert: Alert, event: tuple[str, ...], duration: float) -> None:
        self._recent.append(alert.as_dict())
        events = self._events
        if events is not None and events.listening(event):
            measurements = {
                "value": alert.value or 0.0,
                "limit": alert.limit,
                "duration_s": duration,
            }
            events.emit(event, measurements, {"alert": alert, "name": alert.name})
        if self.config.log:
            _log_alert(alert)
        if self.webhook is not None:
            self._call(self.webhook, alert)
        for sink in list(self._sinks):
            self._call(sink, alert)

    def _call(self, sink: Sink, alert: Alert) -> None:
        try:
            result = sink(alert)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._done)
        except Exception:
            self.sink_failures += 1
            _log.exception("alert sink %r failed on %s", sink, alert.name)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.sink_failures += 1
            _log.error("an alert sink failed: %r", task.exception())

    # -- views ---------------------------------------------------------------------------------

    def active(self) -> list[Alert]:
        """The alerts firing now."""
        return [t.alert for t in self._tracks.values() if t.alert is not None]

    def view(self) -> dict[str, Any]:
        """``{"active": [...], "recent": [...], ...}``: the alerts firing now and the
        last transitions (oldest first), as JSON-serialisable dicts, plus counters."""
        return {
            "active": [a.as_dict() for a in self.active()],
            "recent": list(self._recent),
            "fired": self.fired,
            "cleared": self.cleared,
            "sink_failures": self.sink_failures,
            "webhook": self.webhook.stats() if self.webhook is not None else None,
        }

    async def aclose(self) -> None:
        """Let sink tasks in flight finish (the webhook's within its timeouts), then
        close the webhook's connections. Idempotent."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.webhook is not None:
            await self.webhook.aclose()


def _log_alert(alert: Alert) -> None:
    extra = {"alert": alert.name, "value": alert.value, "limit": alert.limit}
    if alert.state == "firing":
        _log.warning(
            "alert %s fired: %s%s over the limit of %s%s",
            alert.name,
            _fmt(alert.value),
            alert.unit,
            _fmt(alert.limit),
            alert.unit,
            extra=extra,
        )
    else:
        _log.info(
            "alert %s cleared: %s%s (limit %s%s)",
            alert.name,
            _fmt(alert.value),
            alert.unit,
            _fmt(alert.limit),
            alert.unit,
            extra=extra,
        )


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


class WebhookSink:
    """POSTs each alert's JSON (``Alert.as_dict()``) to ``url``.

    Calling the sink only starts a task (it never waits on the network): the request
    has ``timeout_s`` per attempt and is retried ``retries`` times on a connection
    error, a timeout, a 429 or a 5xx, after 0.5 s, 1 s, 2 s... A 4xx other than 429 is
    not retried. At most ``max_pending`` deliveries are in flight; beyond that an alert
    is dropped and counted (``stats()``), never queued without bound. Needs a running
    event loop (the telemetry tick runs on it)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        headers: Mapping[str, str] | None = None,
        backoff_s: float = 0.5,
        max_pending: int = 100,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_pending = max_pending
        self._headers = dict(headers or {})
        self._session: Any = None
        self._pending: set[asyncio.Task[None]] = set()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.attempts = 0

    def __repr__(self) -> str:
        return f"WebhookSink({redact_url(self.url)!r})"

    def __call__(self, alert: Alert) -> None:
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            _log.warning(
                "alert webhook: %d deliveries pending, %s dropped", self.max_pending, alert.name
            )
            return
        task = asyncio.get_running_loop().create_task(self._deliver(alert.as_dict()))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, body: dict[str, Any]) -> None:
        try:
            await self._attempts(body)
        except asyncio.CancelledError:  # closed before it was delivered
            self.failed += 1
            raise

    async def _attempts(self, body: dict[str, Any]) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            self.attempts += 1
            try:
                async with self._session.post(
                    self.url, json=body, headers=self._headers, timeout=timeout
                ) as response:
                    if response.status < 300:
                        self.sent += 1
                        return
                    problem = f"HTTP {response.status}"
                    if response.status < 500 and response.status != 429:
                        break
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
        self.failed += 1
        _log.warning(
            "alert webhook %s: %s not delivered (%s)", redact_url(self.url), body["name"], problem
        )

    def stats(self) -> dict[str, Any]:
        return {
            "url": redact_url(self.url),
            "sent": self.sent,
            "failed": self.failed,
            "dropped": self.dropped,
            "attempts": self.attempts,
            "pending": len(self._pending),
        }

    async def aclose(self) -> None:
        """Give deliveries in flight up to ``timeout_s`` to finish (the rest are
        cancelled and counted failed), then close the connection pool. Idempotent."""
        pending = list(self._pending)
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.timeout_s)
            for task in late:
                task.cancel()  # counted failed by the task
            await asyncio.gather(*late, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()
