"""The bridge's watch on Asterisk's warnings log (telephony.resource_watch) over a real file and a
real redis-server: read from where the last record ended, once across bridges, rotation."""

from __future__ import annotations

from pathlib import Path

from telephony.resource_watch import ResourceWatch
from tests.queueing.test_async import run
from tests.telephony.test_resource_lines import CALLER_REFUSED, CANCEL, DESK_UNRUNG, RTP_OUT

A_CALLER = "\n".join([RTP_OUT, CANCEL, CALLER_REFUSED]) + "\n"
A_DESK = "\n".join([RTP_OUT, CANCEL, DESK_UNRUNG]) + "\n"


def append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def test_a_new_log_is_read_from_now_on_and_each_shortage_recorded(redis_client, redis_url, tmp_path):
    log = tmp_path / "warnings.log"
    append(log, A_CALLER * 5)  # before the bridge ever watched: the past

    async def scenario(routing):
        watch = ResourceWatch(routing, log, "host:4573")
        assert await watch.step() == 0
        append(log, A_CALLER * 2 + A_DESK + RTP_OUT[:40])  # Asterisk still writing the last line
        assert await watch.step() == 3
        assert await watch.step() == 0
        append(log, RTP_OUT[40:] + "\n" + CALLER_REFUSED + "\n")
        assert await watch.step() == 1
        return await routing.resource_shortage_counts()

    assert run(redis_url, scenario) == {"rtp_ports": 4, "rtp_ports:caller": 3, "rtp_ports:desk": 1}
    [first, second] = [e for e in redis_client.xrange("hotline:events") if e[1]["type"] == "resource_shortage"]
    assert (first[1]["shortages"], first[1]["desks"], first[1]["log"]) == ("3", "desk-101", str(log))


def test_two_bridges_record_each_line_once_and_a_restarted_one_reads_on(redis_client, redis_url, tmp_path):
    log = tmp_path / "warnings.log"
    log.write_text("")

    async def scenario(routing):
        one, two = ResourceWatch(routing, log, "a:1"), ResourceWatch(routing, log, "b:2")
        await one.step()
        await two.step()
        append(log, A_CALLER * 3)
        assert await one.step() == 3
        assert await two.step() == 0  # it read the same lines: refused, it reads on from there
        append(log, A_DESK)
        recorded = [await two.step(), await one.step()]
        # a bridge started while Asterisk went on logging reads on from the recorded end
        append(log, A_CALLER)
        assert await ResourceWatch(routing, log, "c:3").step() == 1
        return recorded, await routing.resource_shortage_counts()

    recorded, counts = run(redis_url, scenario)
    assert sorted(recorded) == [0, 1]
    assert counts == {"rtp_ports": 5, "rtp_ports:caller": 4, "rtp_ports:desk": 1}


def test_a_rotated_log_is_read_from_its_start_and_a_missing_one_waits(redis_client, redis_url, tmp_path):
    log = tmp_path / "warnings.log"

    async def scenario(routing):
        watch = ResourceWatch(routing, log, "a:1")
        assert await watch.step() == 0  # not there yet: said once in the bridge's log, no error
        log.write_text("")
        await watch.step()
        append(log, A_CALLER)
        assert await watch.step() == 1
        log.rename(tmp_path / "warnings.log.1")
        append(log, A_DESK * 2)
        assert await watch.step() == 2
        log.write_text(A_CALLER)  # truncated in place and written again
        assert await watch.step() == 1
        return await routing.resource_shortage_counts()

    assert run(redis_url, scenario) == {"rtp_ports": 4, "rtp_ports:caller": 2, "rtp_ports:desk": 2}
