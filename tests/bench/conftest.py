"""Benchmarks in quick mode run a subprocess for tens of seconds on an idle machine and
several times longer on a loaded one: they get the time a loaded machine needs (their
own subprocess bound, ``support.bench``, is 300 s). They assert shapes and counts, never
a timing figure."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == HERE:
            item.add_marker(pytest.mark.timeout(330))
