from __future__ import annotations

from support.bench import quick_json


def test_cli_startup_bench_quick_json() -> None:
    result = quick_json("cli_startup")
    assert result["rounds"] == 3
    names = set(result["median_ms"])
    assert {
        "python -c pass",
        "import argparse",
        "agentrt --help",
        "python -m agentrt.cli --help",
    } <= names
    assert {"import agentrt", "import agentrt.actor", "import supervisors"} <= names
    assert set(result["ratio_to_python"]) == names
    assert all(ms > 0 for ms in result["median_ms"].values())
    assert result["ratio_to_python"]["python -c pass"] == 1.0
    assert result["agentrt_help_ratio"] == result["ratio_to_python"]["agentrt --help"]
    assert result["meets_target"] == (result["agentrt_help_ratio"] <= result["target_ratio"])
