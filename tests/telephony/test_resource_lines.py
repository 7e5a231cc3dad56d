"""Asterisk's log lines that say it ran out of something (telephony.resource_lines, pure).

Every line here is one Asterisk 22 wrote on the lab: a 10-port RTP range with 12 callers and one
ready desk, maxcalls 3 with 6 callers, maxfiles 180 with 30 callers."""

from __future__ import annotations

import pytest

from queueing.states import RefusedParty, Resource
from telephony.resource_lines import LogLine, ShortageReader, Tally, read_line

RTP_OUT = ("[2026-12-02 21:36:06.246] ERROR[16302] res_rtp_asterisk.c: Oh dear... we couldn't allocate a port for "
           "RTP instance '0x7f1e980d4fc0'")
CANCEL = ("[2026-12-02 21:36:06.248] WARNING[16302] res_rtp_asterisk.c: Unable to cancel schedule ID 0.  This is "
          "probably a bug (res_rtp_asterisk.c: dtls_srtp_stop_timeout_timer, line 3009).")
NO_INSTANCE = ("[2026-12-02 21:36:06.248] ERROR[16302] res_pjsip_sdp_rtp.c: Unable to create RTP instance using RTP "
               "engine 'asterisk'")
CALLER_REFUSED = ("[2026-12-02 21:36:06.248] ERROR[16302] res_pjsip_session.c:  citizens: Couldn't negotiate stream "
                  "0:audio-0:audio:sendrecv (nothing)")
DESK_UNRUNG = ("[2026-12-02 21:36:07.397] ERROR[16302] res_pjsip_session.c:  PJSIP/desk-101-00000005: Couldn't add "
               "sdp streams for stream 0:audio-0:audio:sendrecv (ulaw|alaw)")
DIAL_FAILED = ("[2026-12-02 21:36:07.398] WARNING[16565][C-00000001] chan_pjsip.c: Error attempting to place "
               "outbound call to 'desk-101'")
CALL_LIMIT = ("[2026-12-02 21:37:30.151] WARNING[24770] pbx.c: Maximum call limit of 3 calls exceeded by "
              "'PJSIP/citizens-00000003'!")
PBX_NOT_STARTED = "[2026-12-02 21:37:30.151] WARNING[24770] chan_pjsip.c: Failed to start PBX (call limit reached) "
EVENTFD = ("[2026-12-02 21:38:05.774] WARNING[29663] alertpipe.c: Failed to create alert pipe with eventfd(), falling "
           "back to pipe(): Too many open files")
PIPE = "[2026-12-02 21:38:05.774] WARNING[29663] alertpipe.c: Failed to create alert pipe: Too many open files"
TIMERFD = "[2026-12-02 21:38:05.774] ERROR[29663] res_timing_timerfd.c: Failed to create timerfd timer: Too many open files"
NO_CHANNEL = ("[2026-12-02 21:38:05.775] ERROR[29663] chan_pjsip.c:  citizens: Failed to allocate new PJSIP channel "
              "on incoming SIP INVITE")
AGI_REFUSED = ("[2026-12-02 21:38:07.216] WARNING[30270][C-0000001c] res_agi.c: Connecting to '127.0.0.1:60965' "
               "failed for url 'agi://127.0.0.1:60965/ivr': Connection refused")
VERBOSE = "[2026-12-02 21:36:06.100] VERBOSE[16302] pbx.c: Executing [112@hotline-inbound:1] Answer(\"PJSIP/x\", \"\")"
NOTICE_RTP = ("[2026-12-02 21:36:06.100] NOTICE[16302] res_rtp_asterisk.c: Oh dear... we couldn't allocate a port "
              "for RTP instance '0x1'")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (RTP_OUT, LogLine("16302", Resource.RTP_PORTS)),
        (CALLER_REFUSED, LogLine("16302", party=RefusedParty.CALLER)),
        (DESK_UNRUNG, LogLine("16302", party=RefusedParty.DESK, desk="desk-101")),
        (CALL_LIMIT, LogLine("24770", Resource.CHANNELS, RefusedParty.CALLER, "PJSIP/citizens-00000003")),
        (EVENTFD, LogLine("29663", Resource.FILE_DESCRIPTORS)),
        (PIPE, LogLine("29663", Resource.FILE_DESCRIPTORS)),
        (TIMERFD, LogLine("29663", Resource.FILE_DESCRIPTORS)),
        (NO_CHANNEL, LogLine("29663", party=RefusedParty.CALLER)),
        # warnings that name no shortage and no refusal: their thread only
        (CANCEL, LogLine("16302")),
        (NO_INSTANCE, LogLine("16302")),
        (DIAL_FAILED, LogLine("16565")),
        (PBX_NOT_STARTED, LogLine("24770")),
        (AGI_REFUSED, LogLine("30270")),
        # not a warning or an error: nothing (the file holds only those; messages.log would not)
        (VERBOSE, None),
        (NOTICE_RTP, None),
        ("", None),
        ("Asterisk 22.10.1+dfsg+~cs6.17.60671434-1 built by nobody @ buildd.debian.org", None),
    ],
)
def test_a_line_says_what_ran_out_or_who_was_refused(line, expected):
    assert read_line(line) == expected


def tally(lines: list[str]) -> dict[Resource, Tally]:
    return ShortageReader().read(lines)


def test_rtp_ports_each_refused_caller_and_unrung_desk():
    caller = [RTP_OUT, CANCEL, NO_INSTANCE, CALLER_REFUSED]
    desk = [RTP_OUT, CANCEL, NO_INSTANCE, DESK_UNRUNG, DIAL_FAILED]
    got = tally(caller * 7 + desk * 3 + [DESK_UNRUNG.replace("desk-101", "desk-102")])
    assert set(got) == {Resource.RTP_PORTS}
    rtp = got[Resource.RTP_PORTS]
    # the last desk line had no shortage of its own before it: not counted
    assert (rtp.shortages, rtp.callers_refused, rtp.desks_unrung, rtp.desks) == (10, 7, 3, ["desk-101"])
    assert rtp.line == RTP_OUT


def test_the_call_limit_is_a_refused_caller_in_one_line():
    got = tally([CALL_LIMIT, PBX_NOT_STARTED] * 3)
    assert got[Resource.CHANNELS].to_json() == {"shortages": 3, "callers_refused": 3, "desks_unrung": 0,
                                                "desks": [], "line": CALL_LIMIT}


def test_one_failure_told_in_several_open_file_lines_is_one():
    got = tally([EVENTFD, PIPE, TIMERFD, NO_CHANNEL, AGI_REFUSED, EVENTFD, PIPE, NO_CHANNEL])
    assert (got[Resource.FILE_DESCRIPTORS].shortages, got[Resource.FILE_DESCRIPTORS].callers_refused) == (2, 2)
    # another line of the thread between two ends the run: two failures
    got = tally([TIMERFD, CANCEL.replace("16302", "29663"), TIMERFD])
    assert got[Resource.FILE_DESCRIPTORS].shortages == 2


def test_a_refusal_without_a_shortage_in_its_thread_is_not_counted():
    # a stream that cannot be negotiated for want of a common codec is no shortage
    assert tally([CALLER_REFUSED, DESK_UNRUNG, NO_CHANNEL]) == {}
    # a shortage in another thread does not explain it either
    assert tally([RTP_OUT.replace("16302", "111"), CALLER_REFUSED])[Resource.RTP_PORTS].callers_refused == 0


def test_a_shortage_explains_one_refusal_only():
    got = tally([RTP_OUT, CALLER_REFUSED, CALLER_REFUSED])
    assert (got[Resource.RTP_PORTS].shortages, got[Resource.RTP_PORTS].callers_refused) == (1, 1)


def test_the_reader_goes_on_across_reads_and_forgets_when_told():
    reader = ShortageReader()
    first = reader.read([RTP_OUT, CANCEL])
    second = reader.read([CALLER_REFUSED])
    assert first[Resource.RTP_PORTS].shortages == 1 and second[Resource.RTP_PORTS].callers_refused == 1
    reader.read([RTP_OUT])
    reader.forget()
    assert reader.read([CALLER_REFUSED]) == {}
