"""Running a program on the best available event loop.

``run(main())`` is ``asyncio.run`` that picks uvloop when it is installed (the ``uvloop``
extra) and ``use_uvloop`` is not False. Only entry points (the CLI, examples, load
scripts) call it; library code never starts a loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(
    main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None, debug: bool | None = None
) -> T:
    """Run ``main`` to completion on a new event loop and close it.

    ``use_uvloop``: None (default) uses uvloop if installed; True requires it (ImportError
    otherwise); False uses asyncio's default loop.
    """
    factory = None
    if use_uvloop is not False:
        factory = _uvloop_factory()
        if factory is None and use_uvloop:
            main.close()
            raise ImportError("uvloop is not installed: pip install 'agentrt[uvloop]'")
    with asyncio.Runner(loop_factory=factory, debug=debug) as runner:
        return runner.run(main)
