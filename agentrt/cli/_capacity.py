"""``agentrt capacity``: find one node's knee, plan a fleet from it, check the model.

Three forms::

    agentrt capacity SCENARIO [--axis agents|turns|both] [--start N] [--max N] ...
    agentrt capacity plan --agents 50000 --turns-per-s 800 --llm-p50 1.2s [--from RUN.json]
    agentrt capacity check RUN.json [--agents N | --nodes N [--cores C]]

The search runs each step as its own ``agentrt loadtest run`` process, until the step's
throughput and p95 are stable (``--tolerance``, between ``--min-step`` and ``--max-step``
seconds), ramping by ``--factor`` until the first step whose thresholds fail (the
scenario's, plus ``response_p95 < --p95``), then bisecting to ``--precision``. It prints
the steps and the model (knee, limiting resource, per-unit costs) and writes
``capacity-<scenario>-<time>.json`` and ``.html`` (latency-vs-load curve with the knee,
the fits) into ``--out``, with each step's own reports under ``steps/``.
``--validate`` then runs a load the search did not run (between its two neighbouring
loads, ``--rounds`` interleaved rounds) and reports the model's prediction error there
(``check`` does the same later, from a saved result; ``check --nodes N`` predicts N nodes
from a one-node search of a ``[cluster]`` scenario and runs them: see
:mod:`agentrt.cli._capacity_check`). ``--axis both`` runs a turns/s search (from
``--rate-start`` to ``--rate-max``) at each agents level from ``--start`` by ``--factor``
to ``--max``. See ``docs/capacity.md`` and :mod:`agentrt.loadtest._capacity` for the
model.

Exit codes: 0 done; 2 bad input (flags, scenario, saved result); 1 a step could not be
run; 99 (search) even the first step failed its thresholds: no knee.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agentrt.cli import command_help
from agentrt.cli._args import bounded
from agentrt.cli._capacity_check import available_cores, check_nodes, pick_check_load, validate
from agentrt.cli._capacity_plan import (
    clean,
    duration_arg,
    plan_form,
    plan_parser,
    read_result,
    size_arg,
)
from agentrt.cli._loadtest import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_THRESHOLDS,
    percent_arg,
    read_overlay,
    read_scenario,
)
from agentrt.errors import ConfigError
from agentrt.loadtest._capacity import (
    CAPACITY_SCHEMA,
    Axis,
    Step,
    fit_model,
    search,
    search_both,
    step_from_report,
)
from agentrt.loadtest._capacity_html import render_capacity_html
from agentrt.loadtest._report import prepare_out
from agentrt.loadtest._rounds import RoundFailed, run_round
from agentrt.loadtest._scenario import Scenario
from agentrt.loadtest._units import format_value

__all__ = ["register"]

_FORMS = ("plan", "check")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "capacity",
        help=command_help("capacity"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    # `agentrt capacity SCENARIO ...` and `agentrt capacity plan|check ...`: the words are
    # parsed by the form's own parser (search_parser, plan_parser, check_parser)
    parser.add_argument("-h", "--help", action="store_true", dest="show_help")
    parser.add_argument("words", nargs=argparse.REMAINDER)
    parser.set_defaults(func=_dispatch)


def search_parser() -> argparse.ArgumentParser:
    """The parser of ``agentrt capacity SCENARIO``."""
    p = argparse.ArgumentParser(
        prog="agentrt capacity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", help="a .toml file or a shipped scenario's name")
    p.add_argument(
        "--axis",
        choices=("agents", "turns", "both"),
        default="agents",
        help="agents: more live agents (turns/s rises with them); turns: the scenario's "
        "agents, shorter think time; both: a turns/s search at each agents level from "
        "--start by --factor to --max (default agents)",
    )
    p.add_argument(
        "--rate-start",
        type=bounded(float, low=0.1, high=10_000_000),
        default=10.0,
        help="--axis both: first offered turns/s of each level (10)",
    )
    p.add_argument(
        "--rate-max",
        type=bounded(float, low=0.1, high=10_000_000),
        default=10_000.0,
        help="--axis both: highest offered turns/s (10000)",
    )
    p.add_argument("--start", type=bounded(float, low=1, high=10_000_000), help="first load")
    p.add_argument("--max", type=bounded(float, low=1, high=10_000_000), help="highest load")
    p.add_argument("--factor", type=bounded(float, low=1.1, high=100), default=2.0)
    p.add_argument(
        "--precision", type=percent_arg, default=10.0, help="bisect to this bracket (10%%)"
    )
    p.add_argument("--max-steps", type=bounded(int, low=1, high=100), default=10)
    p.add_argument(
        "--tolerance",
        type=percent_arg,
        default=10.0,
        help="a step is stable when the 95%% CIs of turns/s and p95 are within this (10%%)",
    )
    p.add_argument("--min-step", type=duration_arg("--min-step"), default=5.0)
    p.add_argument("--max-step", type=duration_arg("--max-step"), default=30.0)
    p.add_argument("--p95", type=duration_arg("--p95"), default=2.0, help="response p95 limit (2s)")
    p.add_argument(
        "--memory",
        type=size_arg,
        help="the node's memory budget (default: this machine's total memory)",
    )
    p.add_argument("--with", dest="overlay", metavar="FILE", help="TOML merged into the scenario")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--validate", action="store_true", help="check the model at a new load")
    p.add_argument(
        "--rounds",
        type=bounded(int, low=1, high=20),
        default=1,
        help="--validate: rounds of (neighbour, new load, neighbour) interleaved (1)",
    )
    p.add_argument("--out", default="capacity-results", help="folder (capacity-results)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def check_parser() -> argparse.ArgumentParser:
    """The parser of ``agentrt capacity check``."""
    p = argparse.ArgumentParser(
        prog="agentrt capacity check",
        description="Run one step at a load the saved search did not run and report the "
        "model's prediction error there.",
    )
    p.add_argument("result", help="a capacity result .json")
    p.add_argument(
        "--agents",
        type=bounded(int, low=1, high=10_000_000),
        help="the load to check (default: between the two highest passing steps)",
    )
    p.add_argument(
        "--rounds",
        type=bounded(int, low=1, high=20),
        default=1,
        help="rounds of (neighbour, the load, neighbour), interleaved (1)",
    )
    p.add_argument(
        "--nodes",
        type=bounded(int, low=2, high=64),
        help="predict N nodes from a one-node search of a [cluster] scenario and run them "
        "at N x the knee's agents",
    )
    p.add_argument(
        "--cores",
        type=bounded(float, low=1, high=4096),
        help="with --nodes: the CPUs the N-node run may use (default: this process's)",
    )
    p.add_argument("--json", action="store_true")
    return p


def _dispatch(args: argparse.Namespace) -> int:
    words: list[str] = list(args.words)
    if args.show_help:
        words = ["--help"]
    if words and words[0] == "plan":
        return plan_form(plan_parser().parse_args(words[1:]))
    if words and words[0] == "check":
        return _check(check_parser().parse_args(words[1:]))
    return _search(search_parser().parse_args(words))


# -- the search ---------------------------------------------------------------------------


def _toml(value: Any) -> str:
    """A TOML value for ``value`` (strings, numbers, bools, lists, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _thresholds(scenario: Scenario, p95: float) -> list[Any]:
    """The scenario's thresholds as written, plus ``response_p95 < P95``."""
    out: list[Any] = []
    for item in scenario.thresholds:
        if isinstance(item, str):
            out.append(item)
        else:
            out.append(
                {
                    "expr": item.expr,
                    "abort_on_fail": item.abort_on_fail,
                    "delay_abort_eval": float(item.delay_abort_eval),
                }
            )
    limit = f"response_p95 < {p95:g}s"
    if limit not in out:
        out.append(limit)
    return out


def _memory_total() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 1024.0**3


def _llm_latency(scenario: Scenario) -> float:
    return float(scenario.llm.mock.latency) if scenario.llm.kind == "mock" else 1.0


class _Stepper:
    """Runs steps as ``agentrt loadtest run`` processes (see the module docs)."""

    def __init__(self, args: argparse.Namespace, scenario: Scenario, out: Path) -> None:
        self.args, self.scenario, self.out = args, scenario, out
        self.count = 0
        self.common = [
            "--until-stable",
            f"{args.tolerance:g}",
            "--min-time",
            f"{args.min_step:g}",
            "--duration",
            f"{args.max_step:g}s",
            "--passivate-at-end",
            "--set",
            "thresholds=" + _toml(_thresholds(scenario, args.p95)),
        ]
        if args.overlay:
            self.common += ["--with", args.overlay]
        for item in args.set:
            self.common += ["--set", item]

    def load_flags(self, load: float, agents: int | None = None) -> list[str]:
        """The flags of a step at ``load``: agents, or offered turns/s (``agents`` live
        agents on the both axis, else the scenario's)."""
        if self.args.axis == "agents":
            return ["--agents", str(int(load))]
        think = (agents or self.scenario.agents.count) / load
        extra = ["--agents", str(agents)] if agents is not None else []
        return [
            *extra,
            "--set",
            f"think_time.mean={think!r}",
            "--set",
            f"think_time.max={max(think * 10, float(self.scenario.think_time.max))!r}",
        ]

    def __call__(self, load: float, agents: int | None = None) -> Step:
        self.count += 1
        name = f"{self.count:02d}-{load:g}" + (f"-{agents}a" if agents is not None else "")
        timeout = float(self.args.max_step) + float(self.scenario.turn_timeout) + 120
        flags = [*self.load_flags(load, agents), *self.common]
        report = run_round(self.args.scenario, self.out / "steps" / name, flags, timeout=timeout)
        return step_from_report(load, report)

    def both(self, agents: float, rate: float) -> Step:
        """A step of the both axis: ``agents`` live agents offered ``rate`` turns/s."""
        return self(round(rate, 3), int(agents))


def _step_row(step: Step) -> list[str]:
    return [
        f"{step.load:g}" + (f" @{step.level:g}" if step.level is not None else ""),
        format_value(step.get("agents"), "count"),
        format_value(step.get("turns_per_s"), "1/s"),
        format_value(step.get("response_p95"), "s"),
        format_value(step.get("cpu_cores"), None),
        format_value(step.get("rss_above_base"), "B"),
        "yes" if step.stable else "no",
        "[green]pass[/green]" if step.passed else "[red]fail[/red]",
    ]


_STEP_HEAD = ("load", "agents", "turns/s", "p95", "CPU cores", "RSS+", "stable", "thresholds")


def _steps_table(steps: Sequence[Step]) -> Table:
    table = Table(title="Steps", title_justify="left")
    for name in _STEP_HEAD:
        table.add_column(name, justify="right")
    for step in steps:
        table.add_row(*_step_row(step))
    return table


def model_table(model: dict[str, Any]) -> Table:
    """The model as a two-column rich table."""
    knee = model.get("knee") or {}
    fail = model.get("first_failure") or {}
    t = Table(title="Capacity model", title_justify="left", show_header=False)
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_row("knee: max sustainable turns/s", format_value(knee.get("turns_per_s"), "1/s"))
    t.add_row("knee: live agents", format_value(knee.get("agents"), "count"))
    t.add_row("knee: response p95", format_value(knee.get("response_p95"), "s"))
    t.add_row(
        "first failing step",
        f"{format_value(fail.get('turns_per_s'), '1/s')} turns, "
        f"{format_value(fail.get('agents'), 'count')} agents"
        if fail
        else "none (raise --max)",
    )
    t.add_row("failed thresholds", ", ".join(model.get("first_failure_thresholds") or []) or "-")
    for row in model.get("frontier") or ():  # the both axis: a knee per agents level
        t.add_row(
            f"knee at {format_value(row['agents'], 'count')} agents",
            f"{format_value(row['knee_turns_per_s'], '1/s')} (offered "
            f"{format_value(row['knee_load'], '1/s')}; failed at "
            f"{format_value(row['failure_load'], '1/s')})",
        )
    use = ", ".join(f"{k} {v:.0%}" for k, v in (model.get("resource_use") or {}).items())
    t.add_row("limiting resource", f"{model.get('limiting_resource')} ({use})")
    cpu = (model.get("fits") or {}).get("cpu_cores_vs_turns_per_s") or {}
    t.add_row(
        "CPU per turn",
        f"{format_value(model.get('cpu_per_turn_s'), 's')}"
        + (f" ± {format_value(1.96 * cpu['slope_se'], 's')}" if cpu.get("slope_se") else ""),
    )
    mem = (model.get("fits") or {}).get("rss_vs_agents") or {}
    t.add_row(
        "bytes per live agent",
        format_value(model.get("bytes_per_live_agent"), "B")
        + (f" ± {format_value(1.96 * mem['slope_se'], 'B')}" if mem.get("slope_se") else ""),
    )
    t.add_row(
        "bytes per passivated agent", format_value(model.get("bytes_per_passivated_agent"), "B")
    )
    calls = model.get("llm_calls_per_turn")
    t.add_row(
        "LLM concurrency (Little's law)",
        f"turns/s * {format_value(calls, None)} calls * LLM latency" if calls else "-",
    )
    return t


def _write(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stem = f"capacity-{result['scenario']['name']}-{stamp}"
    json_path, html_path = out / f"{stem}.json", out / f"{stem}.html"
    json_path.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    html_path.write_text(render_capacity_html(result), encoding="utf-8")
    return json_path, html_path


def _search_settings(args: argparse.Namespace, scenario: Scenario) -> tuple[float, float]:
    if args.axis == "both":
        start = args.start or max(10.0, scenario.agents.count / 4)
        top = args.max or start * args.factor**2
        if args.rate_max < args.rate_start:
            raise ConfigError(
                "--rate-max", f"{args.rate_max:g} is below --rate-start {args.rate_start:g}"
            )
    elif args.axis == "agents":
        start = args.start or max(10.0, scenario.agents.count / 4)
        top = args.max or 100_000.0
    else:
        start = args.start or 10.0
        top = args.max or 10_000.0
    if top < start:
        raise ConfigError("--max", f"{top:g} is below --start {start:g}")
    if args.min_step > args.max_step:
        raise ConfigError(
            "--min-step", f"{args.min_step:g} s is above --max-step {args.max_step:g} s"
        )
    return start, top


def _levels(start: float, top: float, factor: float) -> list[float]:
    """The agents levels of the both axis: ``start``, ``start * factor``, ... up to
    ``top`` (included), whole numbers."""
    out: list[float] = []
    level = start
    while level < top * (1 + 1e-9):
        if not out or round(level) > out[-1]:
            out.append(float(round(level)))
        level *= factor
    if out[-1] < round(top):
        out.append(float(round(top)))
    return out


def _search(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    try:
        out = prepare_out(args.out)
        scenario = read_scenario(args.scenario, None, read_overlay(args.overlay, args.set))
        start, top = _search_settings(args, scenario)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    stepper = _Stepper(args, scenario, Path(tempfile.mkdtemp(prefix="capacity-", dir=out)))
    console.print(
        f"capacity of {scenario.name}: {args.axis} from {start:g} to at most {top:g} "
        f"(x{args.factor:g}, then bisection to {args.precision:g}%); each step "
        f"{args.min_step:g}-{args.max_step:g} s until stable within {args.tolerance:g}%",
        highlight=False,
    )

    def show(step: Step) -> None:
        console.print("  step " + "  ".join(_step_row(step)), highlight=False)

    axis: Axis = args.axis
    try:
        if axis == "both":
            steps = search_both(
                stepper.both,
                levels=_levels(start, top, args.factor),
                start=args.rate_start,
                factor=args.factor,
                max_load=args.rate_max,
                precision=args.precision / 100,
                max_steps=args.max_steps,
                on_step=show,
            )
        else:
            steps = search(
                stepper,
                start=start,
                factor=args.factor,
                max_load=top,
                precision=args.precision / 100,
                max_steps=args.max_steps,
                whole=True,
                on_step=show,
            )
    except RoundFailed as exc:
        console.print(f"[red]a step could not be run:[/red] {exc}", highlight=False)
        return EXIT_ERROR
    model = fit_model(
        steps,
        axis=axis,
        llm_latency_s=_llm_latency(scenario),
        max_concurrency=scenario.llm.max_concurrency,
        memory_budget=args.memory or _memory_total(),
        uses_redis=scenario.runtime.uses_redis,
    )
    result: dict[str, Any] = {
        "schema": CAPACITY_SCHEMA,
        "scenario": {"name": scenario.name, "source": args.scenario},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "p95_limit_s": args.p95,
        "settings": {
            k: getattr(args, k)
            for k in (
                "axis",
                "rate_start",
                "rate_max",
                "factor",
                "precision",
                "max_steps",
                "tolerance",
                "min_step",
                "max_step",
                "p95",
                "overlay",
                "set",
            )
        },
        "steps": [
            {
                "load": s.load,
                "level": s.level,
                "passed": s.passed,
                "stable": s.stable,
                "failed": list(s.failed),
                "figures": dict(s.figures),
            }
            for s in steps
        ],
        "model": model,
        "validation": None,
    }
    console.print(_steps_table(steps))
    console.print(model_table(model))
    if args.validate:
        agents = pick_check_load(result["steps"]) if axis == "agents" else None
        if agents is None:
            console.print("[yellow]validate:[/yellow] needs two passing steps on the agents axis")
        else:
            try:
                result["validation"] = validate(
                    stepper, model, result["steps"], agents, rounds=args.rounds, console=console
                )
            except RoundFailed as exc:
                console.print(f"[red]the check step could not be run:[/red] {exc}")
                return EXIT_ERROR
    json_path, html_path = _write(clean(result), out)
    console.print(f"reports: {json_path}  {html_path}", highlight=False)
    if args.json:
        sys.stdout.write(json.dumps(clean(result), indent=1) + "\n")
    return 0 if model.get("knee") else EXIT_THRESHOLDS


def _check(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    try:
        result, _ = read_result(args.result)
        settings = result.get("settings") or {}
        if settings.get("axis") != "agents":
            raise ConfigError(args.result, "check needs a search on the agents axis")
        agents = args.agents or pick_check_load(result.get("steps") or [])
        if agents is None and args.nodes is None:
            raise ConfigError("--agents", "the saved search has fewer than two passing steps")
        ns = search_parser().parse_args([str(result["scenario"]["source"])])
        for key, value in settings.items():
            setattr(ns, key, value)
        scenario = read_scenario(ns.scenario, None, read_overlay(ns.overlay, ns.set))
        if args.nodes is not None:
            if scenario.cluster is None:
                raise ConfigError(
                    "--nodes",
                    "the saved search's scenario has no cluster table: not a cluster scenario",
                )
            ns.set = [*(ns.set or []), f"cluster.nodes={args.nodes}"]
            scenario = read_scenario(ns.scenario, None, read_overlay(ns.overlay, ns.set))
        out = prepare_out(Path(args.result).parent)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    stepper = _Stepper(ns, scenario, Path(tempfile.mkdtemp(prefix="check-", dir=out)))
    try:
        if args.nodes is not None:
            validation = check_nodes(
                stepper,
                result["model"],
                result.get("steps") or [],
                nodes=args.nodes,
                cores=args.cores or available_cores(),
                console=console,
            )
        else:
            assert agents is not None
            validation = validate(
                stepper,
                result["model"],
                result.get("steps") or [],
                agents,
                rounds=args.rounds,
                console=console,
            )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {args.result}: {exc}", highlight=False)
        return EXIT_BAD_INPUT
    except RoundFailed as exc:
        console.print(f"[red]the check step could not be run:[/red] {exc}", highlight=False)
        return EXIT_ERROR
    if args.json:
        sys.stdout.write(json.dumps(clean(validation), indent=1) + "\n")
    return 0
