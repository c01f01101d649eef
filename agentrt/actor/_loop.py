"""Running a program on the best available event loop, with server GC settings.

``run(main())`` is ``asyncio.run`` with two speed settings, each with its switch:

- **the event loop**: uvloop when it is installed (the ``uvloop`` extra), asyncio's own
  otherwise. ``use_uvloop=False`` always uses asyncio's; ``use_uvloop=True`` requires
  uvloop (``ImportError`` when it is missing).
- **the garbage collector**: ``gc.set_threshold(*SERVER_GC_THRESHOLDS)``, i.e.
  (50,000, 20, 100) instead of CPython's (700, 10, 10), while ``main`` runs; the
  previous thresholds are restored afterwards. ``gc_thresholds=None`` keeps Python's;
  any other triple is applied instead.

Both choices are logged once at start, one INFO line on the ``agentrt.run`` logger::

    agentrt.run: loop uvloop 0.21.0 (use_uvloop=None); gc (50000, 20, 100), was (700, 10, 10)

Only entry points (the CLI, examples, load scripts) call it; library code never starts a
loop or changes the collector.

Why the thresholds: CPython's default (700, 10, 10) runs a young-generation collection
every 700 allocations, i.e. every few milliseconds under load. The state of an LLM call
in flight (~200 ms) survives those and is promoted to the old generation, and the
promotions trigger full collections, whose cost grows with every live agent. Measured
with 10,000 agents holding 20-message conversations (``loadtest.bench.agents``): 8 full
collections in 15 s, 147 ms median each, turn p99 302 ms for a 200 ms LLM; with
(50,000, 20, 100): 2 full collections, turn p99 204 ms, runtime overhead p95 1.8 → 0.6 ms.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["SERVER_GC_THRESHOLDS", "run"]

T = TypeVar("T")
_log = logging.getLogger("agentrt.run")

#: ``gc.set_threshold`` arguments ``run`` applies by default.
SERVER_GC_THRESHOLDS: tuple[int, int, int] = (50_000, 20, 100)


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _loop_name(factory: Callable[[], asyncio.AbstractEventLoop] | None) -> str:
    if factory is None:
        return "asyncio"
    import uvloop

    return f"uvloop {uvloop.__version__}"


def run(
    main: Coroutine[Any, Any, T],
    *,
    use_uvloop: bool | None = None,
    debug: bool | None = None,
    gc_thresholds: tuple[int, int, int] | None = SERVER_GC_THRESHOLDS,
) -> T:
    """Run ``main`` to completion on a new event loop and close it.

    ``use_uvloop``: None (default) uses uvloop if installed; True requires it (ImportError
    otherwise); False uses asyncio's default loop. ``gc_thresholds``
    (default ``SERVER_GC_THRESHOLDS``): applied with ``gc.set_threshold`` while ``main``
    runs (None keeps Python's). Logs the loop and the thresholds once, at INFO on the
    ``agentrt.run`` logger (see the module docs for why both).
    """
    factory = None
    if use_uvloop is not False:
        factory = _uvloop_factory()
        if factory is None and use_uvloop:
            main.close()
            raise ImportError("uvloop is not installed: pip install 'agentrt-actors[uvloop]'")
    previous = gc.get_threshold()
    if gc_thresholds is not None:
        gc.set_threshold(*gc_thresholds)
    _log.info(
        "agentrt.run: loop %s (use_uvloop=%r); gc %s",
        _loop_name(factory),
        use_uvloop,
        f"{gc_thresholds}, was {previous}"
        if gc_thresholds is not None
        else f"{previous} unchanged (gc_thresholds=None)",
    )
    try:
        with asyncio.Runner(loop_factory=factory, debug=debug) as runner:
            return runner.run(main)
    finally:
        gc.set_threshold(*previous)
