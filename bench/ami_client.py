"""A small blocking AMI client for the bench's own bookkeeping (pausing app_queue members,
counting their callers): the bridge's AMI link is the thing under test, not a tool."""

from __future__ import annotations

import socket


class AmiClient:
    def __init__(self, host: str, port: int, user: str, secret: str, timeout: float = 10):
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = b""
        self._sock.recv(1024)  # the "Asterisk Call Manager/…" banner
        self._ids = 0
        reply = self.action("Login", Username=user, Secret=secret, Events="off")
        if reply[0].get("Response") != "Success":
            raise RuntimeError(f"AMI login refused: {reply[0].get('Message')}")

    def _message(self) -> dict[str, str]:
        while b"\r\n\r\n" not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("AMI closed the connection")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\r\n\r\n", 1)
        fields = {}
        for line in raw.decode(errors="replace").split("\r\n"):
            key, sep, value = line.partition(": ")
            if sep:
                fields[key] = value
        return fields

    def action(self, name: str, **fields: str) -> list[dict[str, str]]:
        """The response, and for list actions every event up to the list's end."""
        self._ids += 1
        action_id = f"bench-{self._ids}"
        text = f"Action: {name}\r\nActionID: {action_id}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self._sock.sendall((text + "\r\n").encode())
        out: list[dict[str, str]] = []
        while True:
            msg = self._message()
            if msg.get("ActionID") != action_id:
                continue
            out.append(msg)
            if msg.get("EventList") == "Complete" or ("Response" in msg and msg.get("EventList") != "start"):
                return out

    def close(self) -> None:
        try:
            self.action("Logoff")
        except (OSError, ConnectionError):
            pass
        self._sock.close()
