"""Alerts: hysteresis driven by a fake clock (no timing), the sinks (event, log record,
callbacks, a webhook against a real local aiohttp server), the views and the endpoint's
``GET /alerts``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from aiohttp import web
from support.agents import Helper, fast_config
from support.clock import FakeClock

from agentrt.errors import ConfigError
from agentrt.runtime import EndpointConfig, Runtime, TelemetryConfig
from agentrt.telemetry import Alert, Alerts, AlertsConfig, Events, Targets, Telemetry, WebhookSink
from agentrt.telemetry._targets import TargetStatus


def status(ok: bool, value: float = 3.0, name: str = "response_p95_s") -> list[TargetStatus]:
    return [TargetStatus(name, 2.0, value, ok, "s")]


def test_a_breach_must_last_for_s_to_fire_and_recover_clear_s_to_clear() -> None:
    clock = FakeClock()
    alerts = Alerts(AlertsConfig(for_s=30, clear_s=60, log=False), clock=clock)
    assert alerts.update(status(False)) == []  # the breach begins
    clock.advance(29)
    assert alerts.update(status(False)) == []
    clock.advance(1)
    [fired] = alerts.update(status(False))
    assert (fired.name, fired.state, fired.value) == ("response_p95_s", "firing", 3.0)
    assert alerts.active() == [fired]
    clock.advance(10)
    assert alerts.update(status(True, 1.0)) == []  # recovering...
    clock.advance(59)
    assert alerts.update(status(True, 1.0)) == []
    clock.advance(1)
    [cleared] = alerts.update(status(True, 1.0))
    assert cleared is fired
    assert cleared.state == "cleared"
    assert cleared.value == 1.0
    assert alerts.active() == []
    view = alerts.view()
    assert [a["state"] for a in view["recent"]] == ["firing", "cleared"]
    assert (view["fired"], view["cleared"]) == (1, 1)


def test_flapping_neither_fires_nor_clears() -> None:
    clock = FakeClock()
    alerts = Alerts(AlertsConfig(for_s=30, clear_s=30, log=False), clock=clock)
    for _ in range(10):  # breached 20 s, met 5 s: the breach starts over every time
        alerts.update(status(False))
        clock.advance(20)
        alerts.update(status(False))
        clock.advance(5)
        alerts.update(status(True))
    assert alerts.fired == 0
    clock.advance(1)
    alerts.update(status(False))
    clock.advance(30)
    assert len(alerts.update(status(False))) == 1
    for _ in range(10):  # firing; met 20 s, breached again: the recovery starts over
        alerts.update(status(True))
        clock.advance(20)
        alerts.update(status(True))
        alerts.update(status(False))
    assert alerts.cleared == 0
    assert len(alerts.active()) == 1


def test_for_s_zero_fires_on_the_first_breach_and_disabled_never_fires() -> None:
    assert len(Alerts(AlertsConfig(for_s=0, log=False)).update(status(False))) == 1
    assert Alerts(AlertsConfig(enabled=False, for_s=0)).update(status(False)) == []


def test_sinks_event_log_and_callbacks(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    events = Events()
    seen: list[tuple[tuple[str, ...], dict[str, float], str]] = []
    events.attach(
        "t",
        [("agentrt", "alert", "fired"), ("agentrt", "alert", "cleared")],
        lambda name, m, meta, state: seen.append((name, dict(m), meta["name"])),
    )
    alerts = Alerts(AlertsConfig(for_s=0, clear_s=10), events, clock=clock)
    calls: list[tuple[str, str]] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("sink bug")

    alerts.add_sink(broken)
    alerts.add_sink(lambda alert: calls.append((alert.name, alert.state)))
    caplog.set_level(logging.INFO, logger="agentrt.alerts")
    alerts.update(status(False, 3.5))
    alerts.update(status(True, 1.0))
    clock.advance(10)
    alerts.update(status(True, 1.0))
    assert calls == [("response_p95_s", "firing"), ("response_p95_s", "cleared")]
    assert alerts.sink_failures == 2  # the broken sink, twice; the next sink still ran
    assert [(n[-1], m["value"], who) for n, m, who in seen] == [
        ("fired", 3.5, "response_p95_s"),
        ("cleared", 1.0, "response_p95_s"),
    ]
    records = [r for r in caplog.records if r.name == "agentrt.alerts" and hasattr(r, "alert")]
    assert [(r.levelname, r.alert) for r in records] == [  # type: ignore[attr-defined]
        ("WARNING", "response_p95_s"),
        ("INFO", "response_p95_s"),
    ]
    assert "3.5s over the limit of 2s" in records[0].getMessage()


def test_config_is_validated_and_hides_headers() -> None:
    with pytest.raises(ConfigError) as info:
        AlertsConfig(webhook_url="ftp://example")
    assert info.value.key == "webhook_url"
    with pytest.raises(ConfigError) as info:
        AlertsConfig(for_s=-1)
    assert info.value.key == "for_s"
    cfg = AlertsConfig(webhook_url="http://u:pw@127.0.0.1/h", webhook_headers={"x": "s3cret"})
    assert "s3cret" not in repr(cfg)
    assert "pw" not in repr(cfg)


def test_telemetry_turns_targets_into_alerts_on_its_clock() -> None:
    clock = FakeClock()
    telemetry = Telemetry(
        targets=Targets(response_p95_s=0.5, loop_lag_ms=None),
        alerts=AlertsConfig(for_s=20, clear_s=20, log=False),
        clock=clock,
    )
    stats = telemetry.agent_stats("a", "A")
    telemetry.record_turn(stats, 1.0, True)
    telemetry.check_targets()
    clock.advance(20)
    telemetry.check_targets()
    [active] = telemetry.alerts()["active"]
    assert active["name"] == "response_p95_s"
    assert active["limit"] == 0.5
    assert telemetry.summary()["alerts"] == [active]
    for _ in range(4):  # the slow turn leaves the window after two rotations
        telemetry.record_turn(stats, 0.1, True)
        telemetry.tick()
        clock.advance(10)
    telemetry.record_turn(stats, 0.1, True)
    telemetry.check_targets()
    assert telemetry.alerts()["active"] == []


class Hook:
    """A local aiohttp server that fails its first ``failures`` requests with 503."""

    def __init__(self, failures: int = 0, hang: bool = False) -> None:
        self.failures = failures
        self.hang = hang
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[str] = []
        self.requests = 0
        self.url = ""

    async def receive(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang:
            await asyncio.sleep(3600)
        if self.requests <= self.failures:
            return web.Response(status=503)
        self.bodies.append(await request.json())
        self.headers.append(request.headers.get("X-Token", ""))
        return web.Response(status=204)


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(hook: Hook) -> Hook:
        app = web.Application()
        app.router.add_post("/hook", hook.receive)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        return hook

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_webhook_retries_then_delivers(serve: Any) -> None:
    hook = await serve(Hook(failures=2))
    sink = WebhookSink(hook.url, retries=3, backoff_s=0.0, headers={"X-Token": "t0k"})
    alerts = Alerts(AlertsConfig(for_s=0, log=False))
    alerts.add_sink(sink)
    alerts.update(status(False))  # returns at once: delivery runs in a task
    assert sink.stats()["pending"] == 1
    await sink.aclose()
    assert hook.requests == 3
    assert hook.bodies[0]["name"] == "response_p95_s"
    assert hook.bodies[0]["state"] == "firing"
    assert hook.headers == ["t0k"]
    assert sink.stats()["sent"] == 1
    assert sink.stats()["failed"] == 0


async def test_webhook_gives_up_after_its_retries_and_its_timeout(serve: Any) -> None:
    hook = await serve(Hook(failures=100))
    sink = WebhookSink(hook.url, retries=2, backoff_s=0.0)
    sink(Alert(name="x", limit=1, unit="", value=2, since=0, fired_at=0))
    await sink.aclose()
    assert (hook.requests, sink.failed, sink.sent) == (3, 1, 0)
    hanging = await serve(Hook(hang=True))
    slow = WebhookSink(hanging.url, retries=0, timeout_s=0.05)
    slow(Alert(name="y", limit=1, unit="", value=2, since=0, fired_at=0))
    await slow.aclose()
    assert slow.failed == 1
    assert slow.sent == 0


async def test_runtime_webhook_and_alerts_route(serve: Any) -> None:
    hook = await serve(Hook())
    telemetry = TelemetryConfig(
        targets=Targets(response_p95_s=0.0, loop_lag_ms=None),
        alerts=AlertsConfig(for_s=0, clear_s=0, log=False, webhook_url=hook.url),
        endpoint=EndpointConfig(),
    )
    async with Runtime(replace(fast_config(), telemetry=telemetry)) as rt:
        await rt.spawn(Helper, id="h")
        await rt.ask("h", "hi")
        rt.telemetry.check_targets()
        assert rt.endpoint_url is not None
        async with httpx.AsyncClient(base_url=rt.endpoint_url, trust_env=False) as c:
            answer = (await c.get("/alerts")).json()
            assert "/alerts" in (await c.get("/")).json()["routes"]
    assert [a["name"] for a in answer["active"]] == ["response_p95_s"]
    assert answer["recent"][-1]["state"] == "firing"
    assert hook.bodies
    assert hook.bodies[0]["name"] == "response_p95_s"


def test_a_target_not_measured_keeps_the_alert_as_it_is() -> None:
    clock = FakeClock()
    alerts = Alerts(AlertsConfig(for_s=10, clear_s=10, log=False), clock=clock)
    alerts.update(status(False))
    clock.advance(5)
    alerts.update([TargetStatus("response_p95_s", 2.0, None, True, "s")])  # no turn ended
    clock.advance(5)
    assert len(alerts.update(status(False))) == 1  # the breach was not reset by no news
    alerts.update(status(True, 1.0))
    clock.advance(20)
    assert alerts.update([TargetStatus("response_p95_s", 2.0, None, True, "s")]) == []
    assert len(alerts.active()) == 1  # nor is no news a recovery
    assert len(alerts.update(status(True, 1.0))) == 1
