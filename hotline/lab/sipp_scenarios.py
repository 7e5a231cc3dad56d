"""SIPp scenario files for the lab's phones and the benchmark's: one place for the SIP
messages (a citizen's requests, a phone's responses and BYE, the SDP offer) and for the
shape of a citizen's call, so the two never drift apart.

Each message is its lines, each ending with a line break, with a blank line and the SDP
offer when it has a body; :func:`send` puts one in a ``<send>``.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

DTMF_PCAP_DIR = Path("/usr/share/sip-tester")

# What every lab phone offers: PCMU, and RFC 4733 events as payload 101 (what the DTMF
# pcaps of sip-tester send). Shared with the benchmark's SIPp scenarios.
SDP_OFFER = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""

# The static G.711 payload types a lab phone may play audio in (RFC 3551).
G711 = {0: "PCMU/8000", 8: "PCMA/8000"}


def sdp_offer(payload_type: int = 0) -> str:
    """The SDP of a phone that sends ``payload_type`` (0 PCMU, 8 PCMA: what its audio pcap
    carries) and RFC 4733 events; PCMU is :data:`SDP_OFFER` itself."""
    if payload_type == 0:
        return SDP_OFFER
    if payload_type not in G711:
        raise ValueError(f"payload type {payload_type} is not G.711 (0 or 8)")
    return (SDP_OFFER.replace("RTP/AVP 0 101", f"RTP/AVP {payload_type} 101")
            .replace("a=rtpmap:0 PCMU/8000", f"a=rtpmap:{payload_type} {G711[payload_type]}"))


def play_audio(pcap: Path, what: str) -> str:
    """The action playing ``pcap`` (RTP) on the call, logged as ``what``."""
    return (f'  <nop><action><exec play_pcap_audio="{escape(str(pcap))}"/></action></nop>\n'
            f'  <nop><action><log message="{escape(what)} at [clock_tick]"/></action></nop>')


def dtmf_pcap(digit: str) -> Path:
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    path = DTMF_PCAP_DIR / f"dtmf_2833_{name}.pcap"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: apt-get install sip-tester")
    return path


# --- messages ----------------------------------------------------------------------------------


def _message(lines: list[str], sdp: bool, offer: str = SDP_OFFER) -> str:
    if sdp:
        return "\n".join([*lines, "Content-Type: application/sdp", "Content-Length: [len]", "", offer])
    return "\n".join([*lines, "Content-Length: 0"]) + "\n"


def request(method: str, from_: str, cseq: int, *, contact: str | None = None, in_dialog: bool = False,
            auth: str | None = None, sdp: bool = False, offer: str = SDP_OFFER) -> str:
    """A request to [service] (INVITE, ACK, BYE); ``in_dialog``: To carries the peer's tag;
    ``auth``: the injection field holding ``[authentication …]``; ``offer``: the SDP with ``sdp``."""
    lines = [f"{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
             "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
             f"From: {from_}",
             "To: <sip:[service]@[remote_ip]:[remote_port]>" + ("[peer_tag_param]" if in_dialog else ""),
             "Call-ID: [call_id]",
             f"CSeq: {cseq} {method}"]
    if contact is not None:
        lines.append(f"Contact: <sip:{contact}@[local_ip]:[local_port]>")
    lines.append("Max-Forwards: 70")
    if auth is not None:
        lines.append(auth)
    return _message(lines, sdp, offer)


def response(status: str, tag: str | None = None, *, contact: str | None = None,
             cseq: str = "[last_CSeq:]", sdp: bool = False, offer: str = SDP_OFFER) -> str:
    """A response to the request just received, echoing its headers; ``tag``: ours on To."""
    lines = [f"SIP/2.0 {status}", "[last_Via:]", "[last_From:]",
             "[last_To:]" + (f";tag={tag}" if tag else ""), "[last_Call-ID:]", cseq]
    if contact is not None:
        lines.append(f"Contact: <sip:{contact}@[local_ip]:[local_port]>")
    return _message(lines, sdp, offer)


# The 200 OK that answers the request just received (BYE, CANCEL), echoing its headers.
OK_ECHO = response("200 OK")


def answerer_bye(user: str, tag: str, branch: str) -> str:
    """The BYE of a phone that answered (its INVITE's Contact in [$contact], From in [$from])."""
    return "\n".join([
        "BYE [$contact] SIP/2.0",
        f"Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}",
        f"From: <sip:{user}@[local_ip]:[local_port]>;tag={tag}",
        "To: [$from]", "Call-ID: [call_id]", "CSeq: 100 BYE", "Max-Forwards: 70", "Content-Length: 0"]) + "\n"


def send(message: str, *, retrans: bool = False, spread: bool = False) -> str:
    """``message`` in a ``<send>`` (``spread``: the CDATA on lines of its own)."""
    attrs = ' retrans="500"' if retrans else ""
    if spread:
        return f"  <send{attrs}>\n    <![CDATA[\n{message}\n    ]]>\n  </send>"
    return f"  <send{attrs}><![CDATA[\n{message}\n  ]]></send>"


def scenario(name: str, body: str) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="{escape(name)}">
{body}
</scenario>
"""


# --- citizens ----------------------------------------------------------------------------------


def citizen_call(name: str, caller: str, *, pressing: str, stay_ms: int, on_answer: str,
                 on_line_hangup: str, on_own_hangup: str, on_call: str = "",
                 answer_within_ms: int | None = None, bye_reply_ms: int = 5000, spread: bool = False,
                 offer: str = SDP_OFFER) -> str:
    """A citizen's call: INVITE, answered, ACK, then ``pressing`` (the keys), then up to
    ``stay_ms`` for the line to hang up (BYE) before hanging up itself. ``caller``: the
    number, XML-escaped (it may hold SIPp keywords); ``on_…``: the actions (logs) there;
    ``offer``: the INVITE's SDP."""
    from_ = f'"{caller}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]'
    within = f' timeout="{answer_within_ms}"' if answer_within_ms is not None else ""
    start = f"  <nop><action>{on_call}</action></nop>\n" if on_call else ""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="{name}">
{start}{send(request("INVITE", from_, 1, contact=caller, sdp=True, offer=offer), retrans=True, spread=spread)}
  <recv response="100" optional="true"{within}/>
  <recv response="180" optional="true"{within}/>
  <recv response="183" optional="true"{within}/>
  <recv response="200" rtd="true"{within}>
    <action>{on_answer}</action>
  </recv>
{send(request("ACK", from_, 1, contact=caller, in_dialog=True), spread=spread)}
{pressing}
  <recv request="BYE" timeout="{stay_ms}" ontimeout="citizen_hangs_up">
    <action>{on_line_hangup}</action>
  </recv>
{send(OK_ECHO, spread=spread)}
  <nop next="end"/>
  <label id="citizen_hangs_up"/>
  <nop><action>{on_own_hangup}</action></nop>
{send(request("BYE", from_, 2, in_dialog=True), retrans=True, spread=spread)}
  <recv response="200" timeout="{bye_reply_ms}"/>
  <label id="end"/>
</scenario>
"""


def citizen_scenario(caller: str, digits: str = "", first_digit_after_ms: int = 1500,
                     between_digits_ms: int = 1500, stay_ms: int = 30000, voice: Path | None = None,
                     voice_after_ms: int = 3000, voice_payload_type: int = 0, voice_first: bool = False) -> str:
    """A citizen calls, presses ``digits`` (RFC 4733) and stays on the line up to
    ``stay_ms`` after the last digit: hangs up then unless the line hangs up first.
    ``voice``: an RTP pcap (of ``voice_payload_type``, which the INVITE then offers) the
    citizen plays ``voice_after_ms`` after the last digit, i.e. once a desk has answered
    (counted in ``stay_ms``); none: the citizen sends no audio but its keys. ``voice_first``:
    the voice starts ``voice_after_ms`` after the answer instead, and the keys are pressed while it
    plays (a caller speaking in the menu, then pressing)."""
    press = []
    if voice is not None and voice_first:
        press.append(f'  <pause milliseconds="{voice_after_ms}"/>')
        press.append(play_audio(voice, "VOICE"))
    for i, d in enumerate(digits):
        wait_ms = first_digit_after_ms if i == 0 else between_digits_ms
        if wait_ms > 0:  # 0: the key right after the ACK, as a caller already pressing when answered
            press.append(f'  <pause milliseconds="{wait_ms}"/>')
        press.append(f'  <nop><action><exec play_pcap_audio="{dtmf_pcap(d)}"/></action></nop>')
        press.append(f'  <nop><action><log message="DTMF {escape(d)} at [clock_tick]"/></action></nop>')
    if voice is not None and not voice_first:
        press.append(f'  <pause milliseconds="{voice_after_ms}"/>')
        press.append(play_audio(voice, "VOICE"))
        stay_ms = max(stay_ms - voice_after_ms, 1)
    return citizen_call(f"citizen {escape(caller)}", escape(caller), pressing="\n".join(press), stay_ms=stay_ms,
                        on_answer='<log message="ANSWERED at [clock_tick]"/>',
                        on_line_hangup='<log message="LINE HUNG UP at [clock_tick]"/>',
                        on_own_hangup='<log message="CITIZEN HUNG UP at [clock_tick]"/>', spread=True,
                        offer=sdp_offer(voice_payload_type) if voice is not None else SDP_OFFER)


# --- desk phones -------------------------------------------------------------------------------


def desk_register_scenario(desk_id: str, expires_s: int = 120, *, auth: str = "[field0]",
                           user_agent: str = "hotline-lab-desk",
                           registered_log: str = "REGISTERED at [clock_tick]") -> str:
    """A desk phone's main scenario: REGISTER with digest auth (``auth``: the injection
    field holding ``[authentication …]``), then re-REGISTER before expiry for as long as the
    phone runs; incoming calls go to the out-of-call scenario. A second challenge to the
    answered one (Asterisk sent a new nonce: seen once in 400 registrations at 200/s) is
    answered again after half a second. ``desk_id`` may itself be an
    injection field ("[field0]"): one SIPp then registers a desk per line (the bench's
    desk bank)."""
    first, with_auth = _register_requests(desk_id, expires_s, auth, user_agent)
    refresh_ms = max(5, expires_s // 2) * 1000
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="desk {escape(desk_id)} registration">
  <label id="register"/>
  <send retrans="500"><![CDATA[{first}
  ]]></send>
  <recv response="401" auth="true"/>
  <label id="authenticate"/>
  <send retrans="500"><![CDATA[{with_auth}
  ]]></send>
  <recv response="401" auth="true" optional="true" next="challenged_again"/>
  <recv response="200">
    <action><log message="{registered_log}"/></action>
  </recv>
  <pause milliseconds="{refresh_ms}"/>
  <nop next="register"/>
  <label id="challenged_again"/>
  <pause milliseconds="500"/>
  <nop next="authenticate"/>
</scenario>
"""


def _register_requests(desk_id: str, expires_s: int, auth: str, user_agent: str) -> tuple[str, str]:
    """A desk phone's REGISTER (``Expires: expires_s``; 0 removes its contact): as first sent,
    and again with the answer to the digest challenge."""
    register = f"""
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{desk_id}@[remote_ip]>;tag=[pid]reg[call_number]
To: <sip:{desk_id}@[remote_ip]>
Call-ID: [call_id]
CSeq: [cseq] REGISTER
Contact: <sip:{desk_id}@[local_ip]:[local_port]>
Expires: {expires_s}
Max-Forwards: 70
User-Agent: {user_agent}
AUTH
Content-Length: 0
"""
    return register.replace("AUTH\n", ""), register.replace("AUTH", auth)


def desk_unregister_scenario(desk_id: str, user_agent: str = "hotline-lab-desk") -> str:
    """A desk phone taken off the line: it registers (remove_existing: its contact replaces any
    an earlier phone left for the desk), then sends REGISTER with Expires: 0, and exits. The
    desk is left with no contact at all: Asterisk cannot ring it (Dial: CHANUNAVAIL)."""
    steps = []
    for expires_s, logged in ((120, "REGISTERED"), (0, "UNREGISTERED")):
        first, with_auth = _register_requests(desk_id, expires_s, "[field0]", user_agent)
        steps.append(f"""  <send retrans="500"><![CDATA[{first}
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[{with_auth}
  ]]></send>
  <recv response="200">
    <action><log message="{logged} at [clock_tick]"/></action>
  </recv>""")
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="desk {escape(desk_id)} unregistration">
{chr(10).join(steps)}
</scenario>
"""


def _answering_scenario(name: str, invite_actions: str, user: str, log_tag: str,
                        answer_after_ms: int, talk_ms: int, answer: bool, reject: bool,
                        remote_hangup: str, own_hangup: str, audio: Path | None = None,
                        audio_payload_type: int = 0) -> str:
    """A phone that takes calls: the INVITE (``invite_actions`` log what it shows), 180,
    then answer (talk ``talk_ms``, hang up unless the other side does first), reject (486),
    or ring until cancelled; once answered it plays ``audio`` (an RTP pcap of
    ``audio_payload_type``, which its answer then offers) if any. Its own tag and branch per call: out-of-call scenarios reuse
    [call_number], and Asterisk would take the next call's BYE for a retransmission."""
    invite_cseq = "CSeq: [$invite_cseq] INVITE"
    offer = sdp_offer(audio_payload_type) if audio is not None else SDP_OFFER
    talk = play_audio(audio, f"AUDIO{log_tag}") + "\n" if audio is not None else ""
    ring = f"""
  <recv request="INVITE">
    <action>
      <ereg regexp="^.*$" search_in="hdr" header="From:" assign_to="from"/>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="contact"/>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>
      <assignstr assign_to="dialog" value="[pid]d[clock_tick]"/>
{invite_actions}
    </action>
  </recv>
{send(response("180 Ringing", "[$dialog]", contact=user))}
"""
    if reject:
        return scenario(name, ring + f"""
  <pause milliseconds="{answer_after_ms}"/>
{send(response("486 Busy Here", "[$dialog]", cseq=invite_cseq))}
  <recv request="ACK">
    <action><log message="REJECTED{log_tag} at [clock_tick]"/></action>
  </recv>
""")
    if not answer:
        return scenario(name, ring + f"""
  <recv request="CANCEL">
    <action><log message="CANCELLED{log_tag} at [clock_tick]"/></action>
  </recv>
{send(OK_ECHO)}
{send(response("487 Request Terminated", "[$dialog]", cseq=invite_cseq))}
  <recv request="ACK"/>
""")
    return scenario(name, ring + f"""
  <pause milliseconds="{answer_after_ms}"/>
{send(response("200 OK", "[$dialog]", contact=user, sdp=True, offer=offer), retrans=True)}
  <recv request="ACK">
    <action><log message="ANSWERED{log_tag} at [clock_tick]"/></action>
  </recv>
{talk}  <recv request="BYE" timeout="{talk_ms}" ontimeout="own_hangup">
    <action><log message="{remote_hangup}{log_tag} at [clock_tick]"/></action>
  </recv>
{send(OK_ECHO)}
  <nop next="end"/>
  <label id="own_hangup"/>
{send(answerer_bye(user, "[$dialog]", "z9hG4bK-[$dialog]-bye"), retrans=True)}
  <recv response="200" timeout="5000">
    <action><log message="{own_hangup}{log_tag} at [clock_tick]"/></action>
  </recv>
  <label id="end"/>
""")


def desk_incoming_scenario(answer_after_ms: int = 500, talk_ms: int = 2000, answer: bool = True,
                           reject: bool = False, audio: Path | None = None, audio_payload_type: int = 0) -> str:
    """How a desk phone takes a call: ring, show the caller (logged: what the call-taker's
    screen shows), answer, talk, hang up. With ``answer=False`` the phone rings until
    Asterisk gives up (ring no-answer); with ``reject=True`` the call-taker presses "busy"
    while it rings (486). ``audio``: an RTP pcap the call-taker "says" once answered."""
    shows = ('      <log message="RINGING from=[$from] at [clock_tick] (contact [$contact], '
             'cseq [$invite_cseq], dialog [$dialog])"/>')
    return _answering_scenario("desk incoming call", shows, "desk", "", answer_after_ms, talk_ms,
                               answer, reject, remote_hangup="CALLER HUNG UP", own_hangup="DESK HUNG UP",
                               audio=audio, audio_payload_type=audio_payload_type)


def desk_dial_scenario(desk_id: str) -> str:
    """A desk phone dials [service] (a feature code): INVITE, digest challenge, answer,
    listen to the tone, and the line hangs up."""
    from_ = f"<sip:{desk_id}@[remote_ip]>;tag=[pid]dial[call_number]"
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="desk {desk_id} dials a feature code">
{send(request("INVITE", from_, 1, contact=desk_id, sdp=True), retrans=True)}
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
{send(request("ACK", from_, 1, in_dialog=True))}
{send(request("INVITE", from_, 2, contact=desk_id, auth="[field0]", sdp=True), retrans=True)}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200">
    <action><log message="ANSWERED at [clock_tick]"/></action>
  </recv>
{send(request("ACK", from_, 2, in_dialog=True))}
  <recv request="BYE" timeout="10000">
    <action><log message="LINE HUNG UP at [clock_tick]"/></action>
  </recv>
{send(OK_ECHO)}
</scenario>
"""


def carrier_scenario(answer: bool = True, answer_after_ms: int = 1000, hold_ms: int = 2000) -> str:
    """The city's phone network for calls *to* citizens (a SIPp UAS on the citizens AOR's
    contact): every INVITE is logged with its Request-URI user (the number called) and its
    From; with ``answer`` the citizen picks up after ``answer_after_ms``, listens
    ``hold_ms`` and hangs up; without, the phone rings until Asterisk cancels."""
    shows = ('      <ereg regexp="^INVITE sip:([^@;>]+)@" search_in="msg" assign_to="ruri,number"/>\n'
             '      <log message="INVITE number=[$number] from=[$from] at [clock_tick] '
             '([$ruri] contact [$contact], cseq [$invite_cseq], dialog [$dialog])"/>')
    return _answering_scenario("carrier: citizens called back", shows, "[$number]", " number=[$number]",
                               answer_after_ms, hold_ms, answer, reject=False,
                               remote_hangup="LINE HUNG UP", own_hangup="CITIZEN HUNG UP")
