"""The command line imports a subcommand's module only when that subcommand runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentrt.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]

# the one option each subcommand's full help shows (its placeholder knows none)
OWN_OPTION = {
    "capacity": "--axis",
    "cluster": "ACTION",
    "config": "SUBCOMMAND",
    "demo": "--agents",
    "loadtest": "SUBCOMMAND",
    "mcp": "COMMAND",
    "mock-llm": "--latency-ms",
    "node": "--node-id",
    "serve": "--max-in-flight",
    "top": "--url",
}

_PROBE = """
import json, sys
from agentrt.cli import main
try:
    main({argv!r})
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "modules": sorted(m for m in sys.modules
    if m.startswith("agentrt") or m.split(".")[0] in ("aiohttp", "httpx", "rich", "redis"))}}))
"""


def _run_first(argv: list[str]) -> tuple[int, set[str]]:
    """``main(argv)`` in a fresh interpreter: its exit code and the modules it loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    return out["code"], set(out["modules"])


def test_top_level_help_imports_no_subcommand() -> None:
    code, modules = _run_first(["--help"])
    assert code == 0
    loaded = {m for m in modules if m in {module for module, _ in COMMANDS.values()}}
    assert not loaded, f"`agentrt --help` imported {sorted(loaded)}"
    assert not {"aiohttp", "httpx", "rich", "redis"} & modules


def test_a_subcommand_imports_its_module_and_no_other() -> None:
    code, modules = _run_first(["mock-llm", "--help"])
    assert code == 0
    assert "agentrt.cli._mock_llm" in modules
    others = {module for name, (module, _) in COMMANDS.items() if name != "mock-llm"}
    assert not others & modules


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_subcommand_help_is_the_full_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: agentrt {name} [-h]")
    assert OWN_OPTION[name] in out


def test_the_lazy_listing_is_the_full_listing() -> None:
    # the placeholders' help lines are the ones the modules register
    assert build_parser(load=()).format_help() == build_parser().format_help()


def test_every_subcommand_is_covered_here() -> None:
    assert set(COMMANDS) == set(OWN_OPTION), "add the new subcommand to OWN_OPTION"


def test_errors_are_argparse_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        ([], "the following arguments are required: COMMAND"),
        (["nope"], "invalid choice: 'nope'"),
        (["--bogus", "top", "--url", "http://127.0.0.1:1"], "unrecognized arguments: --bogus"),
        (["top"], "one of the arguments --url --cluster is required"),
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert message in capsys.readouterr().err
