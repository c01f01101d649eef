"""Importing a package costs only what it uses (STYLE.md, "Layout").

Each public package is imported FIRST, in a fresh interpreter, and the heavy
third-party modules it left in ``sys.modules`` are checked against that package's
allow-list. This catches an import cycle that only shows when a package is imported
first (``import supervisors`` once failed that way) and an eager import of a dependency
that a layer only needs when it is used (``import agentrt.actor`` once loaded aiohttp,
redis and the OpenTelemetry SDK). A heavy module that a package needs at import time
goes into its allow-list here, on purpose, in review.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Third-party (and stdlib) modules too costly to load by accident.
HEAVY = (
    "aiohttp",
    "emcache",
    "httpx",
    "msgspec",
    "opentelemetry",  # the API or the SDK
    "opentelemetry.sdk",
    "prometheus_client",
    "pydantic",  # loaded by the first @tool, not by importing agentrt.tools
    "pykka",
    "redis",
    "rich",
    "sqlite3",
    "zstandard",
)

_CODECS = {"msgspec", "zstandard"}  # conversation chunks, cache entries
# the LLM layer's HTTP client (httpx over aiohttp); httpx loads zstandard to decode bodies
# httpx's own __init__ imports its command-line client (rich, pygments) whenever click is
# installed, as it is with the docs extra: that comes with httpx, not from agentrt.
_HTTP = {"aiohttp", "httpx", "msgspec", "zstandard", "rich"}

#: package -> the heavy modules it may load when imported first.
ALLOWED: dict[str, set[str]] = {
    "agentrt": set(),
    "agentrt.actor": set(),
    "supervisors": set(),
    "agentrt.telemetry": set(),
    "agentrt.memory": _CODECS,
    "agentrt.tools": _CODECS,
    "agentrt.llm": _HTTP,
    "agentrt.agent": _HTTP | _CODECS,
    "agentrt.runtime": _HTTP | _CODECS,
    "agentrt.bridges": _HTTP | _CODECS,  # no framework: each bridge module imports its own
    "agentrt.serve": _HTTP | _CODECS,  # an aiohttp.web app in front of the runtime
    "agentrt.testing": _HTTP | _CODECS,  # the mock LLM server is an aiohttp app
    "agentrt.loadtest": _HTTP | _CODECS | {"rich"},  # live progress and the report table
    "agentrt.cli": set(),  # subcommands are imported when they run
}

_PROBE = """
import json, sys
import {package}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded_by(package: str) -> set[str]:
    """The heavy modules in ``sys.modules`` after importing ``package`` first."""
    code = _PROBE.format(package=package, heavy=HEAVY)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"`import {package}` first failed:\n{proc.stderr}"
    return set(json.loads(proc.stdout))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_importing_a_package_first_loads_only_its_allow_list(package: str) -> None:
    extra = _loaded_by(package) - ALLOWED[package]
    assert not extra, f"`import {package}` loaded {sorted(extra)}: defer them to where used"


def test_the_probe_sees_heavy_modules() -> None:
    # the check above is only as good as its probe: the LLM layer does load its client
    assert {"aiohttp", "httpx"} <= _loaded_by("agentrt.llm")


def test_lazy_names_load_their_layer_on_first_access() -> None:
    code = (
        "import sys, agentrt, agentrt.memory, agentrt.tools\n"
        "assert 'agentrt.runtime' not in sys.modules and 'redis' not in sys.modules\n"
        "agentrt.Runtime, agentrt.memory.RedisStore, agentrt.tools.ResourceExecutor\n"
        "assert {'agentrt.runtime', 'redis', 'pykka'} <= set(sys.modules)\n"
        "assert set(agentrt.__all__) <= set(dir(agentrt))\n"
        "try:\n    agentrt.NoSuchName\nexcept AttributeError as exc:\n"
        "    assert 'NoSuchName' in str(exc)\nelse:\n    raise SystemExit('no AttributeError')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
