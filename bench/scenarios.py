"""SIPp scenarios of the benchmark: rate-driven citizens and one bank of desk phones.

Both sides log wall-clock times (``gettimeofday``: the same clock, since everything runs
on this machine) so a citizen's key press can be matched with the INVITE the desk got for
that citizen: the caller number, unique per call, is in the INVITE's From header.

Log lines, one event each (``s us`` = seconds and microseconds since the epoch):

* citizen: ``CALL <caller> s us`` (before its INVITE), ``ANSWERED <caller> s us``, ``DTMF <caller> <digit> s us`` (when the key's
  RTP starts), ``BYE <caller> s us`` (the line hung up), ``HANGUP <caller> s us`` (the
  citizen hung up after waiting its whole time);
* desk: ``INVITE <caller>@ s us``, ``TALK <caller>@ s us`` (the desk answered; the
  caller is taken from the From header up to its ``@``).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from hotline.lab.sipp_scenarios import (
    OK_ECHO,
    answerer_bye,
    citizen_call,
    desk_register_scenario,
    dtmf_pcap,
    response,
    send,
)

# The RFC 4733 pcaps of sip-tester send the key's end packet 140 ms after the first
# event packet; Asterisk acts on the end (it recognises the key when it is released).
DTMF_END_OFFSET_S = 0.140


def _stamp(event: str, who: str) -> str:
    return (f'<gettimeofday assign_to="s,us"/>'
            f'<log message="{event} {who} [$s] [$us]"/>')


def citizen_scenario(caller_prefix: str, press: str, first_key_after_ms: int, line_up_ms: int,
                     answer_within_ms: int = 8000, voice: Path | None = None, arrival_spread_ms: int = 0) -> str:
    """One citizen per call, caller number ``<caller_prefix><call number>``.

    ``press``: ``"field"`` presses the digit in field 0 of the injection file (1-4),
    ``"voice"`` speaks instead (plays the RTP pcap ``voice``, PCMU), ``""`` does nothing;
    either ``first_key_after_ms`` after the answer. After that the citizen stays up to
    ``line_up_ms`` for the line to hang up (BYE), then hangs up itself. ``arrival_spread_ms``:
    each call first waits a uniform 0 to this before its INVITE (0: none).
    """
    caller = f"{escape(caller_prefix)}[call_number]"
    if press == "field":
        digits = "1234"
        choose = "".join(f'<strcmp assign_to="c{d}" variable="digit" value="{d}"/>'
                         f'<test assign_to="is{d}" variable="c{d}" compare="equal" value="0"/>' for d in digits)
        branches = "\n".join(f'  <nop next="press{d}" test="is{d}"/>' for d in digits)
        keys = "\n".join(f"""  <label id="press{d}"/>
  <nop><action>{_stamp("DTMF", f"{caller} {d}")}<exec play_pcap_audio="{dtmf_pcap(d)}"/></action></nop>
  <nop next="pressed"/>""" for d in digits)
        pressing = f"""  <pause milliseconds="{first_key_after_ms}"/>
  <nop><action><assignstr assign_to="digit" value="[field0]"/>{choose}</action></nop>
{branches}
  <nop next="pressed"/>
{keys}
  <label id="pressed"/>"""
    elif press == "voice":
        if voice is None:
            raise ValueError("press='voice' needs the voice pcap")
        pressing = f"""  <pause milliseconds="{first_key_after_ms}"/>
  <nop><action>{_stamp("SPEAK", caller)}<exec play_pcap_audio="{escape(str(voice))}"/></action></nop>"""
    elif press == "":
        pressing = ""
    else:
        raise ValueError(f"press must be 'field', 'voice' or '', got {press!r}")
    xml = citizen_call("bench citizen", caller, pressing=pressing, stay_ms=line_up_ms,
                       on_call=_stamp("CALL", caller), on_answer=_stamp("ANSWERED", caller),
                       on_line_hangup=_stamp("BYE", caller), on_own_hangup=_stamp("HANGUP", caller),
                       answer_within_ms=answer_within_ms, bye_reply_ms=10000)
    if arrival_spread_ms:
        # SIPp starts calls evenly spaced; a uniform random wait before each INVITE shuffles
        # them into random arrivals (bunches and gaps), as a city's callers come.
        opening = '<scenario name="bench citizen">\n'
        if opening not in xml:
            raise ValueError("the citizen scenario's opening changed: no place for the arrival spread")
        xml = xml.replace(opening, f'{opening}  <pause distribution="uniform" min="0" max="{arrival_spread_ms}"/>\n', 1)
    return xml


def desk_bank_register_scenario(expires_s: int = 3600) -> str:
    """Main scenario of the desk bank: each "call" registers the desk of one line of the
    injection file (field 0: desk id, field 1: its [authentication …]) and then stays,
    refreshing well before expiry. A run never lasts as long as one registration."""
    return desk_register_scenario("[field0]", expires_s, auth="[field1]", user_agent="hotline-bench-desk",
                                  registered_log="REGISTERED [field0]")


def desk_bank_incoming_scenario(answer_min_ms: int, answer_max_ms: int, talk_ms: int) -> str:
    """Any desk of the bank taking a call: ring, answer after a uniform random delay,
    talk ``talk_ms``, hang up (or the caller hangs up first).

    Out-of-call scenarios all run as SIPp call number 0, so ``[branch]`` would be the
    same for every desk's BYE and Asterisk would take each new BYE for a retransmission
    of the first: the branch is made from the call's own Call-ID instead. When this
    process is slow to answer, Asterisk retransmits the INVITE, which SIPp does not
    recognise in an out-of-call scenario: it is answered again instead of aborting."""
    tag = "[pid]desk[call_number]"
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="desk bank incoming call">
  <recv request="INVITE">
    <action>
      <ereg regexp="[0-9]+@" search_in="hdr" header="From:" assign_to="caller"/>
      <ereg regexp="^.*$" search_in="hdr" header="From:" assign_to="from"/>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="contact"/>
      {_stamp("INVITE", "[$caller]")}
    </action>
  </recv>
{send(response("180 Ringing", tag, contact="desk"))}
  <pause distribution="uniform" min="{answer_min_ms}" max="{answer_max_ms}"/>
  <label id="answer"/>
{send(response("200 OK", tag, contact="desk", sdp=True), retrans=True)}
  <recv request="INVITE" optional="true" next="answer"/>
  <recv request="ACK">
    <action>{_stamp("TALK", "[$caller]")}</action>
  </recv>
  <recv request="BYE" timeout="{talk_ms}" ontimeout="desk_hangs_up"/>
{send(OK_ECHO)}
  <nop next="end"/>
  <label id="desk_hangs_up"/>
{send(answerer_bye("desk", tag, "z9hG4bK-bye-[call_id]"), retrans=True)}
  <recv response="200" timeout="10000"/>
  <label id="end"/>
</scenario>
"""
