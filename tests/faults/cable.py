"""A TCP link the test can cut: the bridge reaches Asterisk's AMI through it, so a fault
test can drop the connection and refuse new ones for a while, as a broken network would."""

from __future__ import annotations

import socket
import threading
import time


class CuttableLink:
    def __init__(self, target_port: int, host: str = "127.0.0.1"):
        self.target = (host, target_port)
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._cut_until = 0.0
        self._lock = threading.Lock()
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, seconds: float) -> None:
        """Drop every open connection and refuse new ones for ``seconds``."""
        with self._lock:
            self._cut_until = time.monotonic() + seconds
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._running = False
        self.cut(0)
        self.listener.close()

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self._cut_until:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


class SlowRedirectLink(CuttableLink):
    """An AMI link that holds the first ``redirects`` Redirect actions back for ``seconds``
    before Asterisk sees them (every other action and every event passes at once): the
    bridge's wait for the reply runs out while the Redirect is still on its way, as on a
    congested link or a busy Asterisk."""

    def __init__(self, target_port: int, *, redirects: int, seconds: float, host: str = "127.0.0.1"):
        self.redirects_left = redirects
        self.seconds = seconds
        self.held: list[float] = []  # when each held Redirect was let through (monotonic)
        super().__init__(target_port, host)

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._actions, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _actions(self, src: socket.socket, dst: socket.socket) -> None:
        """Bridge → Asterisk, one AMI message (ends with a blank line) at a time."""
        sending = threading.Lock()

        def send(message: bytes) -> None:
            with sending:
                try:
                    dst.sendall(message)
                except OSError:
                    pass

        def send_later(message: bytes) -> None:
            time.sleep(self.seconds)
            self.held.append(time.monotonic())
            send(message)

        buffer = b""
        try:
            while data := src.recv(65536):
                buffer += data
                while b"\r\n\r\n" in buffer:
                    message, buffer = buffer.split(b"\r\n\r\n", 1)
                    message += b"\r\n\r\n"
                    if b"action: redirect\r\n" in message.lower() and self.redirects_left > 0:
                        self.redirects_left -= 1
                        threading.Thread(target=send_later, args=(message,), daemon=True).start()
                    else:
                        send(message)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass
