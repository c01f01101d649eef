"""The HTML report: well-formed, self-contained, escaped, and faithful to the report."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from support.loadtest_report import sample_report

from agentrt.loadtest._html import REPORT_SCRIPT_ID, render_html, write_html
from agentrt.loadtest._svgchart import nice_step
from agentrt.loadtest._units import MISSING

_VOID = {"meta", "br", "hr", "img", "link", "input"}
_CHARTS = 7


class _Checker(HTMLParser):
    """Records problems (unclosed or stray tags), the text, and the embedded report."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.report_json: str | None = None
        self._in_report = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in _VOID:
            self.stack.append(tag)
        self._in_report = tag == "script" and dict(attrs).get("id") == REPORT_SCRIPT_ID

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        self._in_report = False

    def handle_data(self, data: str) -> None:
        if self._in_report:
            self.report_json = (self.report_json or "") + data
        else:
            self.text.append(data)


def _parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.problems == []
    assert checker.stack == [], f"unclosed tags: {checker.stack}"
    return checker


def _tags(checker: _Checker, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
    return [a for t, a in checker.starts if t == tag and (cls is None or a.get("class") == cls)]


def test_the_page_is_well_formed_with_one_svg_per_chart() -> None:
    page = render_html(sample_report())
    checker = _parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert len(_tags(checker, "svg")) == _CHARTS
    titles = [a.get("aria-label") for a in _tags(checker, "svg")]
    assert "Response time percentiles" in titles
    assert "Cache hit ratio" in titles
    text = " ".join(checker.text)
    assert "PASSED" in text
    assert "smoke" in text


def test_the_embedded_report_round_trips() -> None:
    report = sample_report()
    report["scenario"]["description"] = "ends </script><!-- & <b>bold</b> ünïcode"
    checker = _parse(render_html(report))
    assert checker.report_json is not None
    assert json.loads(checker.report_json) == report


def test_strings_from_the_report_are_escaped() -> None:
    report = sample_report()
    attack = "<script>alert(1)</script>"
    report["scenario"]["name"] = attack
    report["accounting"]["failures"] = {attack: 2}
    report["events"].append({"t": 7.0, "kind": "note", "detail": attack})
    report["aborted"] = attack
    page = render_html(report)
    assert attack not in page
    checker = _parse(page)
    scripts = _tags(checker, "script")
    assert [s.get("id") for s in scripts] == [REPORT_SCRIPT_ID]
    assert attack in " ".join(checker.text)  # shown as text, not run


def test_a_failed_threshold_shows_a_cross_and_the_failed_badge() -> None:
    report = sample_report()
    report["passed"] = False
    report["thresholds"][0].update(value=2.5, ok=False)
    page = render_html(report)
    text = " ".join(_parse(page).text)
    assert "✗" in text
    assert "FAILED" in text
    assert "2.5 s" in text  # value in its unit
    assert "< 2 s" in text  # limit in its unit


def test_values_are_shown_in_their_units() -> None:
    text = " ".join(_parse(render_html(sample_report())).text)
    assert "120 ms" in text  # response_p95 0.12 s
    assert "22.5 KiB" in text  # bytes_per_agent 23000 B
    assert "0.4%" in text  # error_rate 0.004
    assert "AgentCrashed" in text


def test_an_aborted_run_says_why() -> None:
    report = sample_report()
    report.update(passed=False, aborted="error_rate 12% > 5% (abort_on_fail)")
    text = " ".join(_parse(render_html(report)).text)
    assert "Aborted: error_rate 12% > 5% (abort_on_fail)" in text


def test_a_redis_outage_is_shaded_and_other_events_are_marked() -> None:
    checker = _parse(render_html(sample_report()))
    bands = _tags(checker, "rect", "band")
    markers = _tags(checker, "line", "marker")
    assert len(bands) == _CHARTS  # one outage (3 s to 5 s), shaded on every chart
    assert len(markers) == _CHARTS  # one other event (the crash at 6.5 s)
    assert len({b["x"] for b in bands}) == 1
    assert float(bands[0]["width"] or 0) > 0


def test_no_outage_without_redis_events() -> None:
    report = sample_report()
    report["events"] = [e for e in report["events"] if not e["kind"].startswith("redis")]
    checker = _parse(render_html(report))
    assert _tags(checker, "rect", "band") == []
    assert len(_tags(checker, "line", "marker")) == _CHARTS


def test_an_outage_that_never_ends_lasts_to_the_end_of_the_chart() -> None:
    report = sample_report()
    report["events"] = [{"t": 8.0, "kind": "redis_down", "detail": ""}]
    checker = _parse(render_html(report))
    bands = _tags(checker, "rect", "band")
    assert len(bands) == _CHARTS
    assert float(bands[0]["width"] or 0) > 1


def test_the_page_is_self_contained() -> None:
    page = render_html(sample_report())
    assert "http://" not in page
    assert "https://" not in page
    checker = _parse(page)
    assert _tags(checker, "link") == []
    assert all("src" not in attrs for _, attrs in checker.starts)


def test_gaps_in_a_series_break_the_line() -> None:
    checker = _parse(render_html(sample_report()))
    paths = [a["d"] or "" for a in _tags(checker, "path", "series")]
    # the latency sample at 4 s is None: p50/p95/p99 each draw two segments
    assert sum(d.count("M") for d in paths[:3]) == 6


def test_an_empty_report_renders() -> None:
    report: dict[str, Any] = {"schema": "agentrt.loadtest/1", "figures": {"response_p95": None}}
    checker = _parse(render_html(report))
    text = " ".join(checker.text)
    assert len(_tags(checker, "svg")) == _CHARTS
    assert "no data" in text
    assert MISSING in text  # the figure that was not measured
    assert "FAILED" in text  # "passed" missing is not a pass


def test_empty_series_and_malformed_entries_render() -> None:
    report = sample_report()
    report["series"] = {"t": [], "response_p95": []}
    report["events"] = [{"kind": "no time"}, "junk", {"t": "soon", "kind": "x"}]
    report["thresholds"] = [{"expr": "lost == 0", "metric": "lost", "value": None}]
    report["accounting"] = None
    checker = _parse(render_html(report))
    assert len(_tags(checker, "svg")) == _CHARTS
    assert _tags(checker, "line", "marker") == []
    assert "✗" in " ".join(checker.text)  # a threshold without "ok" did not hold


def test_the_same_report_gives_the_same_page() -> None:
    assert render_html(sample_report()) == render_html(sample_report())


def test_write_html_writes_the_page(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    assert write_html(sample_report(), target) == target
    assert target.read_text(encoding="utf-8") == render_html(sample_report())


def test_chart_ticks_are_round_numbers() -> None:
    assert nice_step(87) == 20
    assert nice_step(1.0) == pytest.approx(0.2)
    assert nice_step(4000, ticks=8) == 500


def test_accounting_that_does_not_add_up_is_flagged() -> None:
    report = sample_report()
    report["accounting"].update(sent=501, reconciled=False)
    text = "".join(_parse(render_html(report)).text)
    assert "sent 501 = answered 498 + failed 2 + lost 0" in text
    assert "does not add up" in text
    assert "reconciled with the runtime: no" in text


def _figure(page: str, title: str) -> str:
    start = page.index(f"<figure><figcaption>{title}</figcaption>")
    return page[start : page.index("</figure>", start)]


def test_restarts_per_second_are_charted_from_the_series() -> None:
    # issue 13 §1: a restart storm must be visible in the report, not only a total
    report = sample_report()
    page = render_html(report)
    chart = _figure(page, "Restarts per second")
    assert "restarts/s" in chart
    calm = sample_report()
    calm["series"]["restarts_per_s"] = [0.0] * len(calm["series"]["t"])
    storm = sample_report()
    storm["series"]["restarts_per_s"] = [0.0, 0.0, 900.0, 1000.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    charts = {_figure(render_html(r), "Restarts per second") for r in (report, calm, storm)}
    assert len(charts) == 3  # the series draws the chart
    assert ">1,000<" in _figure(render_html(storm), "Restarts per second")  # the axis scales
    assert _figure(render_html(storm), "Throughput") == _figure(page, "Throughput")


def test_the_llm_cache_section_shows_its_savings_line_and_models() -> None:
    report = sample_report()
    assert "LLM response cache" not in render_html(report)  # no section: nothing shown
    report["llm_cache"] = {
        "lookups": 200,
        "hits": 190,
        "hit_ratio": 0.95,
        "tokens_saved": 12_000,
        "cost_saved": 0.0123,
        "by_model": {"gpt-<4o>": {"hits": 190, "tokens_saved": 12_000, "cost_saved": 0.0123}},
    }
    html = render_html(report)
    assert "LLM cache saved $0.0123 (12,000 tokens), hit ratio 95%" in html
    assert "<code>gpt-&lt;4o&gt;</code>" in html  # escaped
    report["llm_cache"]["lookups"] = 0  # the cache was off: no section
    assert "LLM response cache" not in render_html(report)
