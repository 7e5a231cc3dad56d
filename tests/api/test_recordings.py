"""GET /calls/{id}/recording and …/recording/recent: WAV served with byte ranges (also a file still being
written), access by role and agency (403 and nothing served), plain refusals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from config.settings import RecordingSettings, RuntimeSettings, load_settings
from queueing.recording_files import CallRecording, wav_layout
from queueing.routing import Routing
from tests.api_tokens import TOKENS, bearer
from tests.queueing.test_recordings import sox_wav, unfinished
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY).model_copy(update={"recording": RecordingSettings(dir="/rec")})


@pytest.fixture
def setup(redis_client, tmp_path):
    routing = Routing(redis_client)
    routing.arrive("c-1", "0912345678", "PJSIP/citizens-1")
    routing.enqueue("c-1", "police", 1, choice="1")
    (tmp_path / "rec").mkdir()
    rec = CallRecording(tmp_path / "rec", "c-1")
    runtime = RuntimeSettings(city_file=E2E_CITY, asterisk_root=tmp_path)
    with TestClient(create_app(runtime, city=CITY, routing=routing, tokens=TOKENS)) as client:
        yield client, rec


def test_the_whole_recording_and_a_byte_range(setup):
    client, rec = setup
    sox_wav(rec.mix, 2.0, 440)
    whole = client.get("/calls/c-1/recording", headers=bearer("police"))
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.content == rec.mix.read_bytes()
    part = client.get("/calls/c-1/recording", headers={**bearer("police"), "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert part.content == whole.content[100:200]
    tail = client.get("/calls/c-1/recording", headers={**bearer("police"), "Range": "bytes=-10"})
    assert tail.content == whole.content[-10:]
    beyond = client.get("/calls/c-1/recording", headers={**bearer("police"), "Range": f"bytes={len(whole.content)}-"})
    assert beyond.status_code == 416


def test_the_last_seconds_of_a_call_going_on_are_a_proper_wav(setup, tmp_path):
    client, rec = setup
    unfinished(rec.mix, 3.0)
    reply = client.get("/calls/c-1/recording/recent?seconds=1", headers=bearer("supervisor"))
    assert reply.status_code == 200
    out = tmp_path / "recent.wav"
    out.write_bytes(reply.content)
    layout = wav_layout(out)
    assert layout.final and layout.seconds == pytest.approx(1.0, abs=0.001)
    assert client.get("/calls/c-1/recording/recent?seconds=0", headers=bearer("supervisor")).status_code == 422


def test_another_agency_viewer_and_no_token_get_nothing(setup):
    client, rec = setup
    sox_wav(rec.mix, 1.0, 440)
    for headers, status in ((bearer("fire"), 403), (bearer("viewer"), 403), ({}, 401)):
        reply = client.get("/calls/c-1/recording", headers=headers)
        assert reply.status_code == status
        assert b"RIFF" not in reply.content


def test_no_file_unknown_call_and_bad_id_are_said_plainly(setup):
    client, _ = setup
    reply = client.get("/calls/c-1/recording", headers=bearer("police"))
    assert reply.status_code == 404 and "has no recording to play (never recorded)" in reply.json()["detail"]
    assert client.get("/calls/c-9/recording", headers=bearer("police")).status_code == 404
