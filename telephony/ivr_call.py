"""Runs the IVR on one caller's AGI session: plays what ``ivr.menu`` decides, feeds back
what the caller pressed, and queues the caller in Redis.

Whatever goes wrong here (Redis down, a prompt missing, a bug) the caller is not lost:
the session ends without HOTLINE_ROUTE=queued and the dialplan rings desks through
Asterisk's own fallback queue.
"""

from __future__ import annotations

import json
import logging

from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from config.names import IvrMode
from config.settings import GENERAL_QUEUE, CitySettings
from ivr.early_keys import next_key
from ivr.menu import DigitPressed, Menu, NoInput, PlayMenu, RouteTo, Started, start, step
from queueing.errors import RoutingRefused
from queueing.routing import AsyncRouting
from queueing.states import CallState, RouteReason
from telephony.agi_protocol import AgiReply
from telephony.agi_server import AgiChannel, CallerHungUp

log = logging.getLogger("hotline.ivr")

ALL_KEYS = "0123456789*#"
# Asterisk's log of the caller's keys (StoreDTMF in [hotline-inbound]; ivr/early_keys.py).
KEY_LOG_VARIABLE = "HOTLINE_KEYS"
# What [hotline-wait] plays once before the hold music: "connecting you to an operator" for a
# caller who chose nothing. Played there, after queueing, it never delays a free desk's ring:
# the desk's Redirect cuts it short.
WAIT_PROMPT_VARIABLE = "HOTLINE_WAIT_PROMPT"


class TakenFromMenu(Exception):
    """The caller was queued while still in the menu (telephony/speech.py: it spoke)."""


def prompt_path(language: str, key: str) -> str:
    return f"hotline/{language}/{key}"


class CallerKeys:
    """The keys of one caller: what the AGI commands heard, checked against Asterisk's log,
    which also has the keys pressed while no command listened (ivr.early_keys.next_key)."""

    def __init__(self, agi: AgiChannel):
        self.agi = agi
        self.consumed = 0

    async def take(self, heard: str | None) -> str | None:
        reply = await self.agi.send("GET VARIABLE", KEY_LOG_VARIABLE)
        key, self.consumed = next_key(logged_keys(reply), self.consumed, heard)
        return key


def logged_keys(reply: AgiReply) -> str:
    """GET VARIABLE's answer: ``200 result=1 (91)``, or ``200 result=0`` when unset."""
    return reply.data if reply.ok and reply.result == "1" else ""


class IvrCall:
    def __init__(self, city: CitySettings, routing: AsyncRouting):
        self.city = city
        self.menu = Menu.from_settings(city)
        self.routing = routing

    async def __call__(self, agi: AgiChannel) -> None:
        env = agi.env
        call_id = env.variables.get("agi_arg_1") or env.uniqueid
        with bound_contextvars(call_id=call_id):
            arrived_ms = self.routing.clock()
            try:
                await self.routing.arrive(call_id, env.caller_number, env.channel,
                                          repeat_window_ms=self.city.numbers.repeat_window_s * 1000, now_ms=arrived_ms)
            except RedisError as exc:
                log.error("Redis unreachable at arrival of %s (%s): caller goes to the fallback queue", call_id, exc)
                return
            try:
                await self._converse(agi, call_id, arrived_ms)
            except (TakenFromMenu, RoutingRefused):
                if await self._in_menu(call_id):
                    # Refused and still in the menu: nobody would ring a desk for this caller, so
                    # the dialplan's fallback queue takes it rather than [hotline-wait].
                    await agi.set_variable("HOTLINE_ROUTE", "not-queued")
                    raise
                # Queued while in the menu (call_spoke: the caller spoke): to the wait, in place.
                await agi.set_variable(WAIT_PROMPT_VARIABLE, self._in_every_language("connecting_general"))
                await agi.set_variable("HOTLINE_ROUTE", "queued")
                log.info("call %s was queued while in the menu; the IVR lets it go", call_id)
            except CallerHungUp:
                # No longer in the menu: a desk's Redirect took the caller out of AGI, not a hang-up
                # (a real one is recorded by the dialplan's hang-up handler all the same).
                if await self._in_menu(call_id):
                    await self._record_hangup(call_id)
                raise

    async def _converse(self, agi: AgiChannel, call_id: str, arrived_ms: int) -> None:
        languages = self.city.hotline.languages
        language = languages[0]
        if self.city.ivr.mode is IvrMode.HUMAN_FIRST and await self._to_idle_desk(agi, call_id):
            return
        # The menu's steps as the call-taker's screen shows them: what the caller did, when, hearing which language.
        path: list[dict[str, str | int]] = []
        keys = CallerKeys(agi)
        state, action = step(self.menu, start(), Started())
        while isinstance(action, PlayMenu):
            digit, heard = await self._play_menu(agi, keys, action)
            if digit:
                language = heard
            result = RouteReason.NO_INPUT if not digit else (
                RouteReason.CHOSEN if digit in self.menu.options else RouteReason.INVALID)
            path.append({"key": digit or "", "result": result.value,
                         "at_ms": max(0, self.routing.clock() - arrived_ms), "language": heard})
            state, action = step(self.menu, state, DigitPressed(digit) if digit else NoInput())
        if not isinstance(action, RouteTo):  # only a hang-up leaves the menu otherwise
            raise CallerHungUp(agi.env.channel)

        if action.prompt:  # the caller chose nothing: [hotline-wait] says where they are going
            await agi.set_variable(WAIT_PROMPT_VARIABLE, self._in_every_language(action.prompt))
        label = "EMERGENCY" if action.queue == GENERAL_QUEUE else self.city.agency(action.queue).label
        await agi.set_variable("HOTLINE_LANG", language)
        await agi.set_variable("HOTLINE_LABEL", label)
        await agi.set_variable("HOTLINE_QUEUE", action.queue)
        # Everything the dialplan needs is set before the caller becomes claimable: once
        # queued, the AGI session ends at once, so a desk's Redirect finds the caller
        # leaving AGI() as seldom as possible.
        await agi.set_variable("HOTLINE_ROUTE", "queued")
        try:
            await self.routing.enqueue(
                call_id, queue=action.queue, priority=action.priority, choice=action.choice or "",
                route_reason=action.reason, language=language, ivr_path=json.dumps(path, separators=(",", ":")),
            )
        except RedisError as exc:
            log.error("Redis unreachable when queueing %s (%s): caller goes to the fallback queue", call_id, exc)
            # Not queued after all: a caller waiting in hotline-wait would wait for nobody.
            await agi.set_variable("HOTLINE_ROUTE", "not-queued")
            return
        log.info("call %s from %s → queue %s (priority %s, %s, digit %r, %s)", call_id,
                 agi.env.caller_number or "unknown", action.queue, action.priority, action.reason,
                 action.choice, language)

    async def _to_idle_desk(self, agi: AgiChannel, call_id: str) -> bool:
        """[ivr] mode human_first: a desk is idle and nobody waits, so the caller skips the
        menu and goes to that desk through the general queue (call_to_idle_desk decides both
        at once). False: every desk is busy or callers wait; the menu plays as usual."""
        # Set before the caller becomes claimable, as at the menu's end: a desk's Redirect
        # may come the moment the script returns.
        await agi.set_variable(WAIT_PROMPT_VARIABLE, self._in_every_language("connecting_general"))
        await agi.set_variable("HOTLINE_QUEUE", GENERAL_QUEUE)
        await agi.set_variable("HOTLINE_ROUTE", "queued")
        try:
            queued = await self.routing.to_idle_desk(call_id, self.city.ivr.general_priority,
                                                     [a.id for a in self.city.agencies])
        except RedisError as exc:
            log.error("Redis unreachable when looking for an idle desk for %s (%s): caller goes to the fallback queue",
                      call_id, exc)
            await agi.set_variable("HOTLINE_ROUTE", "not-queued")
            return True
        if queued is None:
            await agi.set_variable("HOTLINE_ROUTE", "")
            await agi.set_variable(WAIT_PROMPT_VARIABLE, "")
            return False
        log.info("call %s from %s → a desk is idle: general queue without the menu (%s)", call_id,
                 agi.env.caller_number or "unknown", RouteReason.DESK_FREE)
        return True

    def _in_every_language(self, key: str) -> str:
        """Playback()'s argument for one prompt in each language in turn."""
        return "&".join(prompt_path(lang, key) for lang in self.city.hotline.languages)

    async def _play_menu(self, agi: AgiChannel, keys: CallerKeys, action: PlayMenu) -> tuple[str | None, str]:
        """Notice and menu in each language in turn, any key interrupting; then wait.
        Returns the key and the language the caller was hearing when they pressed it.
        A key already pressed (before the answer's end, while the session connected, or
        after a key acted on) is acted on before any prompt plays."""
        languages = self.city.hotline.languages
        if digit := await keys.take(None):
            return digit, languages[0]
        for lang in languages:
            for key in ([action.notice] if action.notice else []) + ["menu"]:
                await self._still_in_menu(agi)
                digit = await keys.take(await self._play(agi, lang, key, escape=ALL_KEYS))
                if digit:
                    return digit, lang
        await self._still_in_menu(agi)
        reply = await agi.send("WAIT FOR DIGIT", int(self.city.ivr.no_input_timeout_s * 1000))
        if reply.hangup:
            raise CallerHungUp(agi.env.channel)
        return await keys.take(reply.digit), languages[-1]

    async def _play(self, agi: AgiChannel, language: str, key: str, escape: str) -> str | None:
        reply = await agi.send("STREAM FILE", prompt_path(language, key), escape)
        if reply.hangup:
            # Asterisk answers result=-1 both when the caller hung up and when the prompt
            # file is missing; only the channel's status tells them apart.
            status = await agi.send("CHANNEL STATUS")
            if status.hangup or not status.ok:
                raise CallerHungUp(agi.env.channel)
            log.error("prompt %s could not be played (%s); the menu goes on without it",
                      prompt_path(language, key), reply.line)
            return None
        return reply.digit

    async def _in_menu(self, call_id: str) -> bool:
        """Still in the ivr state; True as well when Redis cannot tell (the menu goes on)."""
        try:
            state = (await self.routing.call(call_id)).get("state", "")
        except RedisError:
            return True
        return state in ("", CallState.IVR)

    async def _still_in_menu(self, agi: AgiChannel) -> None:
        """Before each prompt: a caller queued meanwhile (call_spoke) leaves the menu."""
        call_id = agi.env.variables.get("agi_arg_1") or agi.env.uniqueid
        if not await self._in_menu(call_id):
            raise TakenFromMenu(call_id)

    async def _record_hangup(self, call_id: str) -> None:
        # Asterisk's hangup handler reports this too (over AMI); recording it here as well
        # keeps the record right when the AMI link is down. The script is idempotent.
        try:
            await self.routing.hangup(call_id, self.city.queueing.wrap_up_s * 1000)
        except RedisError as exc:
            log.error("could not record hang-up of %s in the IVR: %s", call_id, exc)
