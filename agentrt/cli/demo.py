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

Configuration: ``--config agentrt.toml`` (and ``AGENTRT_*`` environment variables)
replaces the demo's own runtime configuration.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.console import Console

from agentrt.actor import run
from agentrt.errors import ConfigError

__all__ = ["register"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a supervised agent swarm on the mock LLM (or any OpenAI-compatible URL)",
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
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from agentrt.demo import result_table, run_demo
    from agentrt.runtime import RuntimeConfig

    console = Console()
    try:
        config = (
            RuntimeConfig.load(args.config, env=os.environ)
            if args.config or any(k.startswith("AGENTRT_") for k in os.environ)
            else None
        )
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    result = run(
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
        ),
        use_uvloop=False if args.no_uvloop else None,
    )
    console.print(result_table(result))
    return 0 if result.lost == 0 else 1
