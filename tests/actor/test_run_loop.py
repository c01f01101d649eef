"""``agentrt.run``: its two speed settings (uvloop, GC thresholds), their switches, and
the one INFO line that says which were chosen."""

from __future__ import annotations

import gc
import importlib.util
import logging

import pytest

from agentrt.actor import SERVER_GC_THRESHOLDS, run

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


async def _probe() -> tuple[str, tuple[int, int, int]]:
    import asyncio

    return type(asyncio.get_running_loop()).__module__, gc.get_threshold()


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "agentrt.run"]


def test_default_run_logs_loop_and_gc_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentrt.run")
    before = gc.get_threshold()
    module, thresholds = run(_probe())
    assert thresholds == SERVER_GC_THRESHOLDS
    assert gc.get_threshold() == before
    (line,) = _lines(caplog)
    assert caplog.records[0].levelno == logging.INFO
    loop = "uvloop" if HAVE_UVLOOP else "asyncio"
    assert module.startswith(loop)
    assert f"loop {loop}" in line
    assert "use_uvloop=None" in line
    assert f"gc {SERVER_GC_THRESHOLDS}, was {before}" in line


def test_switches_turn_both_off_and_the_line_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentrt.run")
    before = gc.get_threshold()
    module, thresholds = run(_probe(), use_uvloop=False, gc_thresholds=None)
    assert module.startswith("asyncio")
    assert thresholds == before
    (line,) = _lines(caplog)
    assert "loop asyncio (use_uvloop=False)" in line
    assert f"gc {before} unchanged (gc_thresholds=None)" in line


def test_own_gc_thresholds_are_applied_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentrt.run")
    _, thresholds = run(_probe(), use_uvloop=False, gc_thresholds=(1234, 5, 6))
    assert thresholds == (1234, 5, 6)
    assert "gc (1234, 5, 6)" in _lines(caplog)[0]


def test_requiring_uvloop_uses_it_or_fails_clearly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentrt.run")
    if HAVE_UVLOOP:
        module, _ = run(_probe(), use_uvloop=True)
        assert module.startswith("uvloop")
        assert "loop uvloop" in _lines(caplog)[0]
        return
    with pytest.raises(ImportError, match="uvloop is not installed"):
        run(_probe(), use_uvloop=True)
    assert _lines(caplog) == []  # nothing ran, nothing claimed
