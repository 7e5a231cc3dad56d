"""telephony.callback_dialer: one callback attempt over AMI against a scripted AMI server
(a real TCP socket speaking the AMI wire format), and the dialplan context it relies on."""

from __future__ import annotations

import socket
import threading

import pytest

from config.settings import load_settings
from queueing.callbacks import Outcome
from telephony.asterisk_config import AsteriskSite, render
from telephony.callback_dialer import RESULT_EVENT, dial_over_ami, outcome_of_dial_status
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)


def block(**fields) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()


class ScriptedAmi(threading.Thread):
    """Accepts one connection; answers each action with what ``respond(action)`` returns."""

    def __init__(self, respond):
        super().__init__(daemon=True)
        self.respond = respond
        self.actions: list[list[tuple[str, str]]] = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.start()

    def run(self):
        conn, _ = self.server.accept()
        with conn:
            conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
            buffer = b""
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n\r\n", 1)
                    pairs = [tuple(p.strip() for p in line.split(":", 1))
                             for line in raw.decode().split("\r\n")]
                    self.actions.append(pairs)
                    action = dict(pairs)
                    for reply in self.respond(action):
                        conn.sendall(reply)


def asterisk(desk: dict | None = None, result: dict | None = None, login_ok: bool = True):
    """An AMI that logs in, queues the Originate, then reports the desk leg and the result."""
    def respond(action):
        aid = action["ActionID"]
        if action["Action"] == "Login":
            yield block(Response="Success" if login_ok else "Error", ActionID=aid,
                        Message="Authentication accepted" if login_ok else "Authentication failed")
        elif action["Action"] == "Originate":
            yield block(Response="Success", ActionID=aid, Message="Originate successfully queued")
            yield block(Event="Newchannel", Channel="PJSIP/desk-101-00000001")  # noise
            if desk is not None:
                yield block(Event="OriginateResponse", ActionID=aid, **desk)
            yield block(Event="UserEvent", UserEvent=RESULT_EVENT, CallbackId="c-other", Status="ANSWER")
            if result is not None:
                yield block(Event="UserEvent", UserEvent=RESULT_EVENT, CallbackId="c-1", **result)
        elif action["Action"] == "Logoff":
            yield block(Response="Goodbye", ActionID=aid)
    return respond


def dial(port, **kw):
    options = dict(desk_id="desk-101", number="0912345678", callback_id="c-1", desk_ring_s=20,
                   citizen_ring_s=30)
    options.update(kw)
    return dial_over_ami("127.0.0.1", port, "hotline", "s3cret", **options)


def test_a_reached_citizen_and_what_was_sent():
    ami = ScriptedAmi(asterisk(desk={"Response": "Success", "Reason": "4"}, result={"Status": "ANSWER"}))
    assert dial(ami.port) is Outcome.REACHED

    login, originate = ami.actions[0], ami.actions[1]
    assert ("Username", "hotline") in login and ("Secret", "s3cret") in login
    assert ("Events", "call,user") in login
    fields = dict(originate)
    assert {k: fields[k] for k in ("Action", "Channel", "Context", "Exten", "Priority", "Timeout",
                                   "CallerID", "Async")} == {
        "Action": "Originate", "Channel": "PJSIP/desk-101", "Context": "hotline-callback",
        "Exten": "0912345678", "Priority": "1", "Timeout": "20000",
        "CallerID": '"CALLBACK" <0912345678>', "Async": "true"}
    assert [v for k, v in originate if k == "Variable"] == [
        "HOTLINE_CALLBACK_ID=c-1", "HOTLINE_CALLBACK_RING=30"]


@pytest.mark.parametrize(("status", "outcome"), [
    ("NOANSWER", Outcome.NO_ANSWER), ("BUSY", Outcome.BUSY), ("CANCEL", Outcome.CANCELLED),
    ("CHANUNAVAIL", Outcome.FAILED), ("CONGESTION", Outcome.FAILED),
])
def test_the_citizen_legs_status(status, outcome):
    ami = ScriptedAmi(asterisk(desk={"Response": "Success", "Reason": "4"}, result={"Status": status}))
    assert dial(ami.port) is outcome


def test_a_desk_that_does_not_answer_is_not_the_citizens_attempt():
    ami = ScriptedAmi(asterisk(desk={"Response": "Failure", "Reason": "3"}))
    assert dial(ami.port) is Outcome.DESK_UNAVAILABLE


def test_a_refused_login_is_a_system_error():
    ami = ScriptedAmi(asterisk(login_ok=False))
    assert dial(ami.port) is Outcome.SYSTEM_ERROR


def test_no_asterisk_is_a_system_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert dial(port) is Outcome.SYSTEM_ERROR


def test_silence_after_the_desk_answered_is_a_system_error():
    ami = ScriptedAmi(asterisk(desk={"Response": "Success", "Reason": "4"}, result=None))
    assert dial(ami.port, desk_ring_s=0, citizen_ring_s=0, margin_s=0.3) is Outcome.SYSTEM_ERROR


def test_a_line_break_in_a_value_never_reaches_ami():
    ami = ScriptedAmi(asterisk(desk={"Response": "Success"}, result={"Status": "ANSWER"}))
    assert dial(ami.port, number="0912\r\nAction: Hangup") is Outcome.SYSTEM_ERROR
    assert all(dict(a).get("Action") != "Hangup" for a in ami.actions)


def test_outcome_of_dial_status():
    assert outcome_of_dial_status(" answer ") is Outcome.REACHED
    assert outcome_of_dial_status("") is Outcome.FAILED


def test_the_dialplan_has_the_callback_context():
    site = AsteriskSite(ami_secret="x", desk_passwords={d.id: "pw" for d in CITY.desks})
    dialplan = render(CITY, site)["extensions.conf"]
    context = dialplan.split("[hotline-callback]", 1)[1].split("\n[", 1)[0]
    assert "exten => _[+0-9].,1," in context
    assert f'Set(CALLERID(all)="{CITY.hotline.number}" <{CITY.hotline.number}>)' in context
    # I: no connected-line re-INVITE to the desk's phone when the citizen's leg rings/answers.
    assert "Dial(PJSIP/${EXTEN}@citizens,${HOTLINE_CALLBACK_RING},IU(hotline-callback-answered^${HOTLINE_CALLBACK_ID}))" in context
    assert f"UserEvent({RESULT_EVENT},CallbackId: ${{HOTLINE_CALLBACK_ID}},Status: ${{DIALSTATUS}})" in context
    answered = dialplan.split("[hotline-callback-answered]", 1)[1]
    assert f"UserEvent({RESULT_EVENT},CallbackId: ${{ARG1}},Status: ANSWER)" in answered
    assert not RESULT_EVENT.startswith("Hotline")  # the bridge would take it for its own
