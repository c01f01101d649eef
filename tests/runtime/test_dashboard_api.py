"""The dashboard's routes on the introspection endpoint, over real HTTP: the agents table
cut and filtered on the server, an agent's detail, nodes, tree, LLM, history, the event
stream, the two actions and their token, and the static files."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from support.agents import Chatty, Helper, fast_config
from support.waiting import eventually

from agentrt.llm import PoolConfig, ProviderConfig, serve_mock_llm
from agentrt.runtime import EndpointConfig, IntrospectionEndpoint, Runtime, TelemetryConfig
from agentrt.runtime._directory import LocalDirectory, NodeInfo
from agentrt.runtime._endpoint import _Sampler
from agentrt.telemetry import Telemetry
from agentrt.telemetry._turnlog import TurnLog

TOKEN_ENV = "DASHBOARD_API_TEST_TOKEN"
SECRET = "dashboard-api-s3cret"


def config(token: bool = False) -> object:
    endpoint = EndpointConfig(token_env=TOKEN_ENV if token else None)
    return replace(fast_config(), telemetry=TelemetryConfig(endpoint=endpoint))


@pytest.fixture
async def rt() -> AsyncIterator[Runtime]:
    async with Runtime(config()) as runtime:  # type: ignore[arg-type]
        for i in range(12):
            await runtime.spawn(Helper, id=f"h-{i:02d}")
        await runtime.spawn(Chatty, id="chatty")
        for i in range(12):
            for _ in range(i % 4):
                await runtime.ask(f"h-{i:02d}", "hello")
        await runtime.ask("h-01", 'weather? [[tool:weather {"city": "Oslo"}]]')
        assert await runtime.passivate("h-11")
        yield runtime


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    assert rt.endpoint_url is not None
    async with httpx.AsyncClient(base_url=rt.endpoint_url, trust_env=False) as c:
        yield c


async def test_the_agents_table_is_cut_sorted_and_filtered_on_the_server(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/agents", params={"by": "turns", "limit": 5})).json()
    assert page["total"] == page["matched"] == 13
    # i % 4 turns each, and one more for h-01: 3 3 3 2 2 | 2 2 1 1 0 | 0 0 0
    assert [a["turns"] for a in page["agents"]] == [3, 3, 3, 2, 2]
    second = (await client.get("/agents", params={"by": "turns", "limit": 5, "offset": 5})).json()
    assert [a["turns"] for a in second["agents"]] == [2, 2, 1, 1, 0]
    assert not {a["id"] for a in page["agents"]} & {a["id"] for a in second["agents"]}
    low = (await client.get("/agents", params={"by": "turns", "order": "asc", "limit": 3})).json()
    assert [a["turns"] for a in low["agents"]] == [0, 0, 0]

    glob = (await client.get("/agents", params={"q": "h-0?", "limit": 50})).json()
    assert glob["matched"] == 10
    assert {a["id"] for a in glob["agents"]} == {f"h-{i:02d}" for i in range(10)}
    by_class = (await client.get("/agents", params={"q": "chat"})).json()
    assert [a["id"] for a in by_class["agents"]] == ["chatty"]
    parked = (await client.get("/agents", params={"state": "passivated"})).json()
    assert [a["id"] for a in parked["agents"]] == ["h-11"]
    live = (await client.get("/agents", params={"state": "live", "q": "h-1"})).json()
    assert sorted(a["id"] for a in live["agents"]) == ["h-10"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"order": "up"}, "order"),
        ({"state": "sleeping"}, "state"),
        ({"q": "x" * 201}, "q"),
        ({"sort": "p95"}, "sort"),
    ],
)
async def test_bad_agents_parameters_are_named(
    client: httpx.AsyncClient, params: dict[str, str], parameter: str
) -> None:
    response = await client.get("/agents", params=params)
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter
    assert parameter in response.json()["error"]


async def test_an_agents_detail_has_its_turns_steps_tiers_and_path(
    client: httpx.AsyncClient,
) -> None:
    view = (await client.get("/agents/h-01")).json()
    assert view["supervisor_path"][-1] == "h-01"
    assert view["supervisor_path"][1].endswith("/agents")
    turns = view["recent_turns"]
    assert len(turns) == 2  # newest first: the tool turn, then "hello"
    kinds = [step["kind"] for step in turns[0]["steps"]]
    assert kinds == ["llm", "tool", "llm"]
    assert turns[0]["steps"][1]["name"] == "weather"
    assert turns[0]["steps"][1]["ok"] is True
    assert all(step["ms"] >= 0 for step in turns[0]["steps"])
    assert turns[0]["ok"] is True
    tiers = view["conversation"]
    assert tiers["recent"]["messages"] == tiers["messages"] > 0
    assert tiers["memory_bytes"] > tiers["recent"]["bytes"] > 0
    assert tiers["chunks"]["memory_bytes"] == 0  # a short chat: nothing sealed yet
    assert tiers["summary"]["bytes"] == 0
    parked = (await client.get("/agents/h-11")).json()
    assert parked["conversation"] is None  # passivated: nothing in memory
    assert parked["state"] == "passivated"


async def test_nodes_tree_and_llm(rt: Runtime, client: httpx.AsyncClient) -> None:
    body = (await client.get("/nodes")).json()
    (node,) = body["nodes"]
    assert node["status"] == "alive"
    stats = body["stats"]  # the cluster view: one node without a cluster
    assert stats["clustered"] is False
    (mine,) = stats["nodes"]
    assert mine["node_id"] == node["node_id"]
    assert mine["stale"] is False
    assert stats["totals"]["turns"] == mine["turns"] == rt.telemetry.turns.count
    assert stats["totals"]["agents_live"] + stats["totals"]["agents_passivated"] <= 13
    assert node["address"] == rt.endpoint_url
    assert node["load"]["agents"] == 13
    assert node["load"]["actors"] >= 12  # the live agents, the services, supervisors
    assert node["load"]["rss_mib"] > 0

    tree = (await client.get("/tree")).json()
    names = [c["name"] for c in tree["children"]]
    assert names[:5] == ["store", "dictionaries", "llm", "tools", "agents"]
    assert names[-1] == "endpoint"
    agents = tree["children"][4]
    assert agents["kind"] == "supervisor"
    assert agents["child_count"] == 12
    assert agents["intensity_use"] == 0.0
    assert len(agents["children"]) == 12
    assert {c["kind"] for c in agents["children"]} == {"agent"}

    llm = (await client.get("/llm")).json()
    (provider,) = llm["providers"]
    assert provider["requests"] >= 20
    assert provider["input_tokens"] > 0
    assert provider["errors"] == {}
    assert provider["rate_limit_waits"] == 0


async def test_history_and_the_event_stream(rt: Runtime, client: httpx.AsyncClient) -> None:
    endpoint = rt.services.get("endpoint")
    history = (await client.get("/history")).json()
    assert history["interval_s"] == 2.0
    assert len(history["points"]) >= 1  # the first point is taken at start
    async with client.stream("GET", "/events") as response:
        assert response.headers["content-type"] == "text/event-stream"
        await eventually(lambda: endpoint.stats()["streams"] == 1, what="the stream")
        lines = response.aiter_lines()
        assert await anext(lines) == ": agentrt"
        endpoint.sampler.sample()  # a sample now, rather than in up to 2 s
        event = [line async for line in _until_blank(lines)]
    assert event[0] == "event: sample"
    data = json.loads(event[1].removeprefix("data: "))
    assert data["summary"]["agents"]["total"] == 13
    assert set(data["point"]) >= {"t", "turns_per_s", "p95", "live", "rss", "loop_lag_ms"}
    await eventually(lambda: endpoint.stats()["streams"] == 0, what="the stream closed")


async def _until_blank(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The lines of the next event (blank lines before it skipped)."""
    started = False
    async for line in lines:
        if line:
            started = True
            yield line
        elif started:
            return


async def test_actions_need_the_token(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = await client.post("/agents/h-02/restart")
    assert refused.status_code == 403
    assert "token" in refused.json()["error"]
    monkeypatch.setenv(TOKEN_ENV, SECRET)
    async with Runtime(config(token=True)) as rt:  # type: ignore[arg-type]
        await rt.spawn(Helper, id="a")
        await rt.ask("a", "hi")
        assert rt.endpoint_url is not None
        async with httpx.AsyncClient(base_url=rt.endpoint_url, trust_env=False) as c:
            assert (await c.post("/agents/a/passivate")).status_code == 401
            auth = {"Authorization": f"Bearer {SECRET}"}
            done = await c.post("/agents/a/passivate", headers=auth)
            assert done.json() == {"agent": "a", "action": "passivate", "ok": True}
            assert rt.directory.slot("a").passive  # type: ignore[union-attr]
            again = await c.post("/agents/a/passivate", headers=auth)
            assert again.json()["ok"] is False  # already passivated
            await rt.ask("a", "back")
            ref = rt.directory.local("a")
            restarted = await c.post("/agents/a/restart", headers=auth)
            assert restarted.json()["ok"] is True
            await eventually(lambda: rt.directory.local("a") not in (None, ref), what="restart")
            missing = await c.post("/agents/nobody/restart", headers=auth)
            assert missing.status_code == 404
            # the dashboard's files carry no data: served without the token
            assert (await c.get("/ui/")).status_code == 200
            assert (await c.get("/summary")).status_code == 401


async def test_the_ui_files(client: httpx.AsyncClient) -> None:
    index = await client.get("/ui/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert 'src="vendor/alpine.min.js"' in index.text
    for name in ("app.js", "app.css", "vendor/alpine.min.js", "vendor/uPlot.iife.min.js"):
        assert (await client.get(f"/ui/{name}")).status_code == 200, name
    redirect = await client.get("/ui")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "/ui/"
    for bad in ("/ui/../_endpoint.py", "/ui/vendor/LICENSE-uPlot", "/ui/nothing.js"):
        assert (await client.get(bad)).status_code == 404, bad
    # the Host allow-list guards the files too
    assert (await client.get("/ui/", headers={"Host": "evil.example"})).status_code == 421


async def test_routes_that_need_a_runtime_answer_404_on_a_bare_telemetry() -> None:
    endpoint = IntrospectionEndpoint(Telemetry(), EndpointConfig())
    await endpoint.start()
    try:
        async with httpx.AsyncClient(base_url=endpoint.url, trust_env=False) as c:
            for path in ("/nodes", "/tree", "/llm"):
                response = await c.get(path)
                assert response.status_code == 404, path
                assert "runtime" in response.json()["error"]
            filtered = await c.get("/agents", params={"q": "x"})
            assert filtered.status_code == 400
            assert (await c.get("/history")).status_code == 200
    finally:
        await endpoint.aclose()
    assert endpoint.sampler.closed


async def test_the_sampler_derives_rates_and_keeps_an_hour() -> None:
    telemetry = Telemetry()
    sampler = _Sampler(telemetry, interval=0.01)
    first = sampler.sample()
    assert first["turns_per_s"] == 0.0
    stats = telemetry.agent_stats("a", "A")
    for _ in range(10):
        telemetry.record_turn(stats, 0.01, True)
    telemetry.record_turn(stats, 0.01, False)
    await asyncio.sleep(0.05)
    second = sampler.sample()
    assert second["turns_per_s"] > 0
    assert second["errors_per_s"] > 0
    assert second["p95"] > 0
    assert sampler.points.maxlen == 1800


def test_turn_log_is_bounded_per_agent_and_in_agents() -> None:
    log = TurnLog(agents=2, per_agent=3)
    for i in range(5):
        log.record("a", i / 1000, True, (("llm", "m", 0.001, 10, 2),))
    assert [t["ms"] for t in log.recent("a")] == [4.0, 3.0, 2.0]  # newest first, 3 kept
    log.record("b", 0.001, False, error="TurnTimeout")
    log.record("a", 0.005, True)  # a is now the most recent
    log.record("c", 0.001, True)  # drops b, the least recently active
    assert log.recent("b") == []
    assert len(log) == 2
    assert log.recent("c")[0]["steps"] == []
    assert log.recent("a")[1]["steps"][0] == {
        "kind": "llm", "name": "m", "ms": 1.0, "input_tokens": 10, "output_tokens": 2
    }  # fmt: skip
    with pytest.raises(ValueError, match="per_agent"):
        TurnLog(per_agent=0)


def test_telemetry_page_orders_filters_and_validates() -> None:
    telemetry = Telemetry()
    for i in range(6):
        stats = telemetry.agent_stats(f"x-{i}", "X")
        for _ in range(i):
            telemetry.record_turn(stats, 0.001 * (i + 1), True)
    matched, rows = telemetry.page("p95", offset=1, limit=2)
    assert matched == 6
    assert [r["id"] for r in rows] == ["x-4", "x-3"]
    matched, rows = telemetry.page("turns", ascending=True, where=lambda i: i != "x-0")
    assert matched == 5
    assert [r["id"] for r in rows] == ["x-1", "x-2", "x-3", "x-4", "x-5"]
    with pytest.raises(ValueError, match="unknown ordering"):
        telemetry.page("nope")
    with pytest.raises(ValueError, match="offset"):
        telemetry.page("turns", offset=-1)


async def test_local_directory_has_one_node_row() -> None:
    async def activate(agent_id: str, slot: object) -> object:
        raise AssertionError("not activated here")

    directory = LocalDirectory(activate=activate, restart_grace_s=1.0, node_id="n1")  # type: ignore[arg-type]
    await directory.register(["a", "b"], Helper, {}, passive=True)
    (row,) = directory.nodes()
    assert isinstance(row, NodeInfo)
    assert row.node_id == "n1"
    assert row.status == "alive"
    assert row.load == {"agents": 2.0, "live": 0.0, "passivated": 2.0, "restarts": 0.0}
    custom = LocalDirectory(
        activate=activate,  # type: ignore[arg-type]
        restart_grace_s=1.0,
        address="http://10.0.0.1:8787",
        load=lambda: {"turns_per_s": 3.5},
    )
    (row,) = custom.nodes()
    assert row.address == "http://10.0.0.1:8787"
    assert row.load == {"turns_per_s": 3.5}


async def test_llm_view_has_each_models_breakers_over_http() -> None:
    async with serve_mock_llm() as server:
        provider = ProviderConfig(
            name="primary", kind="openai", base_urls=(server.url,), models=("m-1",)
        )
        cfg = replace(
            config(),  # type: ignore[type-var]
            llm=PoolConfig(providers=(provider,)),
        )
        async with Runtime(cfg) as rt:  # type: ignore[arg-type]
            await rt.spawn(Helper, id="a", model="m-1")
            await rt.ask("a", "hello")
            assert rt.endpoint_url is not None
            async with httpx.AsyncClient(base_url=rt.endpoint_url, trust_env=False) as c:
                (row,) = (await c.get("/llm")).json()["providers"]
    assert row["provider"] == "primary"
    assert row["kind"] == "openai"
    (model,) = row["models"]
    assert model["model"] == "m-1"
    assert model["breaker"] == "closed"
    assert model["breakers"][0]["kind"] == "chat"
    assert row["requests"] == 1
    assert (model["requests"], model["succeeded"], model["errors"]) == (1, 1, {})
    assert model["input_tokens"] == row["input_tokens"] > 0
    assert model["output_tokens"] == row["output_tokens"] > 0


async def test_max_age_serves_a_recent_view_and_is_checked(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    fresh = (await client.get("/agents", params={"by": "turns", "limit": 3})).json()
    await rt.ask("h-00", "one more")  # h-00 had no turn: a fresh page would change
    await rt.ask("h-00", "and another")
    await rt.ask("h-00", "and a third")
    await rt.ask("h-00", "and a fourth")
    kept = await client.get("/agents", params={"by": "turns", "limit": 3, "max_age": 60})
    assert kept.json() == fresh  # the page computed above, at most 60 s ago
    now = (await client.get("/agents", params={"by": "turns", "limit": 3})).json()
    assert now["agents"][0]["id"] == "h-00"  # without max_age: computed now
    endpoint = rt.services.get("endpoint")
    endpoint.sampler.sample()
    sampled = endpoint.sampler.summary["turns"]
    await rt.ask("h-00", "after the sample")
    recent = (await client.get("/summary", params={"max_age": 60})).json()
    assert recent["turns"] == sampled
    assert (await client.get("/summary")).json()["turns"]["ok"] == sampled["ok"] + 1
    for bad in ("-1", "61", "nan", "soon"):
        for path in ("/summary", "/agents"):
            response = await client.get(path, params={"max_age": bad})
            assert response.status_code == 400, (path, bad)
            assert response.json()["parameter"] == "max_age"


async def test_closing_the_endpoint_ends_its_event_streams() -> None:
    endpoint = IntrospectionEndpoint(Telemetry(), EndpointConfig())
    await endpoint.start()
    async with (
        httpx.AsyncClient(base_url=endpoint.url, trust_env=False) as c,
        c.stream("GET", "/events") as response,
    ):
        lines = response.aiter_lines()
        assert await anext(lines) == ": agentrt"
        await eventually(lambda: endpoint.streams == 1, what="the stream")
        closing = asyncio.ensure_future(endpoint.aclose())
        rest = [line async for line in lines]  # the server ends the stream
        await closing
    assert all(not line.startswith("event:") for line in rest)
    assert endpoint.streams == 0
    assert endpoint.stats()["open_connections"] == 0
