"""``agentrt loadtest``: run load scenarios, check them, compare their reports.

Subcommands::

    agentrt loadtest run smoke                      # a shipped scenario, by name
    agentrt loadtest run my.toml --out results/     # a file; reports go to results/
    agentrt loadtest run swarm_1k --agents 200 --duration 20s
    agentrt loadtest validate smoke my.toml         # shipped names or files
    agentrt loadtest compare before.json after.json --fail-on 10
    agentrt loadtest list

Exit codes: 0 every threshold passed; 99 a threshold failed (or aborted the run, as k6
does), or ``compare --fail-on PCT`` found a regression; 2 bad input (a scenario file, a
flag, a report); 1 the run could not be carried out (redis-server missing, mock LLM did
not start...); 130 interrupted (the report of what ran is still written).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from agentrt._configfile import load_toml, merge
from agentrt.actor import run as run_loop
from agentrt.cli import command_help
from agentrt.cli._args import bounded, field_arg
from agentrt.errors import AgentRTError, ConfigError
from agentrt.loadtest._compare import (
    GATES,
    compare_rows,
    compare_table,
    differences,
    load_report,
    regressions,
)
from agentrt.loadtest._engine import LoadRun, RunOutcome, agent_class_of
from agentrt.loadtest._environment import base_runtime_config
from agentrt.loadtest._live import figures_table, final_table, live_panel
from agentrt.loadtest._overrides import Overrides, apply_overrides
from agentrt.loadtest._quantity import parse_duration
from agentrt.loadtest._report import prepare_out, write_reports
from agentrt.loadtest._resources import check_fits, estimate
from agentrt.loadtest._scenario import Scenario, parse_scenario
from agentrt.loadtest._sections import AgentsSpec
from agentrt.loadtest._shipped import shipped_scenario, shipped_scenarios
from agentrt.loadtest._units import format_change

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["EXIT_BAD_INPUT", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_THRESHOLDS", "register"]

EXIT_THRESHOLDS = 99
EXIT_BAD_INPUT = 2
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def find_scenario(name: str) -> Path | Traversable:
    """The file for ``name``: a path (anything ending ``.toml`` or that exists), or a
    shipped scenario's name (``smoke``, see :mod:`agentrt.loadtest._shipped`)."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(name, "no such scenario file")
        return path
    return shipped_scenario(name)


def read_scenario(name: str, overrides: Overrides | Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario, with ``overrides`` laid over it: the command line's
    (each replaces what the scenario sets: see :mod:`agentrt.loadtest._overrides`), or a
    table merged key by key into the file's."""
    path = find_scenario(name)
    data, lines = load_toml(path)
    if isinstance(overrides, Overrides):
        data = apply_overrides(data, overrides)
    elif overrides:
        data = merge(data, overrides)
    scenario = parse_scenario(data, lines, str(path))
    agent_class_of(scenario)  # an import error is bad input too: report it before running
    check_fits(scenario)  # more agents or connections than the machine can hold
    base_runtime_config(scenario)  # [runtime].config: a bad file is bad input too
    return scenario


def _overrides(args: argparse.Namespace) -> Overrides:
    duration = None
    if args.duration is not None:
        duration = parse_duration(args.duration, key="--duration", allow_zero=False)
    return Overrides(agents=args.agents, duration=duration, turns=args.turns, seed=args.seed)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "loadtest",
        help=command_help("loadtest"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="loadtest_command", metavar="SUBCOMMAND", required=True)
    run = sub.add_parser("run", help="run a scenario (a .toml file or a shipped name)")
    run.add_argument("scenario")
    run.add_argument("--out", default="loadtest-results", help="report folder (loadtest-results)")
    _override_flags(run)
    run.add_argument("--no-live", action="store_true", help="no live progress display")
    run.set_defaults(func=_run)
    check = sub.add_parser(
        "validate", help="check scenarios (with overrides) and what they need, without running"
    )
    check.add_argument("scenarios", nargs="+")
    _override_flags(check)
    check.set_defaults(func=_validate)
    compare = sub.add_parser("compare", help="side-by-side table of two reports")
    compare.add_argument("a")
    compare.add_argument("b")
    compare.add_argument(
        "--fail-on",
        type=bounded(float, low=0, high=10_000),
        metavar="PCT",
        help=f"exit {EXIT_THRESHOLDS} when {', '.join(GATES)} got worse by more than PCT%%",
    )
    compare.set_defaults(func=_compare)
    listing = sub.add_parser("list", help="list the shipped scenarios")
    listing.set_defaults(func=_list)


def _override_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that replace what a scenario sets (see agentrt.loadtest._overrides)."""
    parser.add_argument("--agents", type=field_arg(AgentsSpec, "count"), help="agents.count")
    parser.add_argument("--duration", help="the run's length (e.g. 30s; scales stages)")
    parser.add_argument(
        "--turns", type=field_arg(AgentsSpec, "turns"), help="turns per agent (replaces length)"
    )
    parser.add_argument("--seed", type=int, help="the scenario's seed")


def _validate(args: argparse.Namespace) -> int:
    console = Console()
    code = 0
    for name in args.scenarios:
        try:
            scenario = read_scenario(name, _overrides(args))
        except ConfigError as exc:
            console.print(f"[red]✗[/red] {name}: {escape(str(exc))}", highlight=False)
            code = EXIT_BAD_INPUT
        else:
            rules = len(scenario.parsed_thresholds)
            need = estimate(scenario)
            console.print(
                f"[green]✓[/green] {name}: {scenario.name}, {scenario.agents.count:,} agents, "
                f"{rules} thresholds; needs ~{need.memory_bytes / 1024**2:,.0f} MiB, "
                f"{need.fds:,} fds, {need.ports:,} ports",
                highlight=False,
            )
    return code


def _compare(args: argparse.Namespace) -> int:
    console = Console()
    try:
        a, b = load_report(args.a), load_report(args.b)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    console.print(compare_table(a, b, names=_run_names(args.a, args.b)))
    for warning in differences(a, b):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    if args.fail_on is None:
        return 0
    worse = regressions(compare_rows(a, b), args.fail_on)
    for row in worse:
        console.print(
            f"[red]regression:[/red] {row.figure} {format_change(row.change)} "
            f"(more than {args.fail_on:g}% worse)",
            highlight=False,
        )
    return EXIT_THRESHOLDS if worse else 0


def _run_names(a: str, b: str) -> tuple[str, str]:
    """Column names: the files' stems, or their paths when the stems are equal."""
    names = (Path(a).stem, Path(b).stem)
    return names if names[0] != names[1] else (a, b)


def _list(args: argparse.Namespace) -> int:
    console = Console()
    shipped = shipped_scenarios()
    if not shipped:
        console.print(
            "[red]error:[/red] no shipped scenarios: the package's data files are missing"
        )
        return EXIT_ERROR
    for name in shipped:
        try:
            scenario = read_scenario(name)
            console.print(f"{name:12} {scenario.description}", highlight=False)
        except ConfigError as exc:
            console.print(f"{name:12} [red]invalid:[/red] {exc}", highlight=False)
    return 0


def _run(args: argparse.Namespace) -> int:
    console = Console()
    try:
        prepare_out(args.out)
        scenario = read_scenario(args.scenario, _overrides(args))
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    try:
        outcome, interrupted = run_loop(_execute(scenario, console, live=not args.no_live))
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    except AgentRTError as exc:
        console.print(f"[red]the run could not be carried out:[/red] {exc}", highlight=False)
        return EXIT_ERROR
    report = outcome.report
    json_path, html_path = write_reports(report, args.out)
    console.print(final_table(report))
    console.print(figures_table(report))
    console.print(f"reports: {json_path}  {html_path}", highlight=False)
    if interrupted:
        return EXIT_INTERRUPTED
    return 0 if outcome.passed else EXIT_THRESHOLDS


async def _execute(scenario: Scenario, console: Console, *, live: bool) -> tuple[RunOutcome, bool]:
    """Run with a live view on a terminal; SIGINT/SIGTERM end the run early."""
    interrupted = False
    view: Live | None = None

    def refresh(run: LoadRun) -> None:
        if view is not None:
            view.update(live_panel(run))

    load = LoadRun(scenario, on_sample=refresh)

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        load.stop("interrupted")

    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, interrupt)
    try:
        if live and console.is_terminal:
            with Live(console=console, refresh_per_second=2, transient=True) as view:
                outcome = await load.execute()
        else:
            console.print(f"running {scenario.name} ...", highlight=False)
            outcome = await load.execute()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    return outcome, interrupted
