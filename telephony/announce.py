"""The periodic announcement to a caller waiting for a desk, driven by the bridge.

Every announce_interval_s the dialplan's waiting loop hands the caller to this AGI route:
"stay on the line", then the caller's place in line, then the expected wait once it means
something — in the language the caller chose in the menu. When a desk is claimed for the
caller meanwhile, the bridge's AMI Redirect cuts the announcement off at once (the AGI
session just ends). If the bridge is unreachable, the dialplan plays "stay on the line".
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from config.settings import MAX_ANNOUNCED_POSITION, MAX_ANNOUNCED_WAIT_MIN, CitySettings
from queueing.routing import AsyncRouting
from queueing.wait_estimate import expected_wait_minutes
from telephony.agi_server import AgiChannel
from telephony.ivr_call import prompt_path

log = logging.getLogger("hotline.announce")


class WaitAnnouncement:
    def __init__(self, city: CitySettings, routing: AsyncRouting):
        self.city = city
        self.routing = routing

    async def __call__(self, agi: AgiChannel) -> None:
        call_id = agi.env.variables.get("agi_arg_1") or agi.env.uniqueid
        with bound_contextvars(call_id=call_id):
            await self._announce(agi, call_id)

    async def _announce(self, agi: AgiChannel, call_id: str) -> None:
        language = agi.env.variables.get("agi_arg_2", "")
        if language not in self.city.hotline.languages:
            language = self.city.hotline.languages[0]
        prompts = self.city.prompts[language]
        keys = ["stay_on_line"]
        try:
            info = await self.routing.wait_info(call_id)
        except RedisError as exc:
            log.error("no place in line for %s (Redis unreachable: %s)", call_id, exc)
            info = None
        if info is not None:
            if prompts.position and info.position <= MAX_ANNOUNCED_POSITION:
                keys.append(f"position_{info.position}")
            minutes = expected_wait_minutes(info.position, info.handle_times_ms, info.desks_logged_in,
                                            MAX_ANNOUNCED_WAIT_MIN)
            if prompts.expected_wait and minutes is not None:
                keys.append(f"wait_{minutes}")
        log.info("announcement to call %s (%s): %s", call_id, language, ", ".join(keys))
        for key in keys:
            reply = await agi.send("STREAM FILE", prompt_path(language, key), "")
            if reply.hangup:
                return  # moved to a desk (Redirect) or gone: nothing more to say
