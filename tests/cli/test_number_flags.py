"""Every numeric flag refuses NaN, infinities, negative and absurd values at parse time
(exit 2 with the rule), through the one bounded-number type (agentrt.bounds)."""

from __future__ import annotations

import pytest

from agentrt.cli import build_parser

CASES = [
    ["top", "--url", "http://127.0.0.1:1", "--timeout", "nan"],
    ["top", "--url", "http://127.0.0.1:1", "--interval", "inf"],
    ["top", "--url", "http://127.0.0.1:1", "--limit", "0"],
    ["mock-llm", "--port", "-1"],
    ["mock-llm", "--port", "70000"],
    ["mock-llm", "--max-inflight", "0"],
    ["mock-llm", "--latency-ms", "nan"],
    ["mock-llm", "--error-rate-503", "1.5"],
    ["mock-llm", "--embedding-dim", "0"],
    ["demo", "--think-ms", "nan"],
    ["demo", "--llm-latency-ms", "inf"],
    ["demo", "--agents", "100000000000"],
    ["loadtest", "run", "smoke", "--agents", "-3"],
    ["loadtest", "validate", "smoke", "--turns", "0"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c[:1] + c[-2:]) for c in CASES])
def test_bad_numbers_exit_2_with_the_rule(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "must be" in err or "expected" in err


def test_good_numbers_pass() -> None:
    args = build_parser().parse_args(["mock-llm", "--port", "0", "--max-inflight", "4"])
    assert (args.port, args.max_inflight) == (0, 4)
    assert build_parser().parse_args(["mock-llm"]).max_inflight is None  # no limit
