"""Comparing two reports: verdicts by direction, the ±2 % band, loading, the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from support.loadtest_report import sample_report

from agentrt.errors import ConfigError
from agentrt.loadtest._compare import (
    CompareRow,
    compare_rows,
    compare_table,
    direction,
    load_report,
)
from agentrt.loadtest._units import MISSING, format_change, format_delta, format_value


def _rows(a: dict[str, Any], b: dict[str, Any]) -> dict[str, CompareRow]:
    return {row.figure: row for row in compare_rows(a, b)}


def _with(**figures: Any) -> dict[str, Any]:
    report = sample_report()
    report["figures"].update(figures)
    return report


@pytest.mark.parametrize(
    ("figure", "a", "b", "verdict"),
    [
        ("response_p95", 0.10, 0.12, "worse"),  # lower is better
        ("response_p95", 0.12, 0.10, "better"),
        ("rss_peak", 1.0e8, 2.0e8, "worse"),
        ("error_rate", 0.01, 0.002, "better"),
        ("lost", 0, 3, "worse"),  # from zero: no ratio, still a verdict
        ("turns_per_s", 40.0, 50.0, "better"),  # higher is better
        ("cache_hit_ratio", 0.9, 0.6, "worse"),
        ("turns_answered", 498, 400, "worse"),
        ("restarts", 3, 9, "n/a"),  # neutral
        ("agents", 100, 1000, "n/a"),
        ("agents", 100, 100, "same"),
    ],
)
def test_verdict_follows_the_figure_direction(
    figure: str, a: float, b: float, verdict: str
) -> None:
    row = _rows(_with(**{figure: a}), _with(**{figure: b}))[figure]
    assert row.verdict == verdict
    assert row.delta == pytest.approx(b - a)


def test_directions() -> None:
    assert direction("response_p99") == "lower"
    assert direction("memory_op_p99") == "lower"
    assert direction("overhead_p95") == "lower"
    assert direction("turns_per_s") == "higher"
    assert direction("crashes_injected") == "neutral"
    assert direction("something_new") == "neutral"


@pytest.mark.parametrize(
    ("b", "verdict"),
    [(0.1019, "same"), (0.0981, "same"), (0.1021, "worse"), (0.0979, "better")],
)
def test_changes_within_two_percent_are_the_same(b: float, verdict: str) -> None:
    row = _rows(_with(response_p95=0.1), _with(response_p95=b))["response_p95"]
    assert row.verdict == verdict
    assert row.change == pytest.approx((b - 0.1) / 0.1)


def test_missing_or_unmeasured_figures_are_not_judged() -> None:
    a = _with(response_p99=None)
    b = sample_report()
    del b["figures"]["llm_errors"]
    b["figures"]["brand_new"] = 7
    rows = _rows(a, b)
    assert rows["response_p99"].verdict == "n/a"
    assert rows["response_p99"].a is None
    assert rows["response_p99"].delta is None
    assert rows["llm_errors"].verdict == "n/a"
    assert rows["llm_errors"].b is None
    assert rows["brand_new"].verdict == "n/a"
    assert rows["brand_new"].a is None


def test_rows_keep_the_first_reports_order_then_the_second_reports_extras() -> None:
    a, b = sample_report(), sample_report()
    b["figures"] = {"zzz_new": 1, **b["figures"]}
    figures = [row.figure for row in compare_rows(a, b) if row.kind == "figure"]
    assert figures == [*a["figures"], "zzz_new"]


def test_units_come_from_the_report() -> None:
    rows = _rows(sample_report(), sample_report())
    assert rows["response_p95"].unit == "s"
    assert rows["bytes_per_agent"].unit == "B"
    assert rows["error_rate"].unit == "ratio"


def test_threshold_rows_show_which_checks_broke_or_were_fixed() -> None:
    a, b = sample_report(), sample_report()
    b["thresholds"][0]["ok"] = False
    a["thresholds"][1]["ok"] = False
    b["thresholds"].append({"expr": "lost == 0", "ok": True})
    rows = {r.figure: r for r in compare_rows(a, b) if r.kind == "threshold"}
    assert list(rows) == ["response_p95 < 2s", "error_rate < 1%", "lost == 0"]
    assert (rows["response_p95 < 2s"].a, rows["response_p95 < 2s"].b) == (True, False)
    assert rows["response_p95 < 2s"].verdict == "worse"
    assert rows["error_rate < 1%"].verdict == "better"
    assert rows["lost == 0"].verdict == "n/a"
    assert rows["lost == 0"].a is None


def test_compare_table_renders_values_changes_and_verdicts() -> None:
    a, b = _with(response_p95=0.1), _with(response_p95=0.12)
    b["thresholds"][0]["ok"] = False
    console = Console(record=True, width=120, color_system=None)
    console.print(compare_table(a, b, names=("before", "after")))
    text = console.export_text()
    assert "before" in text
    assert "after" in text
    line = next(ln for ln in text.splitlines() if "response_p95 " in ln and "ms" in ln)
    assert "100 ms" in line
    assert "120 ms" in line
    assert "+20 ms (+20.0%)" in line
    assert "worse" in line
    threshold = next(ln for ln in text.splitlines() if "response_p95 < 2s" in ln)
    assert "✓" in threshold
    assert "✗" in threshold
    assert "now fails" in threshold


def test_compare_table_colours_by_verdict() -> None:
    a, b = _with(turns_per_s=40.0, rss_peak=1e8), _with(turns_per_s=50.0, rss_peak=2e8)
    console = Console(record=True, width=120, force_terminal=True, color_system="standard")
    console.print(compare_table(a, b))
    styled = console.export_text(styles=True)
    better = next(ln for ln in styled.splitlines() if "turns_per_s" in ln)
    worse = next(ln for ln in styled.splitlines() if "rss_peak" in ln)
    assert "\x1b[32m" in better  # green
    assert "\x1b[31m" in worse  # red


def test_load_report_reads_a_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(sample_report()), encoding="utf-8")
    assert load_report(path) == sample_report()
    assert load_report(str(path))["figures"]["agents"] == 100


def test_load_report_names_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="no such file") as info:
        load_report(path)
    assert info.value.key == str(path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        ("", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"figures": {}}', 'no "schema"'),
        ('{"schema": "k6/1", "figures": {}}', "unknown report schema 'k6/1'"),
        ('{"schema": "agentrt.loadtest/1"}', 'no "figures"'),
        ('{"schema": "agentrt.loadtest/1", "figures": [1]}', 'no "figures"'),
    ],
)
def test_load_report_names_the_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_report(path)
    assert problem in info.value.problem
    assert str(path) in str(info.value)


def test_load_report_rejects_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(ConfigError, match="cannot read"):
        load_report(path)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.12, "s", "120 ms"),
        (0.0006, "s", "0.6 ms"),
        (2.5, "s", "2.5 s"),
        (23000.0, "B", "22.5 KiB"),
        (180000000.0, "B", "172 MiB"),
        (512, "B", "512 B"),
        (0.004, "ratio", "0.4%"),
        (0.93, "ratio", "93%"),
        (12000, "count", "12,000"),
        (48.1, "1/s", "48.1/s"),
        (0.0123, "$", "$0.0123"),
        (-2.5, "$", "\u2212$2.5"),
        (None, "s", MISSING),
        ("n/a", "s", "n/a"),
    ],
)
def test_format_value(value: Any, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_format_delta_and_change() -> None:
    assert format_delta(-0.004, "s") == "\u22124 ms"
    assert format_delta(0.01, "ratio") == "+1 pp"
    assert format_delta(0, "count") == "±0"
    assert format_change(0.123) == "+12.3%"
    assert format_change(None) == MISSING
