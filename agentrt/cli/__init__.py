"""The ``agentrt`` command line.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (an ``argparse.Namespace``
-> exit-code callable). Environment variables (``AGENTRT_*``) are read here, at the edge,
never deeper in the library.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# Subcommand modules, in the order ``--help`` lists them.
_COMMANDS: tuple[str, ...] = (
    "agentrt.cli.config",
    "agentrt.cli.demo",
    "agentrt.cli.loadtest",
    "agentrt.cli.mock_llm",
    "agentrt.cli.top",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="agentrt",
        description="agentrt: an actor runtime for AI agents.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
