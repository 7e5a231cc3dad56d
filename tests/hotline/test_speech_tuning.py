"""hotline.lab.speech_tuning.decision_ms: the talking events of a recorded call replayed
through the bridge's detector, timers and all."""

from __future__ import annotations

import pytest

from hotline.lab.speech_tuning import CallEvents, decision_ms
from telephony.speech import SpeechRule

RULE = SpeechRule(to_human_ms=1500, silence_ms=500)
CAME = 1_000_000.0


def call(talk, ended_after=None):
    return CallEvents(came_ms=CAME, ended_ms=None if ended_after is None else CAME + ended_after,
                      talk=[(CAME + at, kind, duration) for at, kind, duration in talk])


@pytest.mark.parametrize(
    ("events", "decided"),
    [
        (call([(300, "Start", 0)]), 2300),                                     # talks on: the timer decides
        (call([(300, "Start", 0), (1200, "Stop", 400)]), None),                # a short sound
        (call([(300, "Start", 0), (1200, "Stop", 400), (1500, "Start", 0)]), 3500),  # then a longer talk
        (call([(300, "Start", 0)], ended_after=1800), None),                  # hung up before the timer
        (call([]), None),                                                      # never a sound
        (CallEvents(), None),                                                  # the call never seen
    ],
)
def test_decision(events, decided):
    assert decision_ms(RULE, events) == decided
