"""The introspection endpoint over real HTTP: routes, parameters, auth, lifecycle."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from support.agents import Chatty, Helper, fast_config

from agentrt.errors import ConfigError
from agentrt.runtime import (
    EndpointConfig,
    IntrospectionEndpoint,
    Runtime,
    RuntimeConfig,
    TelemetryConfig,
)
from agentrt.telemetry import Telemetry
from supervisors import Supervisor

TOKEN_ENV = "AGENTRT_TEST_ENDPOINT_TOKEN"
SECRET = "s3cret-t0ken-for-tests"


def with_endpoint(endpoint: EndpointConfig | None = None) -> RuntimeConfig:
    return replace(fast_config(), telemetry=TelemetryConfig(endpoint=endpoint or EndpointConfig()))


def no_tasks_left() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not current and not t.done()]


@pytest.fixture
async def rt() -> AsyncIterator[Runtime]:
    async with Runtime(with_endpoint()) as runtime:
        await runtime.spawn(Helper, id="quiet")
        await runtime.spawn(Helper, id="busy")
        await runtime.spawn(Helper, id="team/a b")  # needs percent-encoding in a path
        for _ in range(3):
            await runtime.ask("busy", "hello")
        await runtime.ask("team/a b", "hi")
        yield runtime


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    assert rt.endpoint_url is not None
    async with httpx.AsyncClient(base_url=rt.endpoint_url, trust_env=False) as c:
        yield c


async def test_url_is_loopback_and_bound(rt: Runtime) -> None:
    url = rt.endpoint_url
    assert url is not None
    assert url.startswith("http://127.0.0.1:")
    assert int(url.rsplit(":", 1)[1]) > 0  # port 0 resolved to the bound port


async def test_summary_and_snapshot(rt: Runtime, client: httpx.AsyncClient) -> None:
    summary = (await client.get("/summary")).json()
    assert summary["turns"] == {"ok": 4, "failed": 0}
    assert summary["agents"]["live"] == 3
    assert {t["name"] for t in summary["targets"]} >= {"response_p95_s", "bytes_per_agent"}
    response = await client.get("/snapshot")
    assert response.headers["content-type"].startswith("application/json")
    snapshot = response.json()
    assert snapshot["summary"]["turns"]["ok"] == 4
    assert snapshot["agents_tracked"] == 3
    assert snapshot["endpoint"]["requests"] >= 2  # the endpoint reports itself too
    index = (await client.get("/")).json()
    assert "/summary" in index["routes"]


async def test_agents_sorted_and_limited(client: httpx.AsyncClient) -> None:
    body = (await client.get("/agents", params={"by": "turns", "limit": 2})).json()
    assert body["by"] == "turns"
    assert body["limit"] == 2
    assert body["total"] == 3
    assert [a["id"] for a in body["agents"]] == ["busy", "team/a b"]
    assert body["agents"][0]["turns"] == 3
    assert {"state", "mailbox", "p95_ms", "tokens_out", "cost", "bytes_held", "restarts"} <= set(
        body["agents"][0]
    )
    default = (await client.get("/agents")).json()
    assert default["by"] == "p95"
    assert default["limit"] == 50
    assert len(default["agents"]) == 3


async def test_one_agent_and_unknown_ones(client: httpx.AsyncClient) -> None:
    view = (await client.get("/agents/busy")).json()
    assert view["id"] == "busy"
    assert view["turns"] == 3
    assert view["state"] == "idle"
    encoded = await client.get("/agents/team%2Fa%20b")
    assert encoded.status_code == 200
    assert encoded.json()["id"] == "team/a b"
    missing = await client.get("/agents/nobody")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no agent 'nobody'", "agent": "nobody"}
    nowhere = await client.get("/no/such/route")
    assert nowhere.status_code == 404
    assert "error" in nowhere.json()
    posted = await client.post("/summary")
    assert posted.status_code == 405
    assert "error" in posted.json()


@pytest.mark.parametrize(
    ("query", "parameter", "needle"),
    [
        ("by=colour", "by", "unknown ordering 'colour'"),
        ("limit=lots", "limit", "must be an integer"),
        ("limit=0", "limit", "1..10000"),
        ("limit=10001", "limit", "1..10000"),
        ("sort=p95", "sort", "unknown parameter"),
        ("by=p95&by=cost", "by", "more than once"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    client: httpx.AsyncClient, query: str, parameter: str, needle: str
) -> None:
    response = await client.get(f"/agents?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == parameter
    assert f"'{parameter}'" in body["error"]
    assert needle in body["error"]


async def test_token_required_when_configured(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(TOKEN_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    async with Runtime(with_endpoint(EndpointConfig(token_env=TOKEN_ENV))) as rt:
        await rt.spawn(Chatty, id="c")
        assert rt.endpoint_url is not None
        async with httpx.AsyncClient(base_url=rt.endpoint_url, trust_env=False) as c:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": f"Basic {SECRET}"},
                {"Authorization": f"Bearer {SECRET}x"},
                {"Authorization": "Bearer"},
            ):
                for path in ("/summary", "/agents/c", "/no/such/route"):
                    denied = await c.get(path, headers=headers)
                    assert denied.status_code == 401, (path, headers)
                    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
                    assert "error" in denied.json()
            auth = {"Authorization": f"Bearer {SECRET}"}
            assert (await c.get("/agents/c", headers=auth)).json()["id"] == "c"
            snapshot = (await c.get("/snapshot", headers=auth)).json()
        endpoint = rt.services.get("endpoint")
        shown = [repr(endpoint), repr(rt.config), json.dumps(snapshot), str(endpoint.stats())]
        assert snapshot["endpoint"]["authenticated"] is True
        assert snapshot["endpoint"]["statuses"]["401"] == 15
    assert all(SECRET not in text for text in shown)
    assert all(SECRET not in record.getMessage() for record in caplog.records)


async def test_non_loopback_needs_a_token() -> None:
    for host in ("0.0.0.0", "::", "10.1.2.3", "example.com"):
        with pytest.raises(ConfigError, match="not a loopback address") as info:
            EndpointConfig(host=host)
        assert info.value.key == "host"
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        EndpointConfig(host=host)
    # the endpoint checks again, whatever config object it is handed
    config = EndpointConfig()
    object.__setattr__(config, "host", "0.0.0.0")
    with pytest.raises(ConfigError, match="a token is required"):
        IntrospectionEndpoint(Telemetry(), config)


async def test_non_loopback_with_a_token_serves_only_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, SECRET)
    config = with_endpoint(EndpointConfig(host="0.0.0.0", token_env=TOKEN_ENV))
    async with Runtime(config) as rt:
        assert rt.endpoint_url is not None
        assert rt.endpoint_url.startswith("http://0.0.0.0:")
        local = rt.endpoint_url.replace("0.0.0.0", "127.0.0.1")
        async with httpx.AsyncClient(base_url=local, trust_env=False) as c:
            assert (await c.get("/summary")).status_code == 401
            ok = await c.get("/summary", headers={"Authorization": f"Bearer {SECRET}"})
            assert ok.status_code == 200


async def test_unset_token_variable_fails_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    rt = Runtime(with_endpoint(EndpointConfig(token_env=TOKEN_ENV)))
    with pytest.raises(ConfigError, match=TOKEN_ENV) as info:
        await rt.start()
    assert info.value.key == "telemetry.endpoint.token_env"
    assert len(rt.node) == 0
    assert rt.endpoint_url is None
    assert no_tasks_left() == []


async def test_a_busy_port_is_a_config_error_and_nothing_is_left() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        rt = Runtime(with_endpoint(EndpointConfig(port=port)))
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}") as info:
            await rt.start()
    assert info.value.key == "telemetry.endpoint.port"
    assert len(rt.node) == 0
    assert no_tasks_left() == []


async def test_config_validation_and_toml(tmp_path: Any) -> None:
    for kwargs, key in (
        ({"port": -1}, "port"),
        ({"port": 65536}, "port"),
        ({"host": ""}, "host"),
        ({"token_env": ""}, "token_env"),
    ):
        with pytest.raises(ConfigError) as info:
            EndpointConfig(**kwargs)
        assert info.value.key == key
    assert "token_env='X'" in repr(EndpointConfig(token_env="X"))
    path = tmp_path / "agentrt.toml"
    path.write_text('[telemetry.endpoint]\nport = 8787\ntoken_env = "AGENTRT_TOP_TOKEN"\n')
    loaded = RuntimeConfig.load(path)
    assert loaded.telemetry.endpoint == EndpointConfig(port=8787, token_env="AGENTRT_TOP_TOKEN")
    path.write_text('[telemetry.endpoint]\nhost = "0.0.0.0"\n')
    with pytest.raises(ConfigError, match=r"telemetry\.endpoint\.host.*agentrt\.toml:"):
        RuntimeConfig.load(path)
    assert RuntimeConfig().telemetry.endpoint is None  # off by default


async def test_off_by_default() -> None:
    async with Runtime(fast_config()) as rt:
        assert rt.endpoint_url is None
        assert "endpoint" not in rt.telemetry.snapshot()


async def test_closed_with_the_runtime_leaving_no_tasks() -> None:
    rt = Runtime(with_endpoint())
    async with rt:
        await rt.spawn(Helper, id="h")
        url = rt.endpoint_url
        assert url is not None
        client = httpx.AsyncClient(base_url=url, trust_env=False)
        assert (await client.get("/summary")).status_code == 200  # a keep-alive connection
        assert rt.services.get("endpoint").stats()["open_connections"] == 1
    assert rt.endpoint_url is None
    assert len(rt.node) == 0
    assert no_tasks_left() == []
    try:
        with pytest.raises(httpx.HTTPError):  # closed, including the kept-alive connection
            await client.get("/summary")
    finally:
        await client.aclose()


async def test_a_supervised_child_restarted_alone() -> None:
    async with Runtime(with_endpoint()) as rt:
        await rt.spawn(Chatty, id="c")
        agent_ref = rt.agent("c").actor
        first = rt.endpoint_url
        assert rt.root is not None
        children = await Supervisor.which_children(rt.root)
        assert children[0].id == "endpoint"  # started last, stopped first
        await Supervisor.terminate_child(rt.root, "endpoint")
        async with httpx.AsyncClient(trust_env=False) as c:
            with pytest.raises(httpx.ConnectError):
                await c.get(f"{first}/summary")
            await Supervisor.restart_child(rt.root, "endpoint")
            second = rt.endpoint_url
            assert second is not None
            assert second != first
            assert (await c.get(f"{second}/agents/c")).json()["id"] == "c"
        assert rt.agent("c").actor == agent_ref  # the agents were not touched


async def test_a_failing_view_is_a_json_500_and_the_endpoint_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    telemetry = Telemetry()
    telemetry.agent_stats("a", "Helper")

    def broken() -> dict[str, Any]:
        raise RuntimeError("a layer's stats failed")

    telemetry.summary_extras = broken
    endpoint = IntrospectionEndpoint(telemetry, EndpointConfig())
    await endpoint.start()
    try:
        async with httpx.AsyncClient(base_url=endpoint.url, trust_env=False) as c:
            failed = await c.get("/summary")
            assert failed.status_code == 500
            assert "internal error" in failed.json()["error"]
            assert (await c.get("/agents/a")).status_code == 200
    finally:
        await endpoint.aclose()
    assert endpoint.stats()["statuses"] == {"200": 1, "500": 1}
    assert any("GET /summary failed" in r.getMessage() for r in caplog.records)
