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

Configuration: ``--config agentrt.toml`` (and ``AGENTRT_*`` environment variables)
replaces the demo's own runtime configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console

from agentrt.actor import run
from agentrt.cli import command_help
from agentrt.cli.args import bounded
from agentrt.demo import DemoResult, result_table, run_demo
from agentrt.errors import ConfigError
from agentrt.runtime import EndpointConfig, RuntimeConfig

__all__ = ["register"]


_positive_int = bounded(int, low=1)
_non_negative = bounded(float, low=0)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=command_help("demo"),
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("--agents", type=_positive_int, default=1000, help="agents (1000)")
    parser.add_argument("--turns", type=_positive_int, default=5, help="turns per agent (5)")
    parser.add_argument("--llm-url", help="OpenAI-compatible base URL (default: in-process mock)")
    parser.add_argument("--model", default="mock", help="model name sent to the LLM (mock)")
    parser.add_argument("--api-key-env", help="environment variable holding the API key")
    parser.add_argument(
        "--llm-latency-ms", type=_non_negative, default=50.0, help="mock LLM latency (50)"
    )
    parser.add_argument("--crashes", type=int, default=5, help="agents to kill mid-run (5)")
    parser.add_argument(
        "--think-ms", type=_non_negative, default=200.0, help="max think time between turns"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    parser.add_argument("--config", help="agentrt.toml replacing the demo's configuration")
    parser.add_argument("--no-live", action="store_true", help="no live progress display")
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's default loop")
    parser.add_argument(
        "--endpoint-port",
        type=int,
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


def main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        config = (
            RuntimeConfig.load(args.config, env=os.environ)
            if args.config or any(k.startswith("AGENTRT_") for k in os.environ)
            else None
        )
        endpoint = _endpoint(args)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    try:
        result = _run(args, config, endpoint, console)
    except ConfigError as exc:  # raised at start: an unset token variable, a busy port
        console.print(f"[red]error:[/red] {exc}")
        return 2
    if not args.hold:
        console.print(result_table(result))
    return 0 if result.lost == 0 else 1


def _run(
    args: argparse.Namespace,
    config: RuntimeConfig | None,
    endpoint: EndpointConfig | None,
    console: Console,
) -> DemoResult:
    return run(
        run_demo(
            agents=args.agents,
            turns=args.turns,
            llm_url=args.llm_url,
            llm_latency_ms=args.llm_latency_ms,
            model=args.model,
            api_key_env=args.api_key_env,
            crashes=max(0, args.crashes),
            think_ms=args.think_ms,
            seed=args.seed,
            live=not args.no_live,
            config=config,
            console=console,
            endpoint=endpoint,
            after=_holder(console) if args.hold else None,
        ),
        use_uvloop=False if args.no_uvloop else None,
    )
