"""The bridge's AMI link (panoramisk): actions with deadlines, hotline events, reconnects.

Events missed while the link is down are gone, so every (re)login calls ``on_ready``,
where the bridge reconciles its Redis view with the channels Asterisk really has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from panoramisk import Manager

from telephony.ami_events import (
    DialplanEvent,
    LiveChannel,
    MalformedEvent,
    TalkEvent,
    event_identity,
    parse_channel_row,
    parse_device_state,
    parse_talking,
    parse_user_event,
)

log = logging.getLogger("hotline.ami")

ACTION_DEADLINE_S = 5.0


class AmiError(RuntimeError):
    """An AMI action failed: refused by Asterisk, no reply in time, or no link."""


class ChannelGone(AmiError):
    """Asterisk has no such channel: the caller hung up meanwhile."""


class AmiNoReply(AmiError):
    """The action was sent and no reply came in time: it may still take effect (a Redirect
    may still land), so its outcome is unknown, not failed."""


def refused(action: str, message: str) -> AmiError:
    """The typed error for an action Asterisk answered with Response: Error.

    Asterisk 22 words a missing channel "Channel does not exist: <name>" (Redirect) or
    "No such channel" (Getvar and others); tests/telephony/test_ami.py replays both."""
    text = f"AMI {action}: {message}"
    if "does not exist" in message or "no such channel" in message.lower():
        return ChannelGone(text)
    return AmiError(text)


class AmiLink:
    def __init__(self, host: str, port: int, username: str, secret: str,
                 on_event: Callable[[DialplanEvent, str], Awaitable[None]],
                 on_ready: Callable[[], Awaitable[None]], listen: bool = True):
        self._on_event = on_event
        self._on_ready = on_ready
        self.ready = asyncio.Event()
        # panoramisk logs every queued action at INFO (fields and all); ours says what matters.
        logging.getLogger("hotline.ami.panoramisk").setLevel(logging.WARNING)
        self.manager = Manager(
            host=host, port=port, username=username, secret=secret,
            ping_delay=5, ping_interval=5, reconnect_timeout=1,
            # Only the event classes the bridge listens to (UserEvent: user,
            # DeviceStateChange: call). The others, above all "dialplan" (Newexten and
            # VarSet for every step of every channel: ~6 a second for each waiting caller),
            # were ~5 times the traffic, parsed only to be dropped, and AMI replies such as
            # a Redirect's queued up behind them (see BENCHMARKS.md). Replies and action
            # lists (CoreShowChannels) come whatever the mask. A one-shot look (hotline
            # drift) takes no events: it applies none. "class": TALK_DETECT's talking events
            # (telephony/speech.py), raised only for callers in the menu.
            events="system,call,user,class" if listen else "off",
            on_login=self._logged_in, on_disconnect=self._disconnected,
            log=logging.getLogger("hotline.ami.panoramisk"),
        )
        self.manager.register_event("UserEvent", self._user_event)
        self.manager.register_event("DeviceStateChange", self._device_state)
        self.manager.register_event("ChannelTalkingStart", self._talking)
        self.manager.register_event("ChannelTalkingStop", self._talking)
        # Where talking events go (telephony/speech.py); None: the speech detector is off.
        self.on_talk: Callable[[TalkEvent], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Events of one call must be applied in the order Asterisk sent them (a ring that
        # ended before the hang-up), so one consumer applies them one by one.
        self._events: asyncio.Queue[tuple[DialplanEvent, str]] = asyncio.Queue()

    async def start(self) -> None:
        self.manager.loop = asyncio.get_running_loop()
        self._spawn(self._apply_events())
        self.manager.connect()

    def close(self) -> None:
        self.ready.clear()
        self.manager.close()
        for task in list(self._tasks):
            task.cancel()

    async def _apply_events(self) -> None:
        while True:
            event, identity = await self._events.get()
            try:
                await self._on_event(event, identity)
            except Exception:
                log.exception("applying %s failed", event)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _logged_in(self, manager: Manager) -> None:
        log.info("AMI logged in")
        self.ready.set()
        self._spawn(self._on_ready())

    def _disconnected(self, manager: Manager, exc: BaseException | None) -> None:
        log.warning("AMI link lost (%s); reconnecting", exc)
        self.ready.clear()

    def _user_event(self, manager: Manager, message: Mapping[str, str]) -> None:
        try:
            event = parse_user_event(message)
        except MalformedEvent as exc:
            log.error("ignored a malformed hotline event: %s (%r)", exc, dict(message))
            return
        if event is not None:
            self._events.put_nowait((event, event_identity(message)))

    def _device_state(self, manager: Manager, message: Mapping[str, str]) -> None:
        event = parse_device_state(message)
        if event is not None:  # idempotent: every bridge may apply it
            self._events.put_nowait((event, ""))

    def _talking(self, manager: Manager, message: Mapping[str, str]) -> None:
        event = parse_talking(message)
        if event is not None and self.on_talk is not None:  # every bridge watches: call_spoke acts once
            self.on_talk(event)

    async def action(self, fields: dict[str, str], timeout: float = ACTION_DEADLINE_S) -> Any:
        """The reply: a panoramisk Message, or a list of them for an action list."""
        if not self.ready.is_set() or self.manager.protocol is None:
            raise AmiError(f"AMI not connected; cannot {fields.get('Action')}")
        try:
            reply = await asyncio.wait_for(self.manager.send_action(dict(fields)), timeout)
        except TimeoutError:
            raise AmiNoReply(f"AMI {fields.get('Action')} got no reply within {timeout:.0f} s") from None
        first = reply[0] if isinstance(reply, list) else reply
        if str(first.get("Response", "")).lower() == "error":
            raise refused(str(fields.get("Action")), str(first.get("Message")))
        return reply

    async def redirect(self, channel: str, context: str, exten: str) -> None:
        await self.action({"Action": "Redirect", "Channel": channel, "Context": context,
                           "Exten": exten, "Priority": "1"})

    async def put_heartbeat(self, epoch_s: int) -> None:
        await self.action({"Action": "DBPut", "Family": "hotline", "Key": "heartbeat", "Val": str(epoch_s)})

    async def getvar(self, channel: str, variable: str) -> str:
        """A channel's variable, or with no channel a global one or a function such as
        DEVICE_STATE(PJSIP/desk-101)."""
        fields = {"Action": "Getvar", "Variable": variable}
        if channel:
            fields["Channel"] = channel
        reply = await self.action(fields)
        return str(reply.get("Value") or "")

    async def channels(self) -> list[LiveChannel]:
        reply = await self.action({"Action": "CoreShowChannels"}, timeout=15)
        rows = reply if isinstance(reply, list) else [reply]
        return [parse_channel_row(m) for m in rows if str(m.get("Event", "")) == "CoreShowChannel"]
