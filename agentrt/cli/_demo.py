"""``agentrt demo``: spawn a supervised agent swarm and run conversations against it.

Defaults: 1,000 agents, 5 turns each, the in-process mock LLM at 50 ms latency, 5
injected crashes. Shows live progress on a terminal and ends with a table; exits 0 when
no turn was lost, 1 otherwise.

Examples::

    agentrt demo
    agentrt demo --agents 10000 --turns 3
    agentrt demo --llm-url http://127.0.0.1:8100/v1            # agentrt mock-llm, or vLLM...
    OPENAI_API_KEY=... agentrt demo --llm-url https://api.openai.com/v1 \\
        --model gpt-4o-mini --api-key-env OPENAI_API_KEY --agents 20 --turns 2

Watch it live with ``agentrt top`` (the runtime's introspection endpoint, loopback
only unless a token is given; ``--hold`` keeps the runtime up after the run until
Ctrl-C)::

    agentrt demo --endpoint-port 8787 --turns 50 --hold    # terminal 1
    agentrt top --url http://127.0.0.1:8787                # terminal 2

Configuration, highest first: flags (``--llm-url``, ``--endpoint-*``, ``--set KEY=VALUE``),
``AGENTRT_*`` environment variables, ``--config agentrt.toml``, the demo's own settings
(the mock LLM, no passivation), the runtime's defaults. Each layer overrides only the
keys it sets; ``agentrt config show`` prints the result with each value's source.

Exit codes: 0 every turn answered or failed only by an injected crash; 1 a turn was
lost, none was answered, or turns failed for another reason (the first error of each
kind is printed); 2 bad input; 130 interrupted (Ctrl-C: one line, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape

from agentrt._configfile import merge
from agentrt._configlayers import Layered, load_layers
from agentrt._demo import (
    DemoResult,
    demo_table,
    error_lines,
    provider_table,
    result_table,
    run_demo,
)
from agentrt.actor import run
from agentrt.bounds import PORT
from agentrt.cli import command_help
from agentrt.cli._args import add_set_argument, bounded, number_arg, set_table
from agentrt.cli._logs import one_line_logging
from agentrt.errors import ConfigError
from agentrt.runtime import EndpointConfig, RuntimeConfig

__all__ = ["register"]


DEFAULT_LATENCY_MS = 50.0
_positive_int = bounded(int, low=1, high=10_000_000)
_count = bounded(int, low=0, high=10_000_000)
_ms = bounded(float, low=0, high=3_600_000, unit=" ms")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=command_help("demo"),
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("--agents", type=_positive_int, default=1000, help="agents (1000)")
    parser.add_argument("--turns", type=_positive_int, default=5, help="turns per agent (5)")
    parser.add_argument("--llm-url", help="OpenAI-compatible base URL (default: in-process mock)")
    parser.add_argument("--model", help="model name sent to the LLM (mock)")
    parser.add_argument("--api-key-env", help="environment variable holding the API key")
    parser.add_argument("--llm-latency-ms", type=_ms, help="mock LLM latency (50)")
    parser.add_argument("--crashes", type=_count, default=5, help="agents to kill mid-run (5)")
    parser.add_argument(
        "--think-ms", type=_ms, default=200.0, help="max think time between turns (200)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    parser.add_argument("--config", help="agentrt.toml laid over the demo's configuration")
    add_set_argument(parser)
    parser.add_argument("--no-live", action="store_true", help="no live progress display")
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's default loop")
    parser.add_argument("--debug", action="store_true", help="log records with tracebacks")
    parser.add_argument(
        "--endpoint-port",
        type=number_arg(PORT, int),
        help="serve the introspection endpoint for `agentrt top` on this port (0: free)",
    )
    parser.add_argument("--endpoint-host", default="127.0.0.1", help="endpoint address (127.0.0.1)")
    parser.add_argument(
        "--endpoint-token-env",
        help="environment variable holding the endpoint's bearer token (required off loopback)",
    )
    parser.add_argument(
        "--hold", action="store_true", help="keep the runtime up after the run until Ctrl-C"
    )
    parser.set_defaults(func=main)


def _endpoint(args: argparse.Namespace) -> EndpointConfig | None:
    if args.endpoint_port is None:
        if args.endpoint_token_env or args.endpoint_host != "127.0.0.1":
            raise ConfigError("endpoint_port", "--endpoint-host/--endpoint-token-env need it")
        return None
    return EndpointConfig(
        host=args.endpoint_host, port=args.endpoint_port, token_env=args.endpoint_token_env
    )


def _holder(console: Console) -> Callable[[DemoResult], Awaitable[None]]:
    """Print the result, then wait for SIGINT/SIGTERM with the runtime still up."""

    async def hold(result: DemoResult) -> None:
        console.print(result_table(result))
        console.print("holding the runtime open for agentrt top; Ctrl-C to stop")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    return hold


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The flag layer: only what was given on the command line."""
    flags = set_table(args.set)
    if args.llm_url is not None or args.llm_latency_ms is not None:
        provider = provider_table(
            args.llm_url, _latency(args), args.model or "mock", args.api_key_env
        )
        flags = merge(flags, {"llm": {"providers": [provider]}})
    endpoint = _endpoint(args)
    if endpoint is not None:
        table = {"host": endpoint.host, "port": endpoint.port, "token_env": endpoint.token_env}
        flags = merge(flags, {"telemetry": {"endpoint": table}})
    return flags


def _latency(args: argparse.Namespace) -> float:
    return DEFAULT_LATENCY_MS if args.llm_latency_ms is None else float(args.llm_latency_ms)


def load_demo_config(args: argparse.Namespace, env: Mapping[str, str]) -> Layered[RuntimeConfig]:
    """The demo's configuration: its own settings, then ``--config``, then ``AGENTRT_*``
    variables, then flags; each layer overrides only the keys it sets."""
    provider = provider_table(None, _latency(args), "mock", None)
    return load_layers(
        RuntimeConfig,
        defaults=demo_table(args.agents, provider),
        path=args.config,
        env=env,
        flags=_flags(args),
    )


def main(args: argparse.Namespace) -> int:
    with one_line_logging(tracebacks=args.debug):
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        config = load_demo_config(args, os.environ).config
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    try:
        result = _run(args, config, console)
    except ConfigError as exc:  # raised at start: an unset token variable, a busy port
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    if result is None:
        console.print("interrupted", highlight=False)
        return 130
    if not args.hold:
        console.print(result_table(result))
    for line in error_lines(result):
        console.print(f"[red]failed:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    return 0 if result.ok else 1


async def _interruptible(work: Coroutine[Any, Any, DemoResult]) -> DemoResult | None:
    """Run ``work``; SIGINT/SIGTERM cancel it (its runtime shuts down) and give None."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        if task.cancelled():
            return None
        raise
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def _run(args: argparse.Namespace, config: RuntimeConfig, console: Console) -> DemoResult | None:
    return run(
        _interruptible(
            run_demo(
                agents=args.agents,
                turns=args.turns,
                model=args.model or "mock",
                crashes=args.crashes,
                think_ms=args.think_ms,
                seed=args.seed,
                live=not args.no_live,
                config=config,
                console=console,
                after=_holder(console) if args.hold else None,
            )
        ),
        use_uvloop=False if args.no_uvloop else None,
    )
