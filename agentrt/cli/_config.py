"""``agentrt config show``: the effective runtime configuration and where each value came from.

The layers, highest first: command-line flags (``--set KEY=VALUE``), environment
variables (``AGENTRT_KEY__SUBKEY``), the file (``--config agentrt.toml``), defaults.
Each layer overrides only the keys it sets (see :mod:`agentrt._configlayers`). Every
value is printed with its source (``flag``, ``env``, ``file``, ``default``); secrets
are redacted (a URL's password, any key named like a token, password, secret or API
key). ``*_env`` settings name variables and are shown as they are; the variables'
values never are.

Examples::

    agentrt config show
    agentrt config show --config agentrt.toml --set agents.max_restarts=50
    AGENTRT_STORE__KIND=sqlite agentrt config show --json

Exit codes: 0 shown; 2 invalid configuration (the key and the source of its value named).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from agentrt._configlayers import Layered, load_layers, walk
from agentrt.cli import command_help
from agentrt.cli._args import add_set_argument, set_table
from agentrt.errors import ConfigError
from agentrt.redact import redacted
from agentrt.runtime import RuntimeConfig

__all__ = ["redact", "register", "show_lines"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config",
        help=command_help("config"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    show = sub.add_parser("show", help="print every setting with its source")
    show.add_argument("--config", help="agentrt.toml to read")
    add_set_argument(show)
    show.add_argument("--json", action="store_true", help="one JSON object: key -> value, source")
    show.set_defaults(func=_show)


def redact(key: str, value: Any) -> Any:
    """``value`` with secrets replaced (:func:`agentrt.redact.redacted`): the whole value
    when ``key``'s last part names a secret (``api_key``, ``token``...), a URL's password,
    and the same inside tables."""
    return redacted(value, key.rsplit(".", 1)[-1])


def _plain(value: Any) -> Any:
    """JSON-ready form of a config value (dataclasses as tables)."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in walk(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def rows(layered: Layered[Any]) -> list[tuple[str, Any, str]]:
    """``(key, redacted value, source)`` for every setting of ``layered.config``."""
    return [
        (key, redact(key, _plain(value)), layered.source(key))
        for key, value in walk(layered.config)
    ]


def show_lines(layered: Layered[Any]) -> list[str]:
    """The text of ``agentrt config show``: ``source  key = value``, one per setting."""
    return [f"{source:8} {key} = {json.dumps(value)}" for key, value, source in rows(layered)]


def _show(args: argparse.Namespace) -> int:
    try:
        layered = load_layers(
            RuntimeConfig, path=args.config, env=os.environ, flags=set_table(args.set)
        )
    except ConfigError as exc:
        print(f"agentrt config: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = {k: {"value": v, "source": s} for k, v, s in rows(layered)}
        print(json.dumps(out, indent=2))
    else:
        print("\n".join(show_lines(layered)))
    return 0
