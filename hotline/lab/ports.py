"""Free local ports for the lab's processes and the bench: SIP and SIPp media (UDP), AMI,
FastAGI and Redis (TCP).

A port found free here may be taken before its process binds it; callers that can retry
(e.g. ``start_redis_server``) do.
"""

from __future__ import annotations

import socket
from collections import deque

UDP = socket.SOCK_DGRAM
TCP = socket.SOCK_STREAM

# Ports handed out lately by this process, not yet bound by their process: the kernel picks
# a random free port each time and may pick one twice, or one of a media block (a burst of
# 50 SIPp citizens asks for 100 ports; two of them would clash about every other burst).
_HANDED_OUT: deque[int] = deque(maxlen=4096)


def free_port(kind: int = UDP, host: str = "127.0.0.1") -> int:
    """A port the kernel reports free on ``host`` for ``kind`` (``UDP`` or ``TCP``)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.append(port)
            return port
    raise RuntimeError("no free port the lab has not just handed out")


def free_port_pair() -> int:
    """An even UDP port for SIPp's media (-mp): SIPp binds it and the next three (audio
    RTP and RTCP, video RTP and RTCP), and exits if any is taken."""
    for _ in range(200):
        p = free_port(UDP)
        if p % 2 == 0 and p < 65000:
            sockets = []
            try:
                for port in range(p, p + 4):
                    sock = socket.socket(socket.AF_INET, UDP)
                    sockets.append(sock)
                    sock.bind(("127.0.0.1", port))
                    if port in _HANDED_OUT and port != p:
                        raise OSError(f"port {port} just handed out")
                _HANDED_OUT.extend(range(p + 1, p + 4))
                return p
            except OSError:
                continue
            finally:
                for sock in sockets:
                    sock.close()
    raise RuntimeError("no four free UDP ports in a row for SIPp's media")
