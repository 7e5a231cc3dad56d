"""Pushing a call's EIDO document to the agencies' CAD (computer-aided dispatch) over their webhooks.

When a call-taker dispatches, ``api/services/eido.py`` builds the document, keeps it in Redis
(``queueing.cad_pushes``: it stays there until each agency has it) and enqueues one rq job per
agency that has a ``cad_webhook_url`` in the city file: :func:`push_eido`. The worker
(``hotline worker``) runs it; a try that fails is recorded (status ``failed``, the HTTP status or the
error, an event ``cad_push`` on the audit trail) and rq tries again after :data:`CAD_RETRY`'s
intervals. After the last one the push stays ``failed`` for a call-taker or supervisor to resend
(``POST /calls/{call_id}/cad-push``).

What the CAD receives: ``POST <cad_webhook_url>``, the document as UTF-8 JSON, and

* ``X-Hotline-Timestamp``: Unix seconds when this try was signed;
* ``X-Hotline-Signature``: ``sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``, the secret
  being the value of the environment variable the city file names (``cad_webhook_secret_env``);
* ``X-Hotline-Delivery``: ``<call_id>-<seq>``, the same for every try of the same document.

A receiver recomputes the HMAC over the timestamp and the body it got, compares in constant time,
and refuses a timestamp far from its clock (:func:`verify`, 5 minutes): a recorded push replayed
later is refused, and a repeated delivery id can be dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from rq import Retry
from rq.exceptions import DuplicateJobError
from rq.job import get_current_job

from config.settings import CitySettings
from queueing import jobs
from queueing.cad_pushes import CadPushes
from queueing.keys import DEFAULT_PREFIX
from queueing.states import CadPushStatus

log = logging.getLogger("hotline.cad_push")

#: The job, by name (rq imports it in the worker).
PUSH_EIDO = "api.cad_push.push_eido"
#: A CAD that does not take the document: again after 10 s, 1, 5 and 15 min; then a person resends.
CAD_RETRY = Retry(max=4, interval=[10, 60, 300, 900])
TIMEOUT_S = 10.0
REPLAY_WINDOW_S = 300
SIGNATURE_HEADER = "X-Hotline-Signature"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
DELIVERY_HEADER = "X-Hotline-Delivery"


class CadPushFailed(Exception):
    """A try failed and rq should try again (raised only while it has retries left)."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>." + body``."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, sent_signature: str, *, now_s: float | None = None,
           window_s: int = REPLAY_WINDOW_S) -> bool:
    """What a CAD does with a push: the signature matches and the timestamp is recent."""
    try:
        age = abs((time.time() if now_s is None else now_s) - int(timestamp))
    except ValueError:
        return False
    return age <= window_s and hmac.compare_digest(signature(secret, timestamp, body), sent_signature)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would lose its body (or be sent where nobody configured): a 3xx is a failed try.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def send(url: str, secret: str, body: bytes, delivery: str, *, timeout_s: float = TIMEOUT_S) -> tuple[int | None, str]:
    """POSTs one signed document: (HTTP status or None when nobody answered, the error or '')."""
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        DELIVERY_HEADER: delivery,
        "User-Agent": "hotline-cad-push",
    })
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}".strip()
    except urllib.error.URLError as exc:
        return None, f"no answer from {url}: {exc.reason}"
    except (TimeoutError, OSError) as exc:
        return None, f"no answer from {url}: {exc}"


def enqueue_push_jobs(connection: redis.Redis, call_id: str, seq: int, agencies: Sequence[str],
                      prefix: str = DEFAULT_PREFIX) -> list[str]:
    """One :func:`push_eido` job per agency for document ``seq``; the agencies whose job was enqueued
    (a job for the same document already waiting is not doubled)."""
    queue = jobs.job_queue(connection)
    queued = []
    for agency in agencies:
        job_id = re.sub(r"[^A-Za-z0-9_-]", "_", f"cad_push-{prefix}{call_id}-{agency}-{seq}")
        try:
            queue.enqueue(PUSH_EIDO, call_id, agency, seq, prefix, job_id=job_id, unique=True, retry=CAD_RETRY,
                          result_ttl=jobs.RESULT_TTL_S, failure_ttl=jobs.FAILURE_TTL_S,
                          description=f"EIDO of call {call_id} to the {agency} CAD")
            queued.append(agency)
        except DuplicateJobError:
            log.info("CAD push of call %s to %s (document %d) is already queued", call_id, agency, seq)
    return queued


def webhook_agencies(city: CitySettings) -> list[str]:
    """The agencies whose CAD takes pushes."""
    return [a.id for a in city.agencies if a.cad_webhook_url]


def push_eido(call_id: str, agency: str, seq: int, prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """One try to send document ``seq`` of the call to the agency's CAD (the rq job)."""
    pushes = CadPushes(jobs.job_connection(), prefix=prefix)
    record = pushes.record(call_id)
    result = {"call_id": call_id, "agency": agency, "seq": seq}
    if int(record.get(f"{agency}.seq") or 0) != seq:
        return {**result, "result": "superseded"}  # a newer document has its own job
    if record.get(f"{agency}.sent_seq") == str(seq):
        return {**result, "result": "already_sent"}
    job = get_current_job()
    retries_left = bool(job is not None and job.retries_left)
    city = jobs.city()
    target = next((a for a in city.agencies if a.id == agency), None)
    secret = os.environ.get(target.cad_webhook_secret_env or "", "") if target is not None else ""
    if target is None or not target.cad_webhook_url or not target.cad_webhook_secret_env:
        problem = f"agency {agency} has no cad_webhook_url in the city file"
    elif not secret:
        problem = f"{target.cad_webhook_secret_env} is not set in the worker's environment: no secret to sign with"
    else:
        problem = ""
    if problem:  # trying again changes nothing: a person fixes the setting and resends
        pushes.record_attempt(call_id, agency, seq, sent=False, error=problem, retrying=False)
        log.error("CAD push of call %s to %s: %s", call_id, agency, problem)
        return {**result, "result": "failed", "error": problem}
    assert target is not None and target.cad_webhook_url
    status, error = send(target.cad_webhook_url, secret, record["document"].encode("utf-8"), f"{call_id}-{seq}")
    sent = status is not None and 200 <= status < 300
    attempt = pushes.record_attempt(call_id, agency, seq, sent=sent, http_status=status, error=error,
                                    retrying=retries_left and not sent)
    if sent:
        log.info("CAD push of call %s to %s: sent (HTTP %s, try %d)", call_id, agency, status, attempt.attempts)
        return {**result, "result": "sent", "http_status": status, "attempts": attempt.attempts}
    log.warning("CAD push of call %s to %s failed (try %d): %s%s", call_id, agency, attempt.attempts, error,
                "; rq tries again" if retries_left else "; no tries left: resend by hand")
    if retries_left:
        raise CadPushFailed(f"CAD push of call {call_id} to {agency}: {error}")
    return {**result, "result": "failed", "http_status": status, "error": error, "attempts": attempt.attempts}


def sweep_cad_pushes(prefix: str = DEFAULT_PREFIX) -> dict[str, int]:
    """Jobs again for pushes still waiting whose job is gone (rq lost it, or it was never enqueued):
    ``hotline worker`` enqueues this at start. A push given up on (failed, not retrying) waits for a person."""
    connection = jobs.job_connection()
    pushes = CadPushes(connection, prefix=prefix)
    enqueued = 0
    for call_id in pushes.open_calls():
        for push in pushes.pushes(call_id):
            waiting = push["status"] == CadPushStatus.PENDING or (push["status"] == CadPushStatus.FAILED and push["retrying"])
            if waiting and push["current"]:
                enqueued += len(enqueue_push_jobs(connection, call_id, push["seq"], [push["agency"]], prefix))
    if enqueued:
        log.info("sweep: %d CAD push job(s) enqueued again", enqueued)
    return {"enqueued": enqueued}


def missing_secrets(city: CitySettings, environ: Mapping[str, str] = os.environ) -> list[str]:
    """What keeps a webhook of the city file from signing here: its secret's variable unset (the worker says so at start)."""
    return [f"agencies {a.id}: {a.cad_webhook_secret_env} is not set: pushes to {a.cad_webhook_url} will fail until it is"
            for a in city.agencies if a.cad_webhook_url and a.cad_webhook_secret_env and not environ.get(a.cad_webhook_secret_env)]
