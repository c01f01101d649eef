"""OTP supervision trees for agentrt actors."""

from __future__ import annotations

__all__: list[str] = []
