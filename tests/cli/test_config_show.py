"""``agentrt config show``: the effective configuration, each value's source, secrets
redacted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrt.cli import main


def _show(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, dict[str, object]]:
    assert main(["config", "show", "--json", *argv]) == 0
    out: dict[str, dict[str, object]] = json.loads(capsys.readouterr().out)
    return out


def test_each_value_carries_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "agentrt.toml"
    path.write_text('name = "from-file"\n[store]\nprefix = "f:"\n[agents]\nmax_restarts = 5\n')
    monkeypatch.setenv("AGENTRT_NAME", "from-env")
    monkeypatch.setenv("AGENTRT_TOP_TOKEN", "never-a-key")
    shown = _show(capsys, "--config", str(path), "--set", "agents.max_restarts=9")
    assert shown["name"] == {"value": "from-env", "source": "env"}
    assert shown["store.prefix"] == {"value": "f:", "source": "file"}
    assert shown["agents.max_restarts"] == {"value": 9, "source": "flag"}
    assert shown["agents.max_seconds"] == {"value": 60.0, "source": "default"}
    assert shown["llm.providers[0].kind"]["source"] == "default"


def test_secrets_are_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTRT_STORE__URL", "redis://:hunter2@10.0.0.1:6379/0")
    argv = ["--set", 'telemetry.otel.headers={Authorization = "Bearer abc123"}']
    assert main(["config", "show", *argv]) == 0
    text = capsys.readouterr().out
    assert "hunter2" not in text
    assert "abc123" not in text
    assert 'env      store.url = "redis://:***@10.0.0.1:6379/0"' in text
    assert '"Authorization": "***"' in text


def test_bad_values_exit_2_naming_key_and_source(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTRT_TELEMETRY__WINDOW_S", "nan")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "telemetry.window_s" in err
    assert "AGENTRT_TELEMETRY__WINDOW_S" in err
    monkeypatch.delenv("AGENTRT_TELEMETRY__WINDOW_S")
    assert main(["config", "show", "--set", "nodot"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
