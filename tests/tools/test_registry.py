from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any

import pytest
from support.waiting import eventually

from agentrt.actor import Node
from agentrt.errors import ConfigError
from agentrt.messages import ToolCall
from agentrt.tools import (
    CachePolicy,
    CacheScopeError,
    MemoryBackend,
    ResourceBroken,
    ResourceExecutor,
    ResultCache,
    ToolPolicy,
    ToolRegistry,
    ToolResultError,
    tool,
)
from agentrt.tools._result import encode_content
from agentrt.tools.cache._keys import tool_key

from .conftest import other_tasks


@dataclass
class Forecast:
    city: str
    temp_c: float


@tool
async def weather(city: str) -> Forecast:
    """Current weather."""
    return Forecast(city, 18.5)


@tool
def add(a: int, b: int) -> int:
    return a + b


async def test_async_tool_ok_result_is_json_and_converts_to_message() -> None:
    async with ToolRegistry([weather]) as registry:
        result = await registry.call(ToolCall("c1", "weather", '{"city": "Paris"}'))
    assert result.ok
    assert result.error is None
    assert not result.cached
    assert json.loads(result.content) == {"city": "Paris", "temp_c": 18.5}
    message = result.to_message("c1")
    assert message.role == "tool"
    assert message.tool_call_id == "c1"
    assert not message.is_error


async def test_sync_tool_runs_in_a_worker_thread() -> None:
    seen: list[int] = []

    @tool
    def where() -> str:
        seen.append(threading.get_ident())
        return "here"

    async with ToolRegistry([where, add]) as registry:
        assert (await registry.invoke("where", {})).content == "here"
        assert (await registry.invoke("add", {"a": 2, "b": "3"})).content == "5"
    assert seen
    assert seen[0] != threading.get_ident()


async def test_thread_pool_is_bounded() -> None:
    gate = threading.Event()
    lock = threading.Lock()
    running = [0, 0]  # now, max

    @tool(policy=ToolPolicy(max_concurrency=8))
    def block(i: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        gate.wait(5)
        with lock:
            running[0] -= 1
        return i

    registry = ToolRegistry([block], max_threads=2)
    calls = [asyncio.create_task(registry.invoke("block", {"i": i})) for i in range(6)]
    await eventually(lambda: running[0] == 2)
    gate.set()
    results = await asyncio.gather(*calls)
    await registry.aclose()
    assert [r.content for r in results] == [str(i) for i in range(6)]
    assert running[1] == 2


async def test_error_results_for_llm_mistakes() -> None:
    async with ToolRegistry([weather]) as registry:
        unknown = await registry.call(ToolCall("c1", "wether", "{}"))
        bad_json = await registry.call(ToolCall("c2", "weather", "{city: Paris}"))
        missing = await registry.call(ToolCall("c3", "weather", "{}"))
    assert unknown.error == "unknown_tool"
    assert "weather" in unknown.message
    assert bad_json.error == "invalid_arguments"
    body = json.loads(missing.content)
    assert body["error"] == "invalid_arguments"
    assert body["fields"] == ["city"]
    assert "argument 'city' is missing" in body["message"]
    assert missing.to_message("c3").is_error


async def test_tool_exception_becomes_error_result() -> None:
    @tool
    async def explode(x: int) -> int:
        raise ValueError(f"cannot handle {x}")

    @tool
    def explode_sync() -> int:
        raise KeyError("nope")

    @tool
    def unserializable() -> Any:
        return object()

    async with ToolRegistry([explode, explode_sync, unserializable]) as registry:
        a = await registry.invoke("explode", {"x": 3})
        b = await registry.invoke("explode_sync", {})
        c = await registry.invoke("unserializable", {})
    assert a.error == "exception"
    assert "ValueError: cannot handle 3" in a.message
    assert b.error == "exception"
    assert "KeyError" in b.message
    assert c.error == "exception"
    assert "JSON-serializable" in c.message


async def test_timeout_becomes_error_result_for_async_and_sync_tools() -> None:
    never = asyncio.Event()
    release = threading.Event()

    @tool(policy=ToolPolicy(timeout=0.05))
    async def hang() -> str:
        await never.wait()
        return "never"

    @tool(policy=ToolPolicy(timeout=0.05, max_concurrency=1))
    def hang_sync() -> str:
        release.wait(5)
        return "late"

    registry = ToolRegistry([hang, hang_sync])
    a = await registry.invoke("hang", {})
    b = await registry.invoke("hang_sync", {})
    assert a.error == "timeout"
    assert "0.05 s" in a.message
    assert b.error == "timeout"
    # The timed-out thread still holds the tool's only slot until it really ends.
    assert registry.stats()["tools"]["hang_sync"]["running"] == 1
    release.set()
    await eventually(lambda: registry.stats()["tools"]["hang_sync"]["running"] == 0)
    await registry.aclose()


async def test_concurrency_limit_and_busy() -> None:
    gate = asyncio.Event()
    running = [0, 0]

    @tool(policy=ToolPolicy(max_concurrency=2, max_waiting=3))
    async def slow(i: int) -> int:
        running[0] += 1
        running[1] = max(running[1], running[0])
        await gate.wait()
        running[0] -= 1
        return i

    registry = ToolRegistry([slow])
    calls = [asyncio.create_task(registry.invoke("slow", {"i": i})) for i in range(5)]
    await eventually(lambda: registry.stats()["tools"]["slow"]["waiting"] == 3)
    busy = await registry.invoke("slow", {"i": 99})
    assert busy.error == "busy"
    assert running[0] == 2
    gate.set()
    results = await asyncio.gather(*calls)
    assert all(r.ok for r in results)
    assert running[1] == 2
    await registry.aclose()


async def test_caller_giving_up_cancels_the_async_tool() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @tool
    async def long_job() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "done"

    registry = ToolRegistry([long_job])
    call = asyncio.create_task(registry.invoke("long_job", {}))
    await started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert cancelled.is_set()
    assert registry.stats()["tools"]["long_job"]["running"] == 0
    await registry.aclose()
    assert other_tasks() == []


def _counting_tool(policy: ToolPolicy) -> tuple[Any, list[str]]:
    calls: list[str] = []

    @tool(policy=policy)
    async def profile(user: str) -> dict[str, str]:
        calls.append(user)
        return {"user": user, "n": str(len(calls))}

    return profile, calls


async def test_cached_results_and_scope_isolation() -> None:
    profile, calls = _counting_tool(ToolPolicy(cache=CachePolicy(scope="agent")))
    cache = ResultCache(MemoryBackend(), namespace="t")
    registry = ToolRegistry([profile], cache=cache)
    first = await registry.invoke("profile", {"user": "u1"}, agent_id="alice")
    again = await registry.invoke("profile", '{"user": "u1"}', agent_id="alice")
    other = await registry.invoke("profile", {"user": "u1"}, agent_id="bob")
    assert not first.cached
    assert again.cached
    assert not other.cached
    assert again.content == first.content
    assert len(calls) == 2  # bob never saw alice's private result
    assert json.loads(other.content)["n"] == "2"
    with pytest.raises(CacheScopeError):
        await registry.invoke("profile", {"user": "u1"})
    await registry.aclose()
    await cache.aclose()


async def test_tenant_and_shared_scopes() -> None:
    tenant_tool, tenant_calls = _counting_tool(ToolPolicy(cache=CachePolicy(scope="tenant")))
    cache = ResultCache(MemoryBackend(), namespace="t")
    registry = ToolRegistry([tenant_tool], cache=cache)
    await registry.invoke("profile", {"user": "u"}, agent_id="a1", tenant_id="acme")
    same_tenant = await registry.invoke("profile", {"user": "u"}, agent_id="a2", tenant_id="acme")
    other_tenant = await registry.invoke("profile", {"user": "u"}, agent_id="a3", tenant_id="zeta")
    assert same_tenant.cached
    assert not other_tenant.cached
    assert len(tenant_calls) == 2
    await cache.aclose()

    shared_tool, shared_calls = _counting_tool(ToolPolicy(cache=CachePolicy()))
    cache = ResultCache(MemoryBackend(), namespace="t")
    registry = ToolRegistry([shared_tool], cache=cache)
    await registry.invoke("profile", {"user": "u"}, agent_id="a1")
    assert (await registry.invoke("profile", {"user": "u"}, agent_id="a2")).cached
    assert len(shared_calls) == 1
    await cache.aclose()


async def test_negative_caching_is_opt_in_and_skips_busy() -> None:
    failures: list[int] = []

    def failing(name: str, policy: ToolPolicy) -> Any:
        @tool(name=name, policy=policy)
        async def fn() -> str:
            failures.append(1)
            raise RuntimeError("upstream 503")

        return fn

    plain = failing("plain", ToolPolicy(cache=CachePolicy()))
    negative = failing("negative", ToolPolicy(cache=CachePolicy(negative_ttl=5)))
    cache = ResultCache(MemoryBackend(), namespace="t")
    registry = ToolRegistry([plain, negative], cache=cache)
    for _ in range(2):
        assert (await registry.invoke("plain", {})).error == "exception"
    assert len(failures) == 2  # errors are not cached by default
    first = await registry.invoke("negative", {})
    second = await registry.invoke("negative", {})
    assert second.cached
    assert second.error == "exception"
    assert second.content == first.content
    assert len(failures) == 3
    assert cache.stats()["negative_hits"] == 1
    await cache.aclose()


async def test_thousand_concurrent_identical_calls_execute_once() -> None:
    gate = asyncio.Event()
    executions: list[int] = []

    @tool(policy=ToolPolicy(cache=CachePolicy(), max_concurrency=1))
    async def expensive(q: str) -> str:
        executions.append(1)
        await gate.wait()
        return q.upper()

    cache = ResultCache(MemoryBackend(), namespace="t")
    registry = ToolRegistry([expensive], cache=cache)
    calls = [
        asyncio.create_task(registry.invoke("expensive", {"q": "otp"}, agent_id=f"a{i}"))
        for i in range(1000)
    ]
    await eventually(lambda: cache.stats()["singleflight_joins"] == 999)
    gate.set()
    results = await asyncio.gather(*calls)
    assert len(executions) == 1
    assert {r.content for r in results} == {"OTP"}
    assert sum(not r.cached for r in results) == 1
    assert cache.stats()["executions"] == 1
    await cache.aclose()
    await registry.aclose()


async def test_invalidation_through_the_registry_cache() -> None:
    profile, calls = _counting_tool(ToolPolicy(cache=CachePolicy(tags=("crm",))))
    cache = ResultCache(MemoryBackend(), namespace="t")
    registry = ToolRegistry([profile], cache=cache)
    await registry.invoke("profile", {"user": "u"})
    assert await cache.invalidate_tool("profile") == 1
    await registry.invoke("profile", {"user": "u"})
    assert await cache.invalidate_tag("crm") == 1
    await registry.invoke("profile", {"user": "u"})
    assert len(calls) == 3
    stats = registry.stats()["tools"]["profile"]
    assert stats["calls"] == 3
    assert stats["latency"]["count"] == 3  # executions only
    await cache.aclose()


async def test_registry_rejects_duplicates_and_non_tools() -> None:
    registry = ToolRegistry([add])
    with pytest.raises(ValueError, match="already registered"):
        registry.add(add)
    with pytest.raises(ValueError, match="use @tool"):
        registry.add(lambda: None)  # type: ignore[arg-type]
    assert registry.names() == ["add"]
    assert registry.specs()[0]["name"] == "add"
    await registry.aclose()


async def test_a_malformed_cached_value_is_replaced_by_a_fresh_run() -> None:
    profile, calls = _counting_tool(ToolPolicy(cache=CachePolicy()))
    backend = MemoryBackend()
    cache = ResultCache(backend, namespace="t")
    registry = ToolRegistry([profile], cache=cache)
    await registry.invoke("profile", {"user": "u"})
    key = tool_key("t", "profile", profile.canonical_arguments({"user": "u"}))
    assert len(backend) == 1  # that key's entry is the only one
    assert await backend.get(key) is not None
    await cache.put(key, {"not": "a tool result"}, ttl=60)
    result = await registry.invoke("profile", {"user": "u"})
    assert result.ok
    assert json.loads(result.content)["user"] == "u"
    assert len(calls) == 2
    await cache.aclose()


def _thread_resource(**kwargs: Any) -> tuple[ResourceExecutor[threading.Thread], list[str]]:
    """An executor whose "resource" is its actor's own thread; records what it closed."""
    closed: list[str] = []

    def close(thread: threading.Thread) -> None:
        assert thread is threading.current_thread()
        closed.append(thread.name)

    return ResourceExecutor("db", threading.current_thread, close=close, **kwargs), closed


@tool(resource="db", policy=ToolPolicy(timeout=5))
def owner(thread: threading.Thread, tag: str) -> str:
    assert thread is threading.current_thread(), "resource used from another thread"
    return f"{tag}:{thread.name}"


@tool(resource="db")
def crash(thread: threading.Thread) -> int:
    raise ResourceBroken("socket closed")


async def test_resource_tools_run_under_a_supervisor_on_the_node(node: Node) -> None:
    @tool(resource="cache")
    def orphan(thread: threading.Thread) -> int:
        return 1

    executor, closed = _thread_resource()
    registry = ToolRegistry([owner, crash, orphan])
    registry.add_resource(executor)
    await registry.start(node)
    try:
        assert executor.supervisor is not None
        assert executor.supervisor.alive
        first = (await registry.invoke("owner", {"tag": "a"})).content
        failed = await registry.invoke("crash", {})
        assert failed.error == "exception"
        assert "socket closed" in failed.message
        second = (await registry.invoke("owner", {"tag": "b"})).content
        assert first.split(":")[1] != second.split(":")[1]  # restarted in a new thread
        assert closed == [first.split(":")[1]]
        missing = await registry.invoke("orphan", {})
        assert missing.error == "unavailable"
        assert registry.stats()["resources"]["db"]["restarts"] == 1
    finally:
        await registry.aclose()
    assert executor.state == "stopped"
    assert closed == [first.split(":")[1], second.split(":")[1]]
    assert node.actors() == []


async def test_resource_tools_get_unavailable_once_the_supervisor_gives_up(node: Node) -> None:
    executor, _ = _thread_resource(max_restarts=0)
    registry = ToolRegistry([owner, crash])
    registry.add_resource(executor)
    await registry.start(node)
    assert (await registry.invoke("crash", {})).error == "exception"
    await eventually(lambda: executor.state == "failed")
    result = await registry.invoke("owner", {"tag": "x"})
    assert result.error == "unavailable"
    assert "failed" in result.message
    await registry.aclose()


async def test_start_needs_a_node_only_for_resources(node: Node) -> None:
    async with ToolRegistry([add]) as plain:  # no resources: no node needed
        assert (await plain.invoke("add", {"a": 1, "b": 2})).content == "3"
    registry = ToolRegistry([owner])
    executor, _ = _thread_resource()
    registry.add_resource(executor)
    with pytest.raises(ConfigError, match="node"):
        await registry.start()
    assert executor.state == "stopped"
    await registry.aclose()


async def test_the_callers_deadline_bounds_a_tool_with_a_longer_timeout() -> None:
    never = asyncio.Event()

    @tool(policy=ToolPolicy(timeout=1000.0))
    async def hang() -> str:
        await never.wait()
        return "never"

    async with ToolRegistry([hang]) as registry:
        at = asyncio.get_running_loop().time() + 0.05  # the turn's deadline
        result = await registry.call(ToolCall("c1", "hang", "{}"), deadline=at)
    assert result.error == "timeout"
    assert "1000" not in result.message  # it names what it was given, not its own limit


def test_a_return_value_json_cannot_hold_is_a_tool_result_error() -> None:
    with pytest.raises(ToolResultError, match="not JSON-serializable") as info:
        encode_content(object())
    assert isinstance(info.value, TypeError)
