"""``agentrt loadtest``: run load scenarios, check them, compare their reports.

Subcommands::

    agentrt loadtest run smoke                      # a shipped scenario, by name
    agentrt loadtest run my.toml --out results/     # a file; reports go to results/
    agentrt loadtest run swarm_1k --agents 200 --duration 20s
    agentrt loadtest validate smoke my.toml         # shipped names or files
    agentrt loadtest compare before.json after.json --fail-on 10%
    agentrt loadtest compare ab-smoke.json --fail-on 10%   # an A/B result's ratios
    agentrt loadtest ab smoke --a a.toml --b b.toml --rounds 6 --fail-on 10%
    agentrt loadtest list

Exit codes: 0 every threshold passed; 99 a threshold failed (or aborted the run, as k6
does), or ``compare --fail-on PCT`` found a regression; 2 bad input (a scenario file, a
flag, a report); 1 the run (or an A/B round) could not be carried out (redis-server
missing, mock LLM did not start...); 130 interrupted (the report of what ran is still written).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from agentrt._configfile import load_toml, merge
from agentrt.actor import SERVER_GC_THRESHOLDS
from agentrt.actor import run as run_loop
from agentrt.cli import command_help
from agentrt.cli._args import bounded, field_arg, set_table
from agentrt.errors import AgentRTError, ConfigError
from agentrt.loadtest._ab import (
    AB_SCHEMA,
    FigureRatio,
    Side,
    ab_result,
    ab_table,
    figures_of_report,
    judge,
    load_ab,
    round_order,
)
from agentrt.loadtest._cluster_run import run_cluster_scenario
from agentrt.loadtest._compare import (
    GATES,
    compare_rows,
    compare_table,
    differences,
    load_report,
    read_json,
    regressions,
)
from agentrt.loadtest._engine import LoadRun, RunOutcome, agent_class_of
from agentrt.loadtest._environment import SHARED_MOCK_ENV, base_runtime_config, mock_llm_flags
from agentrt.loadtest._live import figures_table, final_table, live_panel
from agentrt.loadtest._overrides import Overrides, apply_overrides
from agentrt.loadtest._quantity import parse_duration
from agentrt.loadtest._report import prepare_out, write_reports
from agentrt.loadtest._resources import check_fits, estimate
from agentrt.loadtest._rounds import RoundFailed, run_round
from agentrt.loadtest._scenario import Scenario, parse_scenario
from agentrt.loadtest._sections import AgentsSpec
from agentrt.loadtest._shipped import shipped_scenario, shipped_scenarios
from agentrt.loadtest._steady import SteadyWatch, passivation_probe
from agentrt.loadtest._units import format_change, format_value
from agentrt.testing._llm import MockLLMError, MockLLMProcess

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["EXIT_BAD_INPUT", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_THRESHOLDS", "register"]

EXIT_THRESHOLDS = 99
EXIT_BAD_INPUT = 2
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
_DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def find_scenario(name: str) -> Path | Traversable:
    """The file for ``name``: a path (anything ending ``.toml`` or that exists), or a
    shipped scenario's name (``smoke``, see :mod:`agentrt.loadtest._shipped`)."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(name, "no such scenario file")
        return path
    return shipped_scenario(name)


def read_scenario(
    name: str,
    overrides: Overrides | Mapping[str, Any] | None = None,
    overlay: Mapping[str, Any] | None = None,
) -> Scenario:
    """Load and validate a scenario, with ``overrides`` laid over it: the command line's
    (each replaces what the scenario sets: see :mod:`agentrt.loadtest._overrides`), or a
    table merged key by key into the file's; then ``overlay`` (``--with``/``--set``)
    merged key by key."""
    path = find_scenario(name)
    data, lines = load_toml(path)
    if isinstance(overrides, Overrides):
        data = apply_overrides(data, overrides)
    elif overrides:
        data = merge(data, overrides)
    if overlay:
        data = merge(data, overlay)
    scenario = parse_scenario(data, lines, str(path))
    agent_class_of(scenario)  # an import error is bad input too: report it before running
    check_fits(scenario)  # more agents or connections than the machine can hold
    base_runtime_config(scenario)  # [runtime].config: a bad file is bad input too
    return scenario


def percent_arg(text: str) -> float:
    """An argparse ``type`` for a percentage: ``10``, ``10%`` or ``2.5 %`` -> the number
    (0 to 10,000)."""
    raw = text.strip().removesuffix("%").strip()
    return float(bounded(float, low=0, high=10_000, unit="%")(raw))


def read_overlay(path: str | None, items: list[str]) -> dict[str, Any]:
    """The scenario overlay of ``--with FILE`` (a TOML table) and ``--set KEY=VALUE``
    items (laid over the file's); ConfigError names the file or the item."""
    out: dict[str, Any] = {}
    if path is not None:
        if not Path(path).is_file():
            raise ConfigError("--with", f"no such file: {path!r}")
        out, _ = load_toml(Path(path))
    if items:
        out = merge(out, set_table(items))
    return out


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
    _overlay_flags(run)
    run.add_argument(
        "--until-stable",
        type=percent_arg,
        metavar="PCT",
        help="end the run once the 95%% CIs of throughput and p95 are within PCT%% of "
        "their means (--duration is then the longest it runs)",
    )
    run.add_argument(
        "--min-time",
        type=bounded(float, low=0, high=86_400, unit=" s"),
        default=5.0,
        metavar="SECONDS",
        help="with --until-stable: the shortest run (5)",
    )
    run.add_argument(
        "--passivate-at-end",
        action="store_true",
        help="passivate every agent at the end and report the RSS per live and per "
        "passivated agent",
    )
    run.add_argument(
        "--cluster",
        metavar="NAME",
        help="load a running cluster NAME (cluster.nodes = 0: no node is started)",
    )
    run.add_argument(
        "--redis", metavar="URL", help="with --cluster: its Redis (redis://127.0.0.1:6379/0)"
    )
    run.set_defaults(func=_run)
    check = sub.add_parser(
        "validate", help="check scenarios (with overrides) and what they need, without running"
    )
    check.add_argument("scenarios", nargs="+")
    _override_flags(check)
    _overlay_flags(check)
    check.set_defaults(func=_validate)
    compare = sub.add_parser(
        "compare",
        help="side-by-side table of two reports, or the ratios of one A/B result",
        description="Compare two reports (two separate runs: machine noise counts in full), "
        "or judge one A/B result's interleaved ratios (`agentrt loadtest ab`): there "
        "--fail-on fails only when a gated figure's whole 95%% interval is worse by more "
        "than PCT%%.",
    )
    compare.add_argument("a", metavar="BASE", help="a report, or an A/B result")
    compare.add_argument("b", metavar="NEW", nargs="?", help="a report (not with an A/B result)")
    compare.add_argument(
        "--fail-on",
        type=percent_arg,
        metavar="PCT",
        help=f"exit {EXIT_THRESHOLDS} when {', '.join(GATES)} got worse by more than PCT%%",
    )
    compare.set_defaults(func=_compare)
    ab = sub.add_parser(
        "ab",
        help="A/B two configurations in interleaved rounds; ratios with bootstrap CIs",
        description="Alternate configuration A and B of a scenario in short rounds (A B, "
        "B A, ...), each in its own process, and report each figure's B/A ratio with a "
        "bootstrap 95%% interval. --a/--b are TOML tables merged into the scenario (as "
        "`loadtest run --with`); one left out means the scenario as it is.",
    )
    ab.add_argument("scenario")
    ab.add_argument("--a", metavar="FILE", help="configuration A (TOML overlay)")
    ab.add_argument("--b", metavar="FILE", help="configuration B (TOML overlay)")
    ab.add_argument("--rounds", type=bounded(int, low=1, high=1000), default=6)
    ab.add_argument("--round-time", default="8s", metavar="DURATION", help="each run's length (8s)")
    ab.add_argument("--agents", type=field_arg(AgentsSpec, "count"), help="agents.count")
    ab.add_argument(
        "--time-budget",
        metavar="DURATION",
        help="start no new round (A and B) that would end after this wall time, judged "
        "by the rounds so far; fewer rounds, wider intervals (default: no budget)",
    )
    ab.add_argument(
        "--fail-on",
        type=percent_arg,
        metavar="PCT",
        help=f"exit {EXIT_THRESHOLDS} when a gated figure ({', '.join(GATES)}) is worse by "
        "more than PCT%% over its whole interval",
    )
    ab.add_argument("--out", default="loadtest-results", help="result folder (loadtest-results)")
    ab.add_argument("--json", action="store_true", help="print the result as JSON")
    ab.set_defaults(func=_ab)
    listing = sub.add_parser("list", help="list the shipped scenarios")
    listing.set_defaults(func=_list)


def _overlay_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--with",
        dest="overlay",
        metavar="FILE",
        help="a TOML table merged into the scenario (e.g. [runtime] uvloop = false)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help='set a scenario key (dotted, value as TOML: runtime.gc="python"); repeatable',
    )


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
            scenario = read_scenario(name, _overrides(args), read_overlay(args.overlay, args.set))
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
    if args.b is None:
        return _compare_ab(args, console)
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


def _compare_ab(args: argparse.Namespace, console: Console) -> int:
    """``compare AB.json``: judge the A/B result's ratios again (another --fail-on)."""
    try:
        data = _read_ab(args.a)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    ratios = judge(data["values"]["a"], data["values"]["b"], fail_on=args.fail_on)
    console.print(ab_table(ratios, (data.get("a") or "A", data.get("b") or "B")))
    return _ab_verdict(ratios, args.fail_on, console)


def _read_ab(source: str) -> dict[str, Any]:
    data = read_json(Path(source))
    if isinstance(data, dict) and data.get("schema") != AB_SCHEMA and "figures" in data:
        raise ConfigError(source, "a single report: give NEW too (compare BASE NEW)")
    return load_ab(data, source)


def _ab_verdict(ratios: list[FigureRatio], fail_on: float | None, console: Console) -> int:
    worse = [r for r in ratios if r.regression]
    for r in worse:
        console.print(
            f"[red]regression:[/red] {r.figure} B/A {r.ratio:.3f} (95% CI {r.low:.3f}-"
            f"{r.high:.3f}) is worse by more than {fail_on:g}% over its whole interval",
            highlight=False,
        )
    return EXIT_THRESHOLDS if worse else 0


def _ab(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    try:
        out = prepare_out(args.out)
        round_time = parse_duration(args.round_time, key="--round-time", allow_zero=False)
        budget = (
            parse_duration(args.time_budget, key="--time-budget", allow_zero=False)
            if args.time_budget is not None
            else None
        )
        overrides = Overrides(agents=args.agents, duration=round_time)
        sides = [
            read_scenario(args.scenario, overrides, read_overlay(s, [])) for s in (args.a, args.b)
        ]
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    flags = ["--duration", f"{round_time:g}s"]
    if args.agents is not None:
        flags += ["--agents", str(args.agents)]
    order = round_order(args.rounds)
    values: dict[str, dict[str, list[float | None]]] = {"a": {}, "b": {}}
    work = Path(tempfile.mkdtemp(prefix="ab-", dir=out))
    console.print(
        f"A/B of {args.scenario}: {args.rounds} rounds of {round_time:g} s, order "
        f"{' '.join(order[:4]).upper()} ...",
        highlight=False,
    )
    try:
        done = asyncio.run(_ab_rounds(args, sides, order, flags, work, values, console, budget))
    except (RoundFailed, MockLLMError) as exc:
        console.print(f"[red]a round could not be run:[/red] {exc}", highlight=False)
        return EXIT_ERROR
    if done < len(order):
        console.print(
            f"time budget {budget:g} s: {done // 2} of {args.rounds} rounds run",
            highlight=False,
        )
        order = order[:done]
    result = ab_result(
        scenario=args.scenario,
        a=args.a,
        b=args.b,
        order=order,
        values=values,  # type: ignore[arg-type]
        fail_on=args.fail_on,
        extra={"load_average": list(os.getloadavg()), "round_time_s": round_time},
    )
    ratios = judge(values["a"], values["b"], fail_on=args.fail_on)
    console.print(ab_table(ratios, (args.a or "scenario", args.b or "scenario")))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out / f"ab-{Path(args.scenario).stem}-{stamp}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    console.print(f"result: {path}", highlight=False)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
    return _ab_verdict(ratios, args.fail_on, console)


async def _ab_rounds(
    args: argparse.Namespace,
    sides: list[Scenario],
    order: list[Side],
    flags: list[str],
    work: Path,
    values: dict[str, dict[str, list[float | None]]],
    console: Console,
    budget: float | None = None,
) -> int:
    """Run the rounds of ``order``, each in its own process, adding each report's figures
    to ``values``; returns how many runs ran. When A and B want the same mock LLM server
    (both ``kind = "mock"`` with the same flags), one server serves every round (reset
    before each: counters and seeded faults as on a fresh one) instead of one started
    and stopped per round. ``budget`` (seconds of wall time since the call): a pair of
    runs (A and B) is started only when the slowest pair so far would end within it."""
    env: dict[str, str] = {}
    began = time.monotonic()
    slowest_pair = 0.0
    async with contextlib.AsyncExitStack() as stack:
        mock_flags = [mock_llm_flags(s) if s.llm.kind == "mock" else None for s in sides]
        if mock_flags[0] is not None and mock_flags[0] == mock_flags[1]:
            mock = await stack.enter_async_context(MockLLMProcess(**mock_flags[0]))
            env[SHARED_MOCK_ENV] = mock.url
        for i, side in enumerate(order):
            if i % 2 == 0:  # a pair begins: A and B, or B and A
                elapsed = time.monotonic() - began
                if i and budget is not None and elapsed + slowest_pair > budget:
                    return i
                pair_began = time.monotonic()
            overlay = args.a if side == "a" else args.b
            extra = [*flags, *(["--with", overlay] if overlay else [])]
            report = await asyncio.to_thread(
                run_round, args.scenario, work / f"{i:03d}-{side}", extra, env=env
            )
            for name, value in figures_of_report(report).items():
                values[side].setdefault(name, []).append(value)
            console.print(
                f"  round {i // 2 + 1} {side.upper()}: "
                f"{format_value(report['figures'].get('turns_per_s'), '1/s')} turns, p95 "
                f"{format_value(report['figures'].get('response_p95'), 's')}",
                highlight=False,
            )
            if i % 2 == 1:
                slowest_pair = max(slowest_pair, time.monotonic() - pair_began)
    return len(order)


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


def _target(args: argparse.Namespace, overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` with ``--cluster``/``--redis`` laid over it (a running cluster)."""
    if args.cluster is None:
        if args.redis is not None:
            raise ConfigError("--redis", "only goes with --cluster NAME")
        return overlay
    running = {"nodes": 0, "name": args.cluster, "redis_url": args.redis or _DEFAULT_REDIS}
    return merge(overlay, {"cluster": running})


def _run(args: argparse.Namespace) -> int:
    console = Console()
    try:
        prepare_out(args.out)
        overlay = _target(args, read_overlay(args.overlay, args.set))
        scenario = read_scenario(args.scenario, _overrides(args), overlay)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    if scenario.cluster is not None:
        return _run_cluster(scenario, args, console)
    watch = SteadyWatch(
        tolerance=None if args.until_stable is None else args.until_stable / 100,
        min_s=args.min_time,
    )
    probe: dict[str, Any] = {}
    try:
        outcome, interrupted = run_loop(
            _execute(
                scenario,
                console,
                live=not args.no_live,
                watch=watch,
                probe=probe if args.passivate_at_end else None,
            ),
            use_uvloop=scenario.runtime.uvloop,
            gc_thresholds=SERVER_GC_THRESHOLDS if scenario.runtime.gc == "server" else None,
        )
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    except AgentRTError as exc:
        console.print(f"[red]the run could not be carried out:[/red] {exc}", highlight=False)
        return EXIT_ERROR
    report = outcome.report
    if probe:
        report["passivation"] = probe
    json_path, html_path = write_reports(report, args.out)
    console.print(final_table(report))
    console.print(figures_table(report))
    console.print(f"reports: {json_path}  {html_path}", highlight=False)
    if interrupted:
        return EXIT_INTERRUPTED
    return 0 if outcome.passed else EXIT_THRESHOLDS


def _run_cluster(scenario: Scenario, args: argparse.Namespace, console: Console) -> int:
    """A ``[cluster]`` run (:mod:`agentrt.loadtest._cluster_run`): SIGINT/SIGTERM end the
    load early, every process it started is stopped, the report is still written."""
    stop = asyncio.Event()

    async def execute() -> RunOutcome:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print(f"running {scenario.name} on a cluster ...", highlight=False)
        return await run_cluster_scenario(scenario, stop)

    try:
        outcome = asyncio.run(execute())
    except (AgentRTError, TimeoutError, RuntimeError) as exc:
        console.print(f"[red]the run could not be carried out:[/red] {exc}", highlight=False)
        return EXIT_ERROR
    report = outcome.report
    json_path, html_path = write_reports(report, args.out)
    console.print(final_table(report))
    console.print(figures_table(report))
    console.print(f"reports: {json_path}  {html_path}", highlight=False)
    if stop.is_set():
        return EXIT_INTERRUPTED
    return 0 if outcome.passed else EXIT_THRESHOLDS


async def _execute(
    scenario: Scenario,
    console: Console,
    *,
    live: bool,
    watch: SteadyWatch | None = None,
    probe: dict[str, Any] | None = None,
) -> tuple[RunOutcome, bool]:
    """Run with a live view on a terminal; SIGINT/SIGTERM end the run early. ``watch``
    measures the steady state (and ends the run once stable, with a tolerance): its
    summary is the report's ``steady`` block; ``probe`` (a dict) is filled with
    :func:`passivation_probe`'s figures."""
    interrupted = False
    view: Live | None = None

    def refresh(run: LoadRun) -> None:
        if watch is not None:
            watch(run)
        if view is not None:
            view.update(live_panel(run))

    async def after_drain(run: LoadRun) -> None:
        if probe is not None:
            probe.update(await passivation_probe(run))

    load = LoadRun(scenario, on_sample=refresh, after_drain=after_drain)

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
    if watch is not None:
        outcome.report["steady"] = watch.summary(load)
    return outcome, interrupted
