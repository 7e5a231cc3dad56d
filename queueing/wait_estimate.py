"""The expected wait announced to a waiting caller, as a pure function.

A caller at place ``n`` waits for ``n`` calls to be handled by the desks that can take
them. With the queue's recent desk time per call (talk + wrap-up) and the number of desks
logged in, the wait is about n × mean desk time ÷ desks. It is announced only when it
means something: enough recent calls to trust the mean, at least one desk logged in, and
at least a minute (a shorter wait is better said as "stay on the line").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_SAMPLES = 5
MIN_ANNOUNCED_S = 60


def expected_wait_minutes(position: int, handle_times_ms: Sequence[int], desks_logged_in: int,
                          max_minutes: int) -> int | None:
    """Whole minutes to announce (rounded up), or None when not meaningful or beyond
    ``max_minutes`` (no prompt says more)."""
    if position < 1 or desks_logged_in < 1 or len(handle_times_ms) < MIN_SAMPLES:
        return None
    mean_ms = sum(handle_times_ms) / len(handle_times_ms)
    wait_s = position * mean_ms / desks_logged_in / 1000
    if wait_s < MIN_ANNOUNCED_S:
        return None
    minutes = math.ceil(wait_s / 60)
    return minutes if minutes <= max_minutes else None
