"""A small blocking AMI client: for synchronous code (the rq worker's call-back dialer, the
bench's bookkeeping), where the bridge's asyncio link (panoramisk) does not fit.

Hand-written rather than pyst2's ``asterisk.manager``: pyst2 (0.5.1) waits for a reply with
no timeout (a silent AMI hangs the rq job), takes the next reply on the wire whatever its
ActionID, its ``close()`` blocks until the server drops the socket, and an event with a
``ChanVariable`` header kills its reader thread (``dict.has_key``), after which every action
hangs.

Repeated headers in a message: the first one counts.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable, Mapping, Sequence

Message = dict[str, str]


class AmiSyncError(RuntimeError):
    pass


def _clean(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI header value with a line break: {value!r}")
    return value


def parse_message(block: bytes) -> Message:
    """One AMI message (without its blank line) as headers; the first of a repeated one."""
    message: Message = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            message.setdefault(key.strip(), value.strip())
    return message


class AmiSession:
    """A blocking AMI connection: send actions, read replies and events until a deadline."""

    _ids = itertools.count(1)

    def __init__(self, host: str, port: int, timeout: float = 5.0, id_prefix: str = "hotline-cb") -> None:
        self.timeout = timeout
        self.id_prefix = id_prefix
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        self.backlog: list[Message] = []
        banner = self._read_line(time.monotonic() + timeout)
        if not banner.startswith("Asterisk Call Manager"):
            raise AmiSyncError(f"not an AMI server at {host}:{port}: {banner[:80]!r}")

    def __enter__(self) -> AmiSession:
        return self

    def __exit__(self, *exc: object) -> None:
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

    def read_message(self, deadline: float) -> Message | None:
        """The next message (reply or event), or None at the deadline."""
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill(deadline):
                return None
        block, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        return parse_message(block)

    def send(self, fields: Mapping[str, str | Sequence[str]]) -> str:
        """Sends an action (a list value: the header once per item); returns its ActionID."""
        action_id = f"{self.id_prefix}-{next(self._ids)}"
        lines = []
        for key, value in {**fields, "ActionID": action_id}.items():
            for item in ([value] if isinstance(value, str) else value):
                lines.append(f"{key}: {_clean(str(item))}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return action_id

    def request(self, fields: Mapping[str, str | Sequence[str]], timeout: float | None = None) -> tuple[str, Message]:
        """Sends an action; returns its ActionID and its reply (events meanwhile are kept)."""
        timeout = self.timeout if timeout is None else timeout
        action_id = self.send(fields)
        deadline = time.monotonic() + timeout
        while (message := self.read_message(deadline)) is not None:
            if message.get("ActionID") == action_id and "Response" in message:
                return action_id, message
            self.backlog.append(message)
        raise AmiSyncError(f"AMI {fields.get('Action')}: no reply within {timeout:.0f} s")

    def action(self, name: str, timeout: float | None = None, **fields: str) -> list[Message]:
        """An action's reply and, for a list action, every event of the list up to its end."""
        timeout = self.timeout if timeout is None else timeout
        action_id = self.send({"Action": name, **fields})
        deadline = time.monotonic() + timeout
        out: list[Message] = []
        while (message := self.read_message(deadline)) is not None:
            if message.get("ActionID") != action_id:
                continue
            out.append(message)
            if message.get("EventList") == "Complete" or ("Response" in message and message.get("EventList") != "start"):
                return out
        raise AmiSyncError(f"AMI {name}: no complete reply within {timeout:.0f} s")

    def wait_event(self, match: Callable[[Message], bool], timeout: float) -> Message | None:
        for i, kept in enumerate(self.backlog):
            if match(kept):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while (message := self.read_message(deadline)) is not None:
            if match(message):
                return message
        return None

    def login(self, username: str, secret: str, events: str = "call,user") -> None:
        _, reply = self.request({"Action": "Login", "Username": username, "Secret": secret,
                                 "Events": events})
        if reply.get("Response", "").lower() != "success":
            raise AmiSyncError(f"AMI login as {username!r} refused: {reply.get('Message', '')}")


def connect(host: str, port: int, username: str, secret: str, *, events: str = "call,user",
            timeout: float = 5.0, id_prefix: str = "hotline-cb") -> AmiSession:
    """A logged-in session (closed again when the login fails)."""
    session = AmiSession(host, port, timeout=timeout, id_prefix=id_prefix)
    try:
        session.login(username, secret, events)
    except BaseException:
        session.sock.close()
        raise
    return session
