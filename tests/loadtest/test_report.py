"""Accounting and figures from a run's ledger and samples (no loop, no runtime)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from agentrt.agent import AgentCrashed
from agentrt.loadtest._collect import Ledger, Sample, Series
from agentrt.loadtest._report import accounting_of, figures_of
from agentrt.loadtest._scenario import Scenario
from agentrt.loadtest._sections import AgentsSpec


class FakeRuntime:
    """Stands in for the runtime's turn ledger (the only part accounting reads)."""

    def __init__(self, accepted: int, answered: int, failed: int, cancelled: int = 0) -> None:
        failures = {"AgentCrashed": failed}
        if cancelled:
            failures["CancelledError"] = cancelled
        self.stats = SimpleNamespace(
            accepted=accepted, answered=answered, failed=failed + cancelled, failures=failures
        )

    def turn_stats(self) -> Any:
        return self.stats


def run_with(ledger: Ledger, rt: Any = None, series: Series | None = None, **kw: Any) -> Any:
    scenario = Scenario(name="t", agents=AgentsSpec(count=10, turns=1), **kw)
    return SimpleNamespace(
        ledger=ledger,
        series=series or Series(),
        rt=rt,
        spawned=10,
        ramp_done_at=0.0,
        scenario=scenario,
        started=0.0,  # not started: no CPU figure
        cpu_started=0.0,
    )


def ledger(sent: int, answered: int, failed: int) -> Ledger:
    out = Ledger(sent=sent)
    for _ in range(answered):
        out.answer(0.1, 0.001)
    for _ in range(failed):
        out.fail(AgentCrashed("a-1", "killed"))
    return out


def test_reconciled_when_both_ledgers_agree() -> None:
    account = accounting_of(run_with(ledger(10, 8, 2), FakeRuntime(10, 8, 2)))
    assert account["reconciled"] is True
    assert account["lost"] == 0
    assert account["failures"] == {"AgentCrashed": 2}


def test_a_turn_without_outcome_is_lost_at_the_end_not_during_the_run() -> None:
    # the runtime counts the turn the run gave up on as cancelled
    run = run_with(ledger(10, 8, 1), FakeRuntime(10, 8, 1, cancelled=1))
    final = accounting_of(run)
    assert final["lost"] == 1
    assert final["unanswered"] == 1
    assert final["reconciled"] is False
    assert accounting_of(run, final=False)["lost"] == 0  # still in flight


def test_ledgers_that_disagree_count_as_lost() -> None:
    account = accounting_of(run_with(ledger(10, 9, 1), FakeRuntime(11, 9, 1)))
    assert account["lost"] == 1  # the runtime accepted a turn no user sent
    assert account["reconciled"] is False


def sample(t: float, rss: int) -> Sample:
    return Sample(t, 10, 1.0, 0.1, 0.2, 0.3, 0, rss, 0, None, 0.0)


def test_memory_growth_compares_early_and_late_steady_samples() -> None:
    series = Series()
    for i in range(20):  # warm-up: +1 MB/s for 5 s, then flat with one noisy spike
        rss = 100_000_000 + min(i, 5) * 1_000_000 + (3_000_000 if i == 12 else 0)
        series.add(sample(float(i), rss))
    flat = figures_of(run_with(ledger(1, 1, 0), series=series, warmup=6), base_rss=None, elapsed=20)
    assert flat["memory_growth_per_agent"] == 0.0
    early = figures_of(
        run_with(ledger(1, 1, 0), series=series, warmup=0), base_rss=None, elapsed=20
    )
    assert early["memory_growth_per_agent"] is not None
    assert early["memory_growth_per_agent"] > 100_000  # the warm-up's growth / 10 agents
    assert series.rss_growth(18.0) is None  # too few samples to say


def test_figures_without_turns_are_unmeasured() -> None:
    figures = figures_of(run_with(Ledger()), base_rss=None, elapsed=0.0)
    assert figures["error_rate"] is None
    assert figures["response_p95"] is None
    assert figures["turns_per_s"] is None
    assert figures["lost"] == 0
