"""Free local ports for the lab's processes and the bench: SIP and SIPp media (UDP), AMI,
FastAGI and Redis (TCP).

A port found free here may be taken before its process binds it; callers that can retry
(e.g. ``start_redis_server``) do.
"""

from __future__ import annotations

import socket

UDP = socket.SOCK_DGRAM
TCP = socket.SOCK_STREAM


def free_port(kind: int = UDP, host: str = "127.0.0.1") -> int:
    """A port the kernel reports free on ``host`` for ``kind`` (``UDP`` or ``TCP``)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
                return p
            except OSError:
                continue
            finally:
                for sock in sockets:
                    sock.close()
    raise RuntimeError("no four free UDP ports in a row for SIPp's media")
