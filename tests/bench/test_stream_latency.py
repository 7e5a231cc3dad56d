"""bench/stream_latency.py's pure parts: reading an event stream's lines, pairing writes and arrivals."""

from __future__ import annotations

from bench.stream_latency import ClientLog, pair, sse_data_lines


def test_only_data_lines_with_a_json_object_count():
    lines = [": keepalive", "event: desk_state", "id: 1-0", 'data: {"id": "1-0", "ms": "100", "type": "desk_state"}',
             "", "data: not json", "data: [1, 2]", 'data: {"after": "0-0"}']
    assert list(sse_data_lines(lines)) == [{"id": "1-0", "ms": "100", "type": "desk_state"}, {"after": "0-0"}]


def test_each_client_is_paired_with_each_written_event():
    written = {"1-0": 1000.0, "2-0": 2000.0, "3-0": 3000.0}
    fast = ClientLog(arrivals={"1-0": 1002.0, "2-0": 2004.0, "3-0": 3006.0}, board_ms=[10.0, 20.0])
    slow = ClientLog(arrivals={"1-0": 1050.0, "3-0": 3100.0, "9-0": 9000.0}, errors=["stream ended: ReadError"])
    result = pair(written, [fast, slow])
    assert (result["events"], result["clients"], result["received"], result["missed"]) == (3, 2, 5, 1)
    assert result["delay_ms"]["n"] == 5
    assert result["delay_ms"]["max"] == 100.0  # an event no one wrote in the run (9-0) is not paired
    assert result["board_reads"] == 2 and result["board_ms"]["n"] == 2
    assert result["client_errors"] == ["stream ended: ReadError"]


def test_nothing_received_is_all_missed():
    result = pair({"1-0": 1.0}, [ClientLog(), ClientLog()])
    assert (result["received"], result["missed"]) == (0, 2)
