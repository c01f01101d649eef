"""The fault-mix scenario (issue 14 §6) end to end through the CLI: one mock proxy in its
own process serving three models, keep-alive connections dropped after every error.
Its verdict is about which errors each model's users saw, never about timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrt.cli import main


def test_fault_mix_passes_and_each_model_sees_what_it_should(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["loadtest", "run", "fault_mix", "--no-live", "--out", str(tmp_path), "--duration", "4s"]
    )
    out = capsys.readouterr().out
    [path] = tmp_path.glob("*.json")
    report = json.loads(path.read_text())
    assert code == 0, out
    assert report["passed"], report["thresholds"]
    assert "turns_failed[model-c] == 0" in out  # the model in brackets is shown as written
    by_model = report["accounting"]["by_model"]
    a, b, c = (by_model[m] for m in ("model-a", "model-b", "model-c"))
    assert c["failed"] == 0
    assert c["answered"] == c["sent"] > 0
    assert set(b["failures"]) == {"RateLimited"}
    assert b["failed"] == b["sent"] > 0
    assert b["failed_unexcused"] == 0
    assert a["failed"] == a["sent"] > 0
    assert set(a["failures"]) <= {"ProviderUnavailable", "CircuitOpen", "DeadlineExceeded"}
    server = report["faults"]["llm_server"]
    assert server["dropped_connections"] > 0  # the proxy dropped connections after errors
    # the 429 paused model-b for the whole swarm: far fewer 429s than model-b turns
    assert 0 < server["status_429"] < b["sent"]
