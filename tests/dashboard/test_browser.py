"""The web dashboard in a real browser: Debian's chromium driven by Playwright, headless,
against a running ``agentrt demo`` process (a real runtime under load, with a token).

One demo process and one browser for the module (starting chromium costs ~1 s). Each page
is loaded, shown to change live, and saved as a screenshot in the run's artifacts
directory (pytest's tmp dir; ``DASHBOARD_SHOTS=dir`` writes them there too: the
PNGs under docs/images were made so). A browser or demo that cannot start fails the test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
TOKEN = "dashboard-test-token"
TOKEN_ENV = "DASHBOARD_TEST_TOKEN"
WAIT_MS = 30_000  # for a live value to change on a loaded machine: far beyond need


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    """``agentrt demo`` with 300 agents talking without end; yields the endpoint URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTRT_")}
    env[TOKEN_ENV] = TOKEN  # AGENTRT_* variables are configuration: none leak in
    # ... but for these: a response target no turn can meet, checked every second and
    # alerted at once, so the Overview's alert panel has an alert firing to show
    env["AGENTRT_TELEMETRY__WINDOW_S"] = "2"
    env["AGENTRT_TELEMETRY__TARGETS__RESPONSE_P95_S"] = "0.001"
    env["AGENTRT_TELEMETRY__ALERTS__FOR_S"] = "0"
    argv = [sys.executable, "-m", "agentrt.cli", "demo", "--agents", "300"]
    argv += ["--turns", "1000000", "--think-ms", "300", "--crashes", "3", "--no-live"]
    argv += ["--endpoint-port", "0", "--endpoint-token-env", TOKEN_ENV]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    found: list[str] = []
    seen: list[str] = []
    ready = threading.Event()

    def read() -> None:  # keeps draining the pipe so the demo never blocks on it
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            match = re.search(r"introspection endpoint: (http://\S+)", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        ready.wait(60)
        if not found:
            pytest.fail(f"the demo did not serve its endpoint: {''.join(seen)[-2000:]}")
        yield found[0]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium (the system's binary: no browser download)."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Where screenshots go: the run's artifacts directory (and ``DASHBOARD_SHOTS``)."""
    dirs = [tmp_path_factory.mktemp("dashboard-artifacts")]
    extra = os.environ.get("DASHBOARD_SHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        dirs.append(Path(extra))
    return dirs


@pytest.fixture
def page(browser: Browser, demo: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=demo)
    # the token the user would type once per tab
    context.add_init_script(f"sessionStorage.setItem('agentrt-token', {TOKEN!r})")
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def snap(page: Page, shots: list[Path], name: str) -> None:
    for where in shots:
        page.screenshot(path=str(where / f"dashboard-{name}.png"), full_page=True)
    assert (shots[0] / f"dashboard-{name}.png").stat().st_size > 10_000


def changes(page: Page, selector: str) -> None:
    """Wait until the text of ``selector`` differs from what it shows now."""
    before = page.locator(selector).inner_text()
    page.wait_for_function(
        "([sel, before]) => document.querySelector(sel).innerText !== before",
        arg=[selector, before],
        timeout=WAIT_MS,
    )


def sorted_rows(page: Page, index: int, *, descending: bool) -> None:
    """Wait until the agents table shows 50 rows ordered by its ``index``-th column."""
    op = ">=" if descending else "<="
    page.wait_for_function(
        f"() => {{ const c = [...document.querySelectorAll("
        f"'#agents-table tbody tr td:nth-child({index})')]"
        ".map(td => Number(td.innerText.replace(/[^0-9.]/g, ''))); "
        f"return c.length === 50 && c.every((v, i) => i === 0 || c[i - 1] {op} v); }}",
        timeout=WAIT_MS,
    )


def test_overview_is_live(page: Page, shots: list[Path]) -> None:
    page.goto("/ui/")
    expect(page.locator("#live-status")).to_have_text("live", timeout=WAIT_MS)
    expect(page.locator("#t-live")).not_to_have_text("—")
    changes(page, "#t-turns")  # the event stream updates the figures: no reload
    changes(page, "#t-turns")
    for chart in ("rate", "latency", "agents", "rss"):
        expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
    assert page.locator("#page-overview table tbody tr").count() >= 3  # the targets
    firing = page.locator("#alerts-active tbody tr")  # from the live summary
    expect(firing.first).to_contain_text("response_p95_s", timeout=WAIT_MS)
    expect(page.locator("#alerts-none")).to_be_hidden()
    recent = page.locator("#alerts-recent tbody tr")  # from /alerts
    expect(recent.first).to_contain_text("firing", timeout=WAIT_MS)
    snap(page, shots, "overview")


def test_agents_sort_filter_page_and_open_one(page: Page, shots: list[Path]) -> None:
    page.goto("/ui/#/agents")
    rows = page.locator("#agents-table tbody tr")
    expect(rows).to_have_count(50, timeout=WAIT_MS)  # one page of 300: cut on the server
    expect(page.locator("#agents-count")).to_contain_text("of 300")

    page.click("th[data-sort=turns]")
    expect(page.locator("th[data-sort=turns]")).to_contain_text("▼")
    expect(page.locator("th[data-sort=turns]")).to_have_class(re.compile("sorted"))
    sorted_rows(page, 5, descending=True)  # the column of turns
    page.click("th[data-sort=turns]")
    expect(page.locator("th[data-sort=turns]")).to_contain_text("▲", timeout=WAIT_MS)
    sorted_rows(page, 5, descending=False)

    first = rows.first.locator("td").first.inner_text()
    page.click("#agents-next")
    expect(rows.first.locator("td").first).not_to_have_text(first, timeout=WAIT_MS)
    page.click("#agents-prev")

    page.fill("#agents-q", "agent-1?")
    page.press("#agents-q", "Enter")
    expect(page.locator("#agents-count")).to_contain_text("10 of 300", timeout=WAIT_MS)
    ids = page.locator("#agents-table tbody tr td:first-child").all_inner_texts()
    assert sorted(ids) == [f"agent-1{i}" for i in range(10)]
    snap(page, shots, "agents")

    rows.first.click()
    opened = ids[0]
    expect(page).to_have_url(re.compile(r"#/agent/"))
    expect(page.locator("#agent-id")).to_have_text(opened)
    expect(page.locator("#agent-recent tbody tr").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#agent-recent .step.llm").first).to_contain_text("LLM")
    expect(page.locator("#agent-tiers")).to_be_visible()
    expect(page.locator("#page-agent .path")).to_contain_text("agents")
    changes(page, "#agent-turns")  # the page follows the agent: its turn count grows
    snap(page, shots, "agent")
    page.click("#act-restart")
    expect(page.locator("#action-result")).to_contain_text("restart: done", timeout=WAIT_MS)


def test_nodes_tree_and_llm_pages(page: Page, shots: list[Path], demo: str) -> None:
    page.goto("/ui/#/nodes")
    row = page.locator("#node-list tbody tr")
    expect(row).to_have_count(1, timeout=WAIT_MS)
    expect(row.first).to_contain_text("alive")
    expect(row.first).to_contain_text(demo)
    changes(page, "#node-list tbody tr td:nth-child(6)")  # its load, live
    # the statistics table: the totals row first, then this node's published figures
    stats = page.locator("#node-stats tbody tr")
    expect(stats.first).to_contain_text("TOTAL", timeout=WAIT_MS)
    expect(stats).to_have_count(2, timeout=WAIT_MS)  # one node: the totals, then its own
    expect(stats.nth(1)).to_contain_text("up")
    snap(page, shots, "nodes")

    page.goto("/ui/#/tree")
    agents = page.locator("#tree summary", has_text=re.compile(r"^agents · supervisor"))
    expect(agents).to_have_count(1, timeout=WAIT_MS)
    expect(agents).to_contain_text("300 children")
    expect(page.locator("#tree .leaf", has_text="store · worker")).to_have_count(1)
    expect(page.locator("#tree a", has_text="more on the Agents page")).to_have_count(1)
    agents.click()  # collapses, and stays collapsed across refreshes
    page.wait_for_timeout(2500)
    expect(page.locator("#tree details:not([open]) > summary", has_text="agents")).to_have_count(1)
    agents.click()
    snap(page, shots, "tree")

    page.goto("/ui/#/llm")
    provider = page.locator("#page-llm .provider")
    expect(provider).to_have_count(1, timeout=WAIT_MS)
    expect(provider.locator("h3")).to_contain_text("mock")
    changes(page, "#page-llm .llm-provider tbody tr td:first-child")  # requests, live
    model = page.locator("#page-llm .llm-models tbody tr").first
    expect(model.locator("td").first).to_have_text("mock")
    changes(page, "#page-llm .llm-models tbody tr td:nth-child(2)")  # the model's requests
    snap(page, shots, "llm")


def test_the_dashboard_refuses_data_without_the_token(browser: Browser, demo: str) -> None:
    context = browser.new_context(base_url=demo)
    tab = context.new_page()
    try:
        tab.goto("/ui/#/agents")
        expect(tab.locator("#error")).to_contain_text("token", timeout=WAIT_MS)
        expect(tab.locator("#agents-table tbody tr")).to_have_count(0)
        tab.fill("#token", TOKEN)
        tab.press("#token", "Enter")
        expect(tab.locator("#agents-table tbody tr")).to_have_count(50, timeout=WAIT_MS)
    finally:
        context.close()
