"""Fixtures for ``agentrt serve`` (helpers in ``support.serving``)."""

from __future__ import annotations

import pytest
from support.serving import GATE, Gate, Serving, make_serving


@pytest.fixture
def gate() -> Gate:
    GATE.append(Gate())
    return GATE[-1]


@pytest.fixture
def serving() -> Serving:
    return make_serving()
