"""Log records at the command line: one line each, no traceback unless asked for.

Without a handler, Python prints a warning's whole traceback (its "last resort"
handler), so an expected failure such as a busy port reached the user as pages of stack
before the command's own one-line error. :func:`one_line_logging` installs, for the
duration of a command, a handler on the root logger that prints ``LEVEL logger:
message`` with the exception reduced to ``Type: text``; ``tracebacks=True`` (the
commands' ``--debug``) keeps the full traceback.

Example::

    with one_line_logging(tracebacks=args.debug):
        return run_command(args)
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

__all__ = ["OneLineFormatter", "one_line_logging"]


class OneLineFormatter(logging.Formatter):
    """``LEVEL logger: message`` plus ``(Type: text)`` of an attached exception."""

    def __init__(self, *, tracebacks: bool = False) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks or not record.exc_info:
            return super().format(record)
        exc = record.exc_info[1]
        line = logging.Formatter.format(self, _without_exc(record))
        text = f"{type(exc).__name__}: {exc}" if exc is not None else ""
        return line if not text or type(exc).__name__ in line else f"{line} ({text})"


def _without_exc(record: logging.LogRecord) -> logging.LogRecord:
    copy = logging.makeLogRecord(record.__dict__)
    copy.exc_info = None
    copy.exc_text = None
    copy.stack_info = None
    return copy


@contextlib.contextmanager
def one_line_logging(*, tracebacks: bool = False, level: int = logging.WARNING) -> Iterator[None]:
    """Print log records of ``level`` and above to stderr, one line each, while the
    block runs (the handler is removed afterwards)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(tracebacks=tracebacks))
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
