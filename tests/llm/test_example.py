"""The LLM example runs end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_llm_mock_demo_runs() -> None:
    done = subprocess.run(
        [sys.executable, "examples/llm_mock_demo.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "chat: echo: hello" in out
    assert "tool call: weather {'city': 'Oslo'}" in out
    assert 'after the tool: tool result: {"temp_c": 3}' in out
    assert "stream:w1 w2 w3 w4 w5 w6 w7 w8" in out
    assert "embeddings: 16 callers, 1 HTTP call(s)" in out
