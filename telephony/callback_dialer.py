"""Calls a citizen back over AMI: the desk's phone first, then the citizen.

Used by the rq job ``dial_callback`` (queueing/jobs.py), which is synchronous: so this is a
small blocking AMI client on a plain socket, not the bridge's panoramisk link.

One attempt:

1. Login (events ``call,user`` only), then ``Originate`` with ``Async: true``:
   ``Channel: PJSIP/<desk>``, ``Context: hotline-callback``, ``Exten: <number>``, the desk
   ringing ``desk_ring_s`` with caller id ``"CALLBACK" <number>``.
2. ``OriginateResponse`` (same ActionID): ``Success`` once the call-taker picks up; anything
   else → ``desk_unavailable`` (not counted against the citizen).
3. The dialplan (``[hotline-callback]`` in asterisk_conf/extensions.conf.tmpl) dials the
   citizen and raises ``UserEvent CitizenCallbackResult`` with ``CallbackId`` and
   ``Status``: ANSWER → reached, NOANSWER → no_answer, BUSY → busy, CANCEL (the desk hung
   up first) → cancelled, anything else → failed.

No reply in time, a refused login or a dead socket → ``system_error``.
"""

from __future__ import annotations

import itertools
import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence

from queueing.callbacks import Outcome

log = logging.getLogger("hotline.callbacks.dialer")

CALLBACK_CONTEXT = "hotline-callback"
# Not "Hotline…": the bridge takes every Hotline* UserEvent for one of its own.
RESULT_EVENT = "CitizenCallbackResult"
_STATUS = {"ANSWER": Outcome.REACHED, "NOANSWER": Outcome.NO_ANSWER, "BUSY": Outcome.BUSY,
           "CANCEL": Outcome.CANCELLED}


class AmiSyncError(RuntimeError):
    pass


def outcome_of_dial_status(status: str) -> Outcome:
    """The citizen leg's DIALSTATUS as an attempt outcome."""
    return _STATUS.get(status.strip().upper(), Outcome.FAILED)


def _clean(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI header value with a line break: {value!r}")
    return value


class AmiSession:
    """A blocking AMI connection: send actions, read replies and events until a deadline."""

    _ids = itertools.count(1)

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        self.backlog: list[dict[str, str]] = []
        banner = self._read_line(time.monotonic() + timeout)
        if not banner.startswith("Asterisk Call Manager"):
            raise AmiSyncError(f"not an AMI server at {host}:{port}: {banner[:80]!r}")

    def __enter__(self) -> AmiSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send({"Action": "Logoff"})
        except OSError:
            pass
        self.sock.close()

    # -- wire ------------------------------------------------------------------------------

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        if not chunk:
            raise AmiSyncError("AMI closed the connection")
        self._buffer += chunk
        return True

    def _read_line(self, deadline: float) -> str:
        while b"\r\n" not in self._buffer:
            if not self._fill(deadline):
                raise AmiSyncError("AMI sent no banner in time")
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_message(self, deadline: float) -> dict[str, str] | None:
        """The next message (reply or event), or None at the deadline."""
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill(deadline):
                return None
        block, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        message: dict[str, str] = {}
        for line in block.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                message.setdefault(key.strip(), value.strip())
        return message

    def send(self, fields: Mapping[str, str | Sequence[str]]) -> str:
        action_id = f"hotline-cb-{next(self._ids)}"
        lines = []
        for key, value in {**fields, "ActionID": action_id}.items():
            for item in ([value] if isinstance(value, str) else value):
                lines.append(f"{key}: {_clean(str(item))}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return action_id

    def request(self, fields: Mapping[str, str | Sequence[str]], timeout: float = 5.0) -> tuple[str, dict[str, str]]:
        """Sends an action; returns its ActionID and its reply (events meanwhile are kept)."""
        action_id = self.send(fields)
        deadline = time.monotonic() + timeout
        while (message := self.read_message(deadline)) is not None:
            if message.get("ActionID") == action_id and "Response" in message:
                return action_id, message
            self.backlog.append(message)
        raise AmiSyncError(f"AMI {fields.get('Action')}: no reply within {timeout:.0f} s")

    def wait_event(self, match: Callable[[dict[str, str]], bool], timeout: float) -> dict[str, str] | None:
        for i, message in enumerate(self.backlog):
            if match(message):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while (message := self.read_message(deadline)) is not None:
            if match(message):
                return message
        return None

    def login(self, username: str, secret: str) -> None:
        _, reply = self.request({"Action": "Login", "Username": username, "Secret": secret,
                                 "Events": "call,user"})
        if reply.get("Response", "").lower() != "success":
            raise AmiSyncError(f"AMI login as {username!r} refused: {reply.get('Message', '')}")


def dial_over_ami(host: str, port: int, username: str, secret: str, *, desk_id: str,
                  number: str, callback_id: str, desk_ring_s: int, citizen_ring_s: int,
                  margin_s: float = 10.0) -> Outcome:
    """One attempt, desk leg first, then the citizen; returns its outcome (never raises)."""
    try:
        with AmiSession(host, port) as ami:
            ami.login(username, secret)
            action_id, reply = ami.request({
                "Action": "Originate", "Channel": f"PJSIP/{desk_id}", "Context": CALLBACK_CONTEXT,
                "Exten": number, "Priority": "1", "Timeout": str(desk_ring_s * 1000),
                "CallerID": f'"CALLBACK" <{number}>', "Async": "true",
                "Variable": [f"HOTLINE_CALLBACK_ID={callback_id}",
                             f"HOTLINE_CALLBACK_RING={citizen_ring_s}"],
            })
            if reply.get("Response", "").lower() != "success":
                log.error("callback %s: Originate refused: %s", callback_id, reply.get("Message", ""))
                return Outcome.SYSTEM_ERROR
            desk = ami.wait_event(
                lambda m: m.get("Event") == "OriginateResponse" and m.get("ActionID") == action_id,
                desk_ring_s + margin_s)
            if desk is None:
                log.error("callback %s: no OriginateResponse within %s s", callback_id, desk_ring_s + margin_s)
                return Outcome.SYSTEM_ERROR
            if desk.get("Response", "").lower() != "success":
                log.info("callback %s: desk %s did not take it (reason %s)", callback_id, desk_id,
                         desk.get("Reason", "?"))
                return Outcome.DESK_UNAVAILABLE
            result = ami.wait_event(
                lambda m: m.get("Event") == "UserEvent" and m.get("UserEvent") == RESULT_EVENT
                and m.get("CallbackId") == callback_id,
                citizen_ring_s + margin_s)
            if result is None:
                log.error("callback %s: no %s within %s s", callback_id, RESULT_EVENT, citizen_ring_s + margin_s)
                return Outcome.SYSTEM_ERROR
            outcome = outcome_of_dial_status(result.get("Status", ""))
            if result.get("Status", "").upper() == "NOCARRIER":
                log.error("callback %s: Asterisk has no carrier for calls to citizens (the citizens "
                          "endpoint has no AOR contact: set citizens_contact); reported as %s",
                          callback_id, outcome)
            log.info("callback %s: desk %s → %s: %s", callback_id, desk_id, number, outcome)
            return outcome
    except (OSError, AmiSyncError, ValueError) as exc:
        log.error("callback %s: AMI failed: %s", callback_id, exc)
        return Outcome.SYSTEM_ERROR
