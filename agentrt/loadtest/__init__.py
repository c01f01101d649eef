"""Load scenarios: ``agentrt loadtest`` and its engine.

A scenario (TOML, :func:`load_scenario`) describes a swarm, its users' conversations,
the LLM, faults to inject and k6-style thresholds; :func:`run_scenario` runs it and
returns a :class:`RunOutcome` whose report is written as JSON and HTML
(:func:`write_reports`); :func:`compare_table` puts two reports side by side. The
scenarios shipped with agentrt are package data: :func:`shipped_scenarios` lists them,
:func:`shipped_scenario` finds one by name. See ``docs/loadtest.md``.

Example::

    scenario = load_scenario(shipped_scenario("smoke"))
    outcome = await run_scenario(scenario)
    write_reports(outcome.report, "loadtest-results")
    assert outcome.passed
"""

from agentrt.loadtest._agents import LoadAgent
from agentrt.loadtest._compare import compare_table, load_report
from agentrt.loadtest._engine import RunOutcome, run_scenario
from agentrt.loadtest._report import write_reports
from agentrt.loadtest._scenario import Scenario, load_scenario
from agentrt.loadtest._shipped import shipped_scenario, shipped_scenarios
from agentrt.loadtest._thresholds import Threshold

__all__ = [
    "LoadAgent",
    "RunOutcome",
    "Scenario",
    "Threshold",
    "compare_table",
    "load_report",
    "load_scenario",
    "run_scenario",
    "shipped_scenario",
    "shipped_scenarios",
    "write_reports",
]
