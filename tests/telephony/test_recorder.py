"""Recording a call (telephony/recorder.py): one MixMonitor per caller's channel, whoever answers it.
A caller answered again after a blind transfer, or put back at the head of a queue, is recorded
already: a second MixMonitor into the same files would truncate them under the first."""

from __future__ import annotations

import asyncio

import pytest

from telephony.ami import AmiError, ChannelGone
from telephony.recorder import MIXMONITOR_FILENAME, Recorder, recording_goes_on

FOLDER = "/var/spool/asterisk/monitor/hotline"
CALL_ID = "hotline-1795594136.0"
FILE = f"{FOLDER}/{CALL_ID}.wav"
RECORDING = {"recording": "recording", "recording_file": f"{CALL_ID}.wav"}


@pytest.mark.parametrize(("on_channel", "call", "goes_on"), [
    ("", {}, False),                                        # first answer: nothing on the channel yet
    (FILE, RECORDING, True),                                # answered again: MixMonitor still writes it
    (FILE, {}, True),                                       # Asterisk's word wins over the record's
    ("", RECORDING, False),                                 # the record says so, the channel does not: start
    (f"{FOLDER}/other.wav", RECORDING, False),              # another file on the channel: ours is not written
    (None, RECORDING, True),                                # Asterisk could not say: the record's word
    (None, {"recording": "ok", "recording_file": f"{CALL_ID}.wav"}, False),
    (None, {"recording": "recording", "recording_file": "other.wav"}, False),
    (None, {}, False),
])
def test_whether_the_recording_goes_on(on_channel, call, goes_on):
    assert recording_goes_on(on_channel, call, FILE) is goes_on


class FakeAmi:
    def __init__(self, on_channel: str | Exception):
        self.on_channel = on_channel
        self.sent: list[dict[str, str]] = []

    async def getvar(self, channel: str, variable: str) -> str:
        assert (channel, variable) == ("PJSIP/citizens-00000000", MIXMONITOR_FILENAME)
        if isinstance(self.on_channel, Exception):
            raise self.on_channel
        return self.on_channel

    async def action(self, fields: dict[str, str]) -> dict[str, str]:
        self.sent.append(fields)
        return {"Response": "Success"}


class FakeRouting:
    def __init__(self, call: dict[str, str]):
        self.record = {"call_id": CALL_ID, "channel": "PJSIP/citizens-00000000", "desk": "desk-201", **call}
        self.started: list[str] = []

    async def call(self, call_id: str) -> dict[str, str]:
        return self.record

    async def recording_start(self, call_id: str, file: str) -> dict[str, str]:
        self.started.append(file)
        return {}


@pytest.mark.parametrize(("on_channel", "call", "mixmonitors"), [
    ("", {}, 1),
    (FILE, RECORDING, 0),
    (AmiError("no reply"), RECORDING, 0),
    (AmiError("no reply"), {}, 1),
    (ChannelGone("no such channel"), {}, 0),
])
def test_a_second_answer_starts_no_second_mixmonitor(on_channel, call, mixmonitors):
    ami, routing = FakeAmi(on_channel), FakeRouting(call)
    recorder = Recorder(ami, routing, FOLDER)  # type: ignore[arg-type]
    started = asyncio.run(recorder.start(CALL_ID))
    assert started is not isinstance(on_channel, ChannelGone)
    assert [f["Action"] for f in ami.sent] == ["MixMonitor"] * mixmonitors
    # The record is written when a recording starts, never when one goes on (its start time stays).
    assert routing.started == [f"{CALL_ID}.wav"] * mixmonitors
