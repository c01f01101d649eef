"""A clock a test moves by hand, for code that takes ``clock=`` (default ``time.monotonic``)."""

from __future__ import annotations


class FakeClock:
    """Returns ``now`` when called; ``advance(seconds)`` moves it forward. Starts at 1000 s
    so that "0" is never mistaken for "never"."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
