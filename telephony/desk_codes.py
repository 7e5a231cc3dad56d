"""Feature codes a call-taker dials on the desk phone to log in, get ready, pause or log out.

The dialplan (context hotline-desk) passes the desk's endpoint and the command to this
AGI route and plays a tone for the result: ok, refused (e.g. "pause" while logged out), or
error (the bridge or Redis could not be reached — the tone tells the call-taker to use the
console instead).
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from queueing.errors import RoutingRefused
from queueing.routing import AsyncRouting
from queueing.states import DeskState
from telephony.agi_server import AgiChannel

log = logging.getLogger("hotline.desk")

# code dialed → desk command; README lists them for call-takers.
FEATURE_CODES = {"*70": "ready", "*71": "pause", "*72": "logout", "*73": "login"}
# desk command → what desk_set_state is asked for
# "login" is not a state: desk_set_state takes it as the request offline → logged in (paused).
_TARGET = {"ready": DeskState.READY, "pause": DeskState.PAUSED, "logout": DeskState.OFFLINE, "login": "login"}
PAUSE_REASON = "paused from the desk phone"


class DeskFeatureCode:
    def __init__(self, routing: AsyncRouting, desk_ids: set[str]):
        self.routing = routing
        self.desk_ids = desk_ids

    async def __call__(self, agi: AgiChannel) -> None:
        desk_id = agi.env.variables.get("agi_arg_1", "")
        command = agi.env.variables.get("agi_arg_2", "")
        result = await self._apply(desk_id, command)
        await agi.set_variable("HOTLINE_DESK_RESULT", result)

    async def _apply(self, desk_id: str, command: str) -> str:
        if desk_id not in self.desk_ids:
            log.warning("feature code from unknown desk %r (command %r) refused", desk_id, command)
            return "refused"
        target = _TARGET.get(command)
        if target is None:
            log.warning("desk %s sent unknown command %r", desk_id, command)
            return "refused"
        try:
            change = await self.routing.set_desk_state(
                desk_id, target, reason=PAUSE_REASON if command == "pause" else "")
        except RoutingRefused as exc:
            log.info("desk %s: %s refused: %s", desk_id, command, exc)
            return "refused"
        except RedisError as exc:
            log.error("desk %s: %s failed, Redis unreachable: %s", desk_id, command, exc)
            return "error"
        log.info("desk %s (%s) by feature code: %s → %s", desk_id, change.agency, change.previous, change.state)
        return "ok"
