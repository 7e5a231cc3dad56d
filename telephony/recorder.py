"""Recording a call from the moment a desk answers: AMI MixMonitor on the caller's channel.

The caller's channel is the one that stays for the whole call: a transfer or a conference
moves the caller (AMI Redirect, BridgeAdd) but never replaces that channel, while the desk's
channel goes with the desk (Asterisk issue #507: after a blind transfer only one side was
recorded when recording sat on the other channel). MixMonitor writes the mix and each direction
apart (queueing/recording_files.py); the files are named by the call id only. A recording that
cannot be started is logged and leaves no trace in the files: the check after the call then
finds it missing and says so.

A caller answered again on the same channel (a blind transfer, a consultation that put it back
at the head of a queue) is recorded already: that MixMonitor goes on into the same files, so the
recording is one, from the first answer to the end. A second one would open the same files
afresh (truncated) and write over the first from their start (:func:`recording_goes_on`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from queueing.errors import RoutingRefused
from queueing.recording_files import BadCallId, mixmonitor_options
from queueing.routing import AsyncRouting
from queueing.states import RecordingStatus
from telephony.ami import AmiError, AmiLink, ChannelGone

log = logging.getLogger("hotline.bridge.recorder")
#: Set on a channel by MixMonitor: the file it writes.
MIXMONITOR_FILENAME = "MIXMONITOR_FILENAME"


def recording_goes_on(on_channel: str | None, call: Mapping[str, str], file: str) -> bool:
    """The caller's channel is being recorded into ``file`` already (an earlier answer of the same
    call). ``on_channel``: the channel's MIXMONITOR_FILENAME as Asterisk said it; None when Asterisk
    could not say, and the call record's word is taken instead."""
    if on_channel is not None:
        return on_channel == file
    return call.get("recording") == RecordingStatus.RECORDING and call.get("recording_file") == Path(file).name


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
        call = await self.routing.call(call_id)
        channel = call.get("channel", "")
        if not channel:
            log.error("call %s is not recorded: its record has no caller channel", call_id)
            return False
        on_channel: str | None
        try:
            on_channel = await self.ami.getvar(channel, MIXMONITOR_FILENAME)
        except ChannelGone as exc:
            log.info("call %s is not recorded: the caller had left (%s)", call_id, exc)
            return False
        except AmiError as exc:
            log.warning("call %s: Asterisk did not say whether %s is recorded (%s)", call_id, channel, exc)
            on_channel = None
        if recording_goes_on(on_channel, call, file):
            log.info("call %s answered at %s: its recording on %s goes on into %s", call_id,
                     call.get("desk") or "a desk", channel, file)
            return True
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
