"""Recording a call from the moment a desk answers: AMI MixMonitor on the caller's channel.

The caller's channel is the one that stays for the whole call: a transfer or a conference
moves the caller (AMI Redirect, BridgeAdd) but never replaces that channel, while the desk's
channel goes with the desk (Asterisk issue #507: after a blind transfer only one side was
recorded when recording sat on the other channel). MixMonitor writes the mix and each direction
apart (queueing/recording_files.py); the files are named by the call id only. A recording that
cannot be started is logged and leaves no trace in the files: the check after the call then
finds it missing and says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

from queueing.errors import RoutingRefused
from queueing.recording_files import BadCallId, mixmonitor_options
from queueing.routing import AsyncRouting
from telephony.ami import AmiError, AmiLink

log = logging.getLogger("hotline.bridge.recorder")


class Recorder:
    def __init__(self, ami: AmiLink, routing: AsyncRouting, folder: str) -> None:
        """``folder``: ``[recording] dir``, as Asterisk sees it."""
        self.ami = ami
        self.routing = routing
        self.folder = folder

    async def start(self, call_id: str) -> bool:
        """Starts recording an answered call; False (logged) when it could not."""
        try:
            file, options = mixmonitor_options(self.folder, call_id)
        except BadCallId as exc:
            log.error("call %s is not recorded: %s", call_id, exc)
            return False
        channel = (await self.routing.call(call_id)).get("channel", "")
        if not channel:
            log.error("call %s is not recorded: its record has no caller channel", call_id)
            return False
        try:
            await self.routing.recording_start(call_id, Path(file).name)
        except RoutingRefused as exc:
            log.error("call %s is not recorded: %s", call_id, exc)
            return False
        try:
            await self.ami.action({"Action": "MixMonitor", "Channel": channel, "File": file, "Options": options})
        except AmiError as exc:
            log.error("could not start recording call %s on %s (%s); its check will find it missing",
                      call_id, channel, exc)
            return False
        log.info("recording call %s on %s into %s", call_id, channel, file)
        return True
