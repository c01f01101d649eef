"""Restart intensity defaults have one home (``supervisors._spec``)."""

from __future__ import annotations

import inspect

from supervisors import ChildSpec, DynamicSupervisor, Supervisor
from supervisors._spec import MAX_RESTARTS, MAX_SECONDS


def test_every_supervisor_entry_point_takes_the_one_default() -> None:
    assert (MAX_RESTARTS, MAX_SECONDS) == (3, 5.0)  # Elixir's defaults
    for fn in (
        Supervisor.start,
        DynamicSupervisor.start,
        ChildSpec.supervisor,
        ChildSpec.dynamic_supervisor,
    ):
        params = inspect.signature(fn).parameters
        assert params["max_restarts"].default == MAX_RESTARTS, fn
        assert params["max_seconds"].default == MAX_SECONDS, fn
