"""``agentrt capacity plan``: nodes, memory per node and LLM concurrency for a target
load, from the fitted model of a saved capacity run (:func:`agentrt.loadtest._capacity.plan`);
and the helpers the capacity forms share (durations and sizes as flags, a saved result
read and checked, strict JSON)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agentrt.cli._args import bounded
from agentrt.cli._loadtest import EXIT_BAD_INPUT
from agentrt.errors import ConfigError
from agentrt.loadtest._capacity import load_capacity, plan
from agentrt.loadtest._compare import read_json
from agentrt.loadtest._quantity import parse_duration, parse_quantity
from agentrt.loadtest._units import format_value

__all__ = ["clean", "duration_arg", "plan_form", "plan_parser", "read_result", "size_arg"]


def duration_arg(flag: str) -> Any:
    def convert(text: str) -> float:
        try:
            return parse_duration(text, key=flag, allow_zero=False)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None

    return convert


def size_arg(text: str) -> float:
    try:
        value = parse_quantity(text, "B", key="--memory")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return value


def plan_parser() -> argparse.ArgumentParser:
    """The parser of ``agentrt capacity plan``."""
    p = argparse.ArgumentParser(
        prog="agentrt capacity plan",
        description="Nodes, memory per node and LLM concurrency for a target load, from "
        "the fitted model of a saved capacity run.",
    )
    p.add_argument("--agents", type=bounded(int, low=1, high=10**9), required=True)
    p.add_argument(
        "--turns-per-s", type=bounded(float, low=0, open_low=True, high=1e9), required=True
    )
    p.add_argument("--llm-p50", type=duration_arg("--llm-p50"), required=True, metavar="DURATION")
    p.add_argument(
        "--live-fraction",
        type=bounded(float, low=0, high=1),
        default=1.0,
        help="share of the agents live (the rest passivated; default 1)",
    )
    p.add_argument("--node-memory", type=size_arg, help="each node's memory (default: the run's)")
    p.add_argument(
        "--from",
        dest="source",
        help="a capacity result .json (default: the newest in capacity-results/)",
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    return p


def clean(value: Any) -> Any:
    """``value`` with non-finite floats as None (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


# -- plan and check -------------------------------------------------------------------------


def read_result(source: str | None) -> tuple[dict[str, Any], str]:
    if source is None:
        found = sorted(Path("capacity-results").glob("capacity-*.json"))
        if not found:
            raise ConfigError(
                "--from", "no capacity-results/capacity-*.json: give --from or run a search"
            )
        source = str(found[-1])
    return load_capacity(read_json(Path(source)), source), source


def plan_form(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    try:
        result, source = read_result(args.source)
        answer = plan(
            result["model"],
            agents=args.agents,
            turns_per_s=args.turns_per_s,
            llm_p50_s=args.llm_p50,
            live_fraction=args.live_fraction,
            node_memory=args.node_memory,
        )
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    answer["from"] = source
    if args.json:
        sys.stdout.write(json.dumps(clean(answer), indent=1) + "\n")
        return 0
    nodes, mem, llm = answer["nodes"], answer["memory_per_node"], answer["llm_concurrency"]
    t = Table(
        title=f"Plan: {args.agents:,} agents, {args.turns_per_s:g} turns/s, "
        f"LLM p50 {format_value(args.llm_p50, 's')} (from {source})",
        title_justify="left",
    )
    for col in ("figure", "value", "low", "high"):
        t.add_column(col, justify="right")
    t.add_row(
        f"nodes (limited by {answer['nodes_limited_by']})",
        str(nodes["value"]),
        str(nodes["low"]),
        str(nodes["high"]),
    )
    t.add_row(
        "memory per node",
        format_value(mem["value"], "B"),
        format_value(mem["low"], "B"),
        format_value(mem["high"], "B"),
    )
    t.add_row(
        "LLM concurrency (all nodes)",
        f"{llm['value']:,.0f}",
        f"{llm['low']:,.0f}",
        f"{llm['high']:,.0f}",
    )
    t.add_row("LLM concurrency per node", f"{llm['per_node']:,.0f}", "", "")
    cap = answer["node_capacity_turns_per_s"]
    t.add_row(
        f"node capacity ({cap['limited_by']})",
        format_value(cap["value"], "1/s"),
        format_value(cap["low"], "1/s"),
        format_value(cap["high"], "1/s"),
    )
    t.add_row("turns/s per node (planned)", format_value(answer["turns_per_s_per_node"], "1/s"))
    console.print(t)
    for note in answer["notes"]:
        console.print(f"note: {note}", highlight=False)
    return 0
