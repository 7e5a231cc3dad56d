"""A person's change to a desk of the city file (API, CLI): register the desk, then set its state."""

from __future__ import annotations

from config.settings import Desk
from queueing.results import DeskChange
from queueing.routing import Routing


def register_and_set_state(routing: Routing, desk: Desk, state: str, *, reason: str = "", set_by: str = "",
                           now_ms: int | None = None) -> DeskChange:
    """``state``: login, ready, paused or offline (``desk_set_state``); ``set_by``: who forced it, when not
    the desk's own call-taker (a supervisor). Returns the state change;
    :class:`~queueing.errors.RoutingRefused` when the desk's state forbids it.

    Registering first is idempotent and makes the desk if Redis has lost it (or no bridge
    registered it yet), so a call-taker is never refused for want of a bridge."""
    routing.register_desk(desk.id, desk.agency, cross_trained=desk.cross_trained, now_ms=now_ms)
    return routing.set_desk_state(desk.id, state, reason=reason, set_by=set_by, now_ms=now_ms)
