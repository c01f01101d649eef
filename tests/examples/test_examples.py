"""Every example runs to completion (each is a single runnable file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# script -> (arguments for a short run, texts its output must contain)
EXAMPLES: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "supervised_tree.py": (["--workers", "50", "--jobs", "1000"], ("lost           0",)),
    "llm_mock_demo.py": (
        [],
        (
            "chat: echo: hello",
            "tool call: weather {'city': 'Oslo'}",
            'after the tool: tool result: {"temp_c": 3}',
            "stream:w1 w2 w3 w4 w5 w6 w7 w8",
            "embeddings: 16 callers, 1 HTTP call(s)",
        ),
    ),
}


def test_every_example_is_covered() -> None:
    scripts = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert scripts == set(EXAMPLES)


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs(script: str) -> None:
    args, expected = EXAMPLES[script]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for text in expected:
        assert text in proc.stdout
