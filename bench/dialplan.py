"""Bench-only Asterisk configuration beside hotline's own: the native baseline (b) and the
bare limit (c), reached by their own numbers on the same citizens' trunk.

It is appended to the lab's rendered files (``Lab.extra_config``), so hotline's dialplan
is untouched: the two numbers are exact extensions of ``hotline-inbound``, which Asterisk
prefers to the catch-all pattern that sends every other number to 112.
"""

from __future__ import annotations

from bench.city import AGENCIES, BenchCity

NATIVE_NUMBER = "1120"  # (b): menu in dialplan, then app_queue
BARE_NUMBER = "1121"  # (c): Answer, Wait, Hangup


def _queue(name: str, members: list[str], ring_timeout_s: int) -> str:
    # As close to hotline's routing as app_queue gets: the longest-idle desk first
    # (leastrecent), one caller per desk (ringinuse=no), no rest between calls, every
    # waiting caller offered at once (autofill), hold music while waiting.
    lines = "\n".join(f"member => PJSIP/{m}" for m in members)
    return f"""[{name}]
strategy = leastrecent
timeout = {ring_timeout_s}
retry = 1
wrapuptime = 0
autofill = yes
ringinuse = no
joinempty = yes
leavewhenempty = no
musicclass = default
announce-frequency = 0
periodic-announce-frequency = 0
announce-position = no
announce-holdtime = no
reportholdtime = no
{lines}
"""


def native_queue(agency: str) -> str:
    return f"bench-{agency}"


NATIVE_GENERAL_QUEUE = "bench-general"


def bench_config(city: BenchCity, bare_hold_s: float) -> dict[str, str]:
    """File name → text appended to the lab's rendered file."""
    ivr = city.ivr()
    # The city's menu: each language in turn, the same prompt files hotline plays.
    menu = "&".join(f"hotline/{lang}/menu" for lang in city.languages)
    agencies = "\n".join(f"""exten => {digit},1,Set(CALLERID(name)={label})
 same => n,Queue({native_queue(agency)},t)
 same => n,Goto(t,1)""" for agency, digit, label in AGENCIES)
    extensions = f"""
; ---- bench only (bench/dialplan.py) -------------------------------------------------
[hotline-inbound]
exten => {NATIVE_NUMBER},1,Goto(bench-native,s,1)
exten => {BARE_NUMBER},1,Goto(bench-bare,s,1)

; (b) the same menu as hotline's IVR, in dialplan: every language, any key interrupts,
; no key → the menu again up to the city's attempts, then the general queue at once (hold
; music, no "connecting" prompt before it: the quickest a dialplan gets a silent caller to
; a desk, so the answer-time bench compares hotline with native's best).
[bench-native]
exten => s,1,Answer()
 same => n,Set(BENCH_PLAYS=1)
 same => n(menu),Background({menu})
 same => n,WaitExten({ivr["no_input_timeout_s"]:g})
{agencies}
exten => i,1,Goto(t,1)
exten => t,1,GotoIf($[${{BENCH_PLAYS}} < {ivr["attempts"]}]?again)
 same => n,Set(CALLERID(name)=EMERGENCY)
 same => n(queue),Queue({NATIVE_GENERAL_QUEUE},t)
 same => n,Goto(queue)
 same => n(again),Set(BENCH_PLAYS=$[${{BENCH_PLAYS}} + 1])
 same => n,Goto(s,menu)

; (c) the bare limit: no IVR, no queue, no desk.
[bench-bare]
exten => s,1,Answer()
 same => n,Wait({bare_hold_s:g})
 same => n,Hangup()
"""
    queues = "\n; ---- bench only (bench/dialplan.py) ----\n" + "\n".join(
        _queue(native_queue(agency), city.desk_ids(agency), city.ring_timeout_s) for agency in city.agencies
    ) + "\n" + _queue(NATIVE_GENERAL_QUEUE, [d for d, _ in city.all_desks()], city.ring_timeout_s)
    return {"extensions.conf": extensions, "queues.conf": queues}
