"""The ``agentrt`` command line.

Subcommands are loaded lazily, so ``agentrt --help`` and every other command start in
about the time of the interpreter itself: ``COMMANDS`` names each subcommand, the module
that implements it and its one-line help, and a module is imported only when its
subcommand runs (or is asked for its own ``--help``). ``main`` parses in two steps: a
cheap parser whose subcommands are placeholders finds which subcommand was asked for,
then that one module registers its full parser and the whole command line is parsed
again, so errors, ``--help`` and defaults are exactly argparse's.

Adding a subcommand:

1. Write ``agentrt/cli/NAME.py`` with ``register(subparsers)``, which calls
   ``subparsers.add_parser("NAME", help=command_help("NAME"), ...)``, adds its arguments
   and sets ``func`` (an ``argparse.Namespace`` -> exit-code callable) with
   ``set_defaults``. Import what the command needs inside that module, never here.
2. Add one line to ``COMMANDS``: ``"NAME": ("agentrt.cli.NAME", "one-line help")``.

Environment variables (``AGENTRT_*``) are read here, at the edge, never deeper in the
library.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from agentrt._lazy import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

__all__ = ["COMMANDS", "build_parser", "command_help", "main"]

#: Subcommand -> (the module that registers it, its one-line help), in ``--help`` order.
COMMANDS: dict[str, tuple[str, str]] = {
    "capacity": (
        "agentrt.cli._capacity",
        "find one node's knee by a stepped load search; plan nodes from the fitted model",
    ),
    "cluster": (
        "agentrt.cli._cluster",
        "run a cluster on this machine: N supervised node processes (up, restart --rolling)",
    ),
    "config": (
        "agentrt.cli._config",
        "show the effective runtime configuration and the source of each value",
    ),
    "demo": (
        "agentrt.cli._demo",
        "run a supervised agent swarm on the mock LLM (or any OpenAI-compatible URL)",
    ),
    "loadtest": (
        "agentrt.cli._loadtest",
        "run load scenarios with thresholds; compare their reports",
    ),
    "mcp": ("agentrt.cli._mcp", "serve agentrt's registered tools as an MCP server"),
    "mock-llm": ("agentrt.cli._mock_llm", "run the OpenAI-compatible mock LLM server"),
    "node": ("agentrt.cli._node", "run one cluster node (agents shared with other nodes on Redis)"),
    "serve": (
        "agentrt.cli._serve",
        "serve agents over an OpenAI-compatible HTTP API (chat completions, SSE)",
    ),
    "top": (
        "agentrt.cli._top",
        "live view of a running runtime's agents (connects to its endpoint)",
    ),
}


def command_help(name: str) -> str:
    """The one-line help of subcommand ``name`` (for its module's ``add_parser``)."""
    return COMMANDS[name][1]


def build_parser(load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser. Subcommands in ``load`` (default: all) are imported and
    registered in full; the others are placeholders that take any arguments and cost
    no import."""
    parser = argparse.ArgumentParser(
        prog="agentrt",
        description="agentrt: an actor runtime for AI agents.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_) in COMMANDS.items():
        if load is None or name in load:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # `agentrt --help`, a missing or unknown subcommand: answered here, nothing imported
    command = build_parser(load=()).parse_known_args(argv)[0].command
    args = build_parser(load=(command,)).parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
