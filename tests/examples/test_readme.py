"""The README's first example, exactly as written, talks to an OpenAI-compatible server:
the project's mock server, in its own process, over real HTTP."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from agentrt.testing import MockLLMProcess

ROOT = Path(__file__).resolve().parents[2]


def readme_block(name: str) -> str:
    """The Python code between the README's ``--8<-- [start:name]``/``[end:name]`` marks."""
    text = (ROOT / "README.md").read_text()
    section = re.search(rf"\[start:{name}\] -->\n(.*?)<!-- --8<-- \[end:{name}\]", text, re.S)
    assert section is not None, f"no {name} section in README.md"
    code = re.fullmatch(r"```python\n(.*)```\n", section.group(1), re.S)
    assert code is not None, "the section is not one python block"
    return code.group(1)


def test_the_first_example_is_the_real_llm_one_in_ten_lines_of_code() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.index("```python") > text.index("[start:real-llm]")
    code = [line for line in readme_block("real-llm").splitlines() if line.strip()]
    assert len(code) <= 10, code


async def test_the_readme_real_llm_example_runs_against_the_mock_server(tmp_path: Path) -> None:
    script = tmp_path / "readme_real_llm.py"
    script.write_text(readme_block("real-llm"))
    async with MockLLMProcess() as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-readme-test"}
        proc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        counts = (await server.stats())["counts"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "echo: Say hello in five words.\n"
    assert counts.get("chat", 0) == 1
    assert "sk-readme-test" not in proc.stdout + proc.stderr
