"""SIPp as citizens' phones and as desk phones, for the lab, the tests and the benchmark.

Scenarios are generated per use (digits to press, how long to stay, how a desk answers)
and every phone writes a log of what it saw, so a test can check what a person would:
the desk's screen (the INVITE's From: caller number and emergency type) and whether the
caller was answered.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from hotline.lab.ports import free_port, free_port_pair

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

# The 200 OK that answers the request just received (BYE, CANCEL), echoing its headers.
OK_ECHO = """SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
"""


def dtmf_pcap(digit: str) -> Path:
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    path = DTMF_PCAP_DIR / f"dtmf_2833_{name}.pcap"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: apt-get install sip-tester")
    return path


def citizen_scenario(caller: str, digits: str = "", first_digit_after_ms: int = 1500,
                     between_digits_ms: int = 1500, stay_ms: int = 30000) -> str:
    """A citizen calls, presses ``digits`` (RFC 4733) and stays on the line up to
    ``stay_ms`` after the last digit: hangs up then unless the line hangs up first."""
    press = []
    for i, d in enumerate(digits):
        press.append(f'  <pause milliseconds="{first_digit_after_ms if i == 0 else between_digits_ms}"/>')
        press.append(f'  <nop><action><exec play_pcap_audio="{dtmf_pcap(d)}"/></action></nop>')
        press.append(f'  <nop><action><log message="DTMF {escape(d)} at [clock_tick]"/></action></nop>')
    press_xml = "\n".join(press)
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="citizen {escape(caller)}">
  <send retrans="500">
    <![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{escape(caller)}" <sip:{escape(caller)}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{escape(caller)}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{SDP_OFFER}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true">
    <action><log message="ANSWERED at [clock_tick]"/></action>
  </recv>
  <send>
    <![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{escape(caller)}" <sip:{escape(caller)}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:{escape(caller)}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
{press_xml}
  <recv request="BYE" timeout="{stay_ms}" ontimeout="citizen_hangs_up">
    <action><log message="LINE HUNG UP at [clock_tick]"/></action>
  </recv>
  <send>
    <![CDATA[
{OK_ECHO}
    ]]>
  </send>
  <nop next="end"/>
  <label id="citizen_hangs_up"/>
  <nop><action><log message="CITIZEN HUNG UP at [clock_tick]"/></action></nop>
  <send retrans="500">
    <![CDATA[
BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{escape(caller)}" <sip:{escape(caller)}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200" timeout="5000"/>
  <label id="end"/>
</scenario>
"""


def desk_register_scenario(desk_id: str, expires_s: int = 120, *, auth: str = "[field0]",
                           user_agent: str = "hotline-lab-desk",
                           registered_log: str = "REGISTERED at [clock_tick]") -> str:
    """A desk phone's main scenario: REGISTER with digest auth (``auth``: the injection
    field holding ``[authentication …]``), then re-REGISTER before expiry for as long as the
    phone runs; incoming calls go to the out-of-call scenario. ``desk_id`` may itself be an
    injection field ("[field0]"): one SIPp then registers a desk per line (the bench's
    desk bank)."""
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
    first = register.replace("AUTH\n", "")
    with_auth = register.replace("AUTH", auth)
    refresh_ms = max(5, expires_s // 2) * 1000
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="desk {escape(desk_id)} registration">
  <label id="register"/>
  <send retrans="500"><![CDATA[{first}
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[{with_auth}
  ]]></send>
  <recv response="200">
    <action><log message="{registered_log}"/></action>
  </recv>
  <pause milliseconds="{refresh_ms}"/>
  <nop next="register"/>
</scenario>
"""


def _answering_scenario(name: str, invite_actions: str, user: str, log_tag: str,
                        answer_after_ms: int, talk_ms: int, answer: bool, reject: bool,
                        remote_hangup: str, own_hangup: str) -> str:
    """A phone that takes calls: the INVITE (``invite_actions`` log what it shows), 180,
    then answer (talk ``talk_ms``, hang up unless the other side does first), reject (486),
    or ring until cancelled. Its own tag and branch per call: out-of-call scenarios reuse
    [call_number], and Asterisk would take the next call's BYE for a retransmission."""
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
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[$dialog]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:{user}@[local_ip]:[local_port]>
Content-Length: 0

  ]]></send>
"""
    if reject:
        return _scenario(name, ring + f"""
  <pause milliseconds="{answer_after_ms}"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[$dialog]
[last_Call-ID:]
CSeq: [$invite_cseq] INVITE
Content-Length: 0

  ]]></send>
  <recv request="ACK">
    <action><log message="REJECTED{log_tag} at [clock_tick]"/></action>
  </recv>
""")
    if not answer:
        return _scenario(name, ring + f"""
  <recv request="CANCEL">
    <action><log message="CANCELLED{log_tag} at [clock_tick]"/></action>
  </recv>
  <send><![CDATA[
{OK_ECHO}
  ]]></send>
  <send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[$dialog]
[last_Call-ID:]
CSeq: [$invite_cseq] INVITE
Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
""")
    return _scenario(name, ring + f"""
  <pause milliseconds="{answer_after_ms}"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[$dialog]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:{user}@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

{SDP_OFFER}
  ]]></send>
  <recv request="ACK">
    <action><log message="ANSWERED{log_tag} at [clock_tick]"/></action>
  </recv>
  <recv request="BYE" timeout="{talk_ms}" ontimeout="own_hangup">
    <action><log message="{remote_hangup}{log_tag} at [clock_tick]"/></action>
  </recv>
  <send><![CDATA[
{OK_ECHO}
  ]]></send>
  <nop next="end"/>
  <label id="own_hangup"/>
  <send retrans="500"><![CDATA[
BYE [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[$dialog]-bye
From: <sip:{user}@[local_ip]:[local_port]>;tag=[$dialog]
To: [$from]
Call-ID: [call_id]
CSeq: 100 BYE
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="200" timeout="5000">
    <action><log message="{own_hangup}{log_tag} at [clock_tick]"/></action>
  </recv>
  <label id="end"/>
""")


def _scenario(name: str, body: str) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="{escape(name)}">
{body}
</scenario>
"""


def desk_incoming_scenario(answer_after_ms: int = 500, talk_ms: int = 2000, answer: bool = True,
                           reject: bool = False) -> str:
    """How a desk phone takes a call: ring, show the caller (logged: what the call-taker's
    screen shows), answer, talk, hang up. With ``answer=False`` the phone rings until
    Asterisk gives up (ring no-answer); with ``reject=True`` the call-taker presses "busy"
    while it rings (486)."""
    shows = ('      <log message="RINGING from=[$from] at [clock_tick] (contact [$contact], '
             'cseq [$invite_cseq], dialog [$dialog])"/>')
    return _answering_scenario("desk incoming call", shows, "desk", "", answer_after_ms, talk_ms,
                               answer, reject, remote_hangup="CALLER HUNG UP", own_hangup="DESK HUNG UP")


def desk_dial_scenario(desk_id: str) -> str:
    """A desk phone dials [service] (a feature code): INVITE, digest challenge, answer,
    listen to the tone, and the line hangs up."""
    invite = f"""
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{desk_id}@[remote_ip]>;tag=[pid]dial[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: CSEQ INVITE
Contact: <sip:{desk_id}@[local_ip]:[local_port]>
Max-Forwards: 70
AUTH
Content-Type: application/sdp
Content-Length: [len]

{SDP_OFFER}"""
    ack = f"""
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{desk_id}@[remote_ip]>;tag=[pid]dial[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: CSEQ ACK
Max-Forwards: 70
Content-Length: 0
"""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="desk {desk_id} dials a feature code">
  <send retrans="500"><![CDATA[{invite.replace("CSEQ", "1").replace("AUTH", "").replace(chr(10) + chr(10) + "Content-Type", chr(10) + "Content-Type")}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
  <send><![CDATA[{ack.replace("CSEQ", "1")}
  ]]></send>
  <send retrans="500"><![CDATA[{invite.replace("CSEQ", "2").replace("AUTH", "[field0]")}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200">
    <action><log message="ANSWERED at [clock_tick]"/></action>
  </recv>
  <send><![CDATA[{ack.replace("CSEQ", "2")}
  ]]></send>
  <recv request="BYE" timeout="10000">
    <action><log message="LINE HUNG UP at [clock_tick]"/></action>
  </recv>
  <send><![CDATA[
{OK_ECHO}
  ]]></send>
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


def _sipp_binary() -> str:
    path = shutil.which("sipp")
    if not path:
        raise FileNotFoundError("sipp missing: apt-get install sip-tester")
    return path


@dataclass
class SippRun:
    """One SIPp process and the log it writes."""

    name: str
    workdir: Path
    proc: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"

    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]

    def wait_for(self, pattern: str, timeout: float) -> re.Match | None:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            for line in self.log_lines():
                m = rx.search(line)
                if m:
                    return m
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)


def _start(run: SippRun, args: list[str]) -> SippRun:
    stdout = open(run.workdir / f"{run.name}.out", "wb")
    run.proc = subprocess.Popen(
        [_sipp_binary(), *args, "-trace_logs", "-log_file", str(run.log_path),
         "-trace_err", "-error_file", str(run.workdir / f"{run.name}.errors"), "-nostdin"],
        stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT, cwd=run.workdir,
    )
    return run


def place_call(target: str, number: str, caller: str, workdir: Path, digits: str = "",
               stay_ms: int = 30000, first_digit_after_ms: int = 1500, name: str | None = None,
               local_ip: str = "127.0.0.1") -> SippRun:
    """A citizen's phone: one call from ``caller`` to ``number`` at ``target`` (host:port)."""
    run = SippRun(name or f"citizen-{caller}", workdir)
    scenario = run.workdir / f"{run.name}.xml"
    scenario.write_text(citizen_scenario(caller, digits, first_digit_after_ms=first_digit_after_ms, stay_ms=stay_ms))
    return _start(run, [target, "-sf", str(scenario), "-s", number, "-m", "1", "-l", "1",
                        "-i", local_ip, "-p", str(free_port()), "-mp", str(free_port_pair()),
                        "-recv_timeout", str(stay_ms + 60000)])


def start_desk_phone(target: str, desk_id: str, password: str, workdir: Path,
                     answer_after_ms: int = 500, talk_ms: int = 2000, answer: bool = True,
                     reject: bool = False, local_ip: str = "127.0.0.1") -> SippRun:
    """A desk phone that registers as ``desk_id`` and takes every call the same way."""
    run = SippRun(f"desk-phone-{desk_id}", workdir)
    main = run.workdir / f"{run.name}-register.xml"
    incoming = run.workdir / f"{run.name}-incoming.xml"
    inject = run.workdir / f"{run.name}.csv"
    main.write_text(desk_register_scenario(desk_id))
    incoming.write_text(desk_incoming_scenario(answer_after_ms, talk_ms, answer, reject))
    inject.write_text(f"SEQUENTIAL\n[authentication username={desk_id} password={password}];\n")
    return _start(run, [target, "-sf", str(main), "-oocsf", str(incoming), "-inf", str(inject),
                        "-m", "1", "-l", "1", "-i", local_ip, "-p", str(free_port()),
                        "-mp", str(free_port_pair())])


def dial_from_desk(target: str, desk_id: str, password: str, number: str, workdir: Path,
                   local_ip: str = "127.0.0.1") -> SippRun:
    """The desk phone ``desk_id`` dials ``number`` once (a feature code such as *70)."""
    run = SippRun(f"desk-dial-{desk_id}-{number.replace('*', 'star')}", workdir)
    scenario = run.workdir / f"{run.name}.xml"
    inject = run.workdir / f"{run.name}.csv"
    scenario.write_text(desk_dial_scenario(desk_id))
    inject.write_text(f"SEQUENTIAL\n[authentication username={desk_id} password={password}];\n")
    return _start(run, [target, "-sf", str(scenario), "-inf", str(inject), "-s", number, "-m", "1", "-l", "1",
                        "-i", local_ip, "-p", str(free_port()), "-mp", str(free_port_pair()),
                        "-recv_timeout", "15000"])


def start_carrier(port: int, workdir: Path, answer: bool = True, answer_after_ms: int = 1000,
                  hold_ms: int = 2000, local_ip: str = "127.0.0.1", name: str = "carrier") -> SippRun:
    """The city's phone network at ``local_ip:port`` (the lab's ``carrier_port``): answers
    (or not) every call Asterisk places to a citizen; the log says which numbers were called
    (``INVITE number=<n>``)."""
    run = SippRun(name, workdir)
    scenario = run.workdir / f"{run.name}.xml"
    scenario.write_text(carrier_scenario(answer, answer_after_ms, hold_ms))
    return _start(run, ["-sf", str(scenario), "-i", local_ip, "-p", str(port),
                        "-mp", str(free_port_pair())])


def wait_registered(run: SippRun, timeout: float = 20) -> None:
    if not run.wait_for(r"REGISTERED", timeout):
        errors = (run.workdir / f"{run.name}.errors")
        detail = errors.read_text(errors="replace")[-1500:] if errors.exists() else ""
        raise RuntimeError(f"{run.name} did not register within {timeout:.0f} s\n{detail}")


def env_has_sipp() -> bool:
    return shutil.which("sipp") is not None and os.path.isdir(DTMF_PCAP_DIR)
