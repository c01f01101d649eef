"""Fixtures shared by the whole suite.

Redis: tests talk to a real server. ``redis_url`` is the shared server on 127.0.0.1:6379
when one answers, otherwise a server this session starts itself; when neither works the
suite fails loudly (never skips). Tests never flush a server: each test gets its own key
prefix from ``redis_prefix`` and its keys are deleted afterwards. Tests that stop Redis on
purpose use ``own_redis``, a private server on a free port.

memcached likewise: ``memcached_url`` is 127.0.0.1:11211 when it answers, else a server
this session starts (failing, never skipping, when it cannot); ``memcached_prefix`` is a key
prefix unique to the test (memcached cannot list keys: entries expire by their TTL);
``own_memcached`` is a private server the test may stop and start.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from xdist.scheduler import LoadScopeScheduling

from agentrt.testing import MemcachedServer, RedisServer, memcached_answers, redis_answers

settings.register_profile(
    "agentrt",
    deadline=None,  # shared, noisy machines: timing is for benchmarks, not tests
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "agentrt"))


TESTS = Path(__file__).resolve().parent

#: Folders whose tests run for seconds each (benchmarks in quick mode, real load runs,
#: subprocesses that import the frameworks): collected first, so pytest-xdist starts them
#: while the short tests fill in around them. Collected last (their default place for
#: most), one of them started near the end runs alone on one worker while the other idles.
LONG_FIRST = ("bench", "examples", "loadtest", "serve", "bridges", "packaging", "cli")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests of :data:`LONG_FIRST` first (in that order), the rest as collected."""

    def rank(item: pytest.Item) -> int:
        try:
            folder = item.path.relative_to(TESTS).parts[0]
        except ValueError:
            return len(LONG_FIRST)
        return LONG_FIRST.index(folder) if folder in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)  # stable: the same order on every xdist worker


#: A test module whose source has this shares a fixture between its tests (a built wheel, a
#: browser, a server process): :class:`OneTestAtATime` keeps its tests on one worker.
SHARED_FIXTURE = re.compile(r"""scope=["'](module|package)["']""")


class OneTestAtATime(LoadScopeScheduling):
    """pytest-xdist scheduling for this suite: a worker gets the next test whenever it has
    fewer than three waiting, in the order :func:`pytest_collection_modifyitems` makes
    (long tests first), so the run ends on short tests on both workers. (``--dist load``
    handed each worker ~280 consecutive tests at the start, most long ones to one
    worker.) The tests of a module with a module-scoped fixture (:data:`SHARED_FIXTURE`)
    are one unit on one worker, so the fixture is made once. (``--dist loadgroup`` groups
    by marks, but by renaming node ids, which pytest 9 ignores: it grouped nothing.)"""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self._shared: dict[str, bool] = {}

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        if module not in self._shared:
            try:
                source = (self.config.rootpath / module).read_text()
            except OSError:
                source = ""
            self._shared[module] = SHARED_FIXTURE.search(source) is not None
        return module if self._shared[module] else nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """:class:`OneTestAtATime` for ``--dist load`` (what ``-n 2`` in pyproject's addopts
    picks); another ``--dist`` given on the command line is left to xdist."""
    if config.getvalue("dist") != "load":
        return None
    config.option.loadscopereorder = False  # the order above, not the units' sizes
    return OneTestAtATime(config, log)


@pytest.fixture(scope="session", autouse=True)
def wide_console() -> Iterator[None]:
    """Rich wraps CLI output at the terminal's width, 80 columns where there is none (as
    in pytest-xdist's workers): tests that look for a message would then depend on where
    a path broke the line. Every test sees 200 columns."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "200")
        yield


def _running_server(
    answers: Callable[[], bool], default_url: str, server: RedisServer | MemcachedServer
) -> Iterator[str]:
    """The URL of the server on its default port when it answers, else of ``server``,
    started here and closed afterwards; the test fails (never skips) when it cannot."""
    if answers():
        yield default_url
        return
    yield from _own_server(server, "url")


def _own_server(server: RedisServer | MemcachedServer, what: str = "server") -> Iterator[Any]:
    try:
        server.start()
    except Exception as exc:
        pytest.fail(f"could not start a private {server.binary}: {exc}")
    try:
        yield server.url if what == "url" else server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis server that answers; started by the session when none is running."""
    yield from _running_server(redis_answers, "redis://127.0.0.1:6379/0", RedisServer())


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix unique to this test; its keys are deleted after the test."""
    import redis.asyncio as aioredis

    prefix = f"agentrt-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A private redis-server on a free port that the test may stop and start."""
    yield from _own_server(RedisServer())


@pytest.fixture(scope="session")
def memcached_url() -> Iterator[str]:
    """URL of a memcached that answers; started by the session when none is running."""
    yield from _running_server(memcached_answers, "memcached://127.0.0.1:11211", MemcachedServer())


@pytest.fixture
def memcached_prefix() -> str:
    """A key prefix unique to this test."""
    return f"agentrt-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def own_memcached() -> Iterator[MemcachedServer]:
    """A private memcached on a free port that the test may stop and start."""
    yield from _own_server(MemcachedServer())


@pytest.fixture
def no_leaked_tasks() -> Iterator[None]:
    """Assert nothing is left pending on the loop by the test (checked at teardown)."""
    yield
    loop = asyncio.get_event_loop_policy().get_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    assert not pending, f"tasks left pending: {pending}"
