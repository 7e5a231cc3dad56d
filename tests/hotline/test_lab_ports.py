"""hotline.lab.ports: the one place the lab and the bench get free local ports."""

from __future__ import annotations

import socket

from hotline.lab.ports import TCP, UDP, free_port, free_port_pair


def test_a_free_port_can_be_bound_for_its_kind():
    for kind in (TCP, UDP):
        port = free_port(kind)
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_media_port_pair_is_even_with_three_free_after_it():
    port = free_port_pair()
    assert port % 2 == 0
    sockets = [socket.socket(socket.AF_INET, UDP) for _ in range(4)]
    try:
        for offset, sock in enumerate(sockets):
            sock.bind(("127.0.0.1", port + offset))
    finally:
        for sock in sockets:
            sock.close()


def test_a_burst_of_citizens_never_gets_a_port_twice():
    # 50 SIPp citizens started at once: a SIP port and a media block of four each, none shared
    # (a SIPp that finds its port taken exits before calling).
    taken: list[int] = []
    for _ in range(50):
        taken.append(free_port(UDP))
        media = free_port_pair()
        taken.extend(range(media, media + 4))
    assert len(set(taken)) == len(taken)
