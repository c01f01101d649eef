"""``agentrt mock-llm``: run the OpenAI-compatible mock LLM server until interrupted.

Prints ``mock-llm listening on http://HOST:PORT/v1`` once it accepts connections (with
``--port 0`` the OS picks a free port; read it from that line). Uses uvloop when it is
installed, unless ``--no-uvloop``.

Example::

    agentrt mock-llm --port 8100 --latency-ms 50 --error-rate-503 0.01 --rate-limit-rps 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from agentrt.bounds import PORT
from agentrt.cli import command_help
from agentrt.cli._args import field_arg, number_arg
from agentrt.errors import ConfigError
from agentrt.llm._mockserver import MockServerConfig, serve_mock_llm

__all__ = ["register"]

_port = number_arg(PORT, int)

_FLOATS = {
    "latency_ms": "fixed latency per request, ms",
    "jitter_ms": "extra uniform random latency in [0, JITTER], ms",
    "per_token_ms": "latency per output token, ms (also paces stream chunks)",
    "error_rate_500": "fraction of requests answered 500",
    "error_rate_503": "fraction of requests answered 503",
    "error_rate_429": "fraction of requests answered 429 (with Retry-After)",
    "rate_limit_rps": "answer 429 above this many requests/s (0: never)",
    "retry_after_s": "Retry-After sent with 429, seconds",
    "hang_rate": "fraction of requests that never answer",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mock-llm",
        help=command_help("mock-llm"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=8100, help="0: a free port")
    for name, help_text in _FLOATS.items():
        default = 1.0 if name == "retry_after_s" else 0.0
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=field_arg(MockServerConfig, name),
            default=default,
            help=help_text,
        )
    parser.add_argument(
        "--malformed",
        choices=["invalid_json", "missing_fields", "unknown_finish", "truncated_sse"],
        help="make every chat response malformed this way",
    )
    parser.add_argument(
        "--max-inflight",
        type=field_arg(MockServerConfig, "max_inflight"),
        help="requests served at once (default: no limit)",
    )
    parser.add_argument(
        "--embedding-dim", type=field_arg(MockServerConfig, "embedding_dim"), default=8
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's own loop")
    parser.set_defaults(func=_run)


def _config(args: argparse.Namespace) -> MockServerConfig:
    values = {name: getattr(args, name) for name in _FLOATS}
    return MockServerConfig(
        **values,
        malformed=args.malformed,
        max_inflight=args.max_inflight,
        embedding_dim=args.embedding_dim,
        seed=args.seed,
    )


async def _serve(args: argparse.Namespace, config: MockServerConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve_mock_llm(config, host=args.host, port=args.port) as server:
        print(f"mock-llm listening on {server.url}", flush=True)
        await stop.wait()


def _run(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"agentrt mock-llm: {exc}", file=sys.stderr)
        return 2
    runner: Any = asyncio.run
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop  # type: ignore[import-not-found,unused-ignore]

            runner = uvloop.run
    try:
        runner(_serve(args, config))
    except OSError as exc:
        print(f"agentrt mock-llm: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
