"""A call-taker's say over its desk's wrap-up: end it now, or extend it once (``desk_wrap_up``).

:func:`next_wrap_up` is the rule as a pure function (tests/queueing/test_wrap_up.py holds the
Lua script to it); :class:`WrapUps` runs the script. Ending makes the desk ready at the back of
the idle order, as a wrap-up that runs out does; extending moves the end later by the city
file's ``wrap_up_extend_s`` and is refused the second time in one wrap-up.
"""

from __future__ import annotations

from queueing.desk_states import DeskRefused
from queueing.routing import Routing, _fields
from queueing.states import DeskState, WrapUpAction


def next_wrap_up(state: DeskState | str, action: WrapUpAction | str, *, extended: bool) -> DeskState:
    """The desk's state after ``action``; DeskRefused says why not. ``extended``: this wrap-up was already."""
    if state != DeskState.WRAP_UP:
        raise DeskRefused(f"{state}, not in wrap-up")
    if action == WrapUpAction.END:
        return DeskState.READY
    if action == WrapUpAction.EXTEND:
        if extended:
            raise DeskRefused("the wrap-up was already extended once")
        return DeskState.WRAP_UP
    raise DeskRefused(f"unknown wrap-up action {action!r}; allowed: {', '.join(WrapUpAction)}")


class WrapUps(Routing):
    def change(self, desk_id: str, action: WrapUpAction | str, extend_ms: int, *,
               now_ms: int | None = None) -> dict[str, str]:
        """Ends or extends the desk's wrap-up; returns ``desk_id, agency, state, previous, wrap_up_until_ms``.
        RoutingRefused (the script's reason) when the desk is not in wrap-up or was extended already."""
        return self._execute(self._script("desk_wrap_up", now_ms, desk_id, str(action), extend_ms, parse=_fields))
