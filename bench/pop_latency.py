"""Pop latency: the desk's INVITE leaving Asterisk → the screen pop drawn in a console.

Pure parts (the phase that opens the consoles and places the calls is
bench/pop_consoles.py): the page's stamp script, reading a DialBegin event, pairing the
two sides' stamps by call id, which desks get a console, and the phase's figures. Both sides stamp with this machine's wall clock in ms
(the browser: ``performance.timeOrigin + performance.now()``; the AMI listener: the
receive time of ``DialBegin``), so the pairs subtract directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.stats import summary_ms

# Added to every console page with ``page.add_init_script``: records when the pop of a
# ringing call is drawn (the frame after ``#pop-call-id`` shows its call id), without
# changing the page.
POP_STAMP_SCRIPT = """
(() => {
  window.__popStamps = [];
  const seen = new Set();
  const watch = () => {
    const el = document.getElementById('pop-call-id');
    if (!el) { requestAnimationFrame(watch); return; }
    const note = () => {
      const id = (el.textContent || '').trim();
      if (!id || seen.has(id)) return;
      seen.add(id);
      requestAnimationFrame(() => window.__popStamps.push(
        {call_id: id, t: performance.timeOrigin + performance.now()}));
    };
    new MutationObserver(note).observe(el, {childList: true, characterData: true, subtree: true});
    note();
  };
  watch();
})();
"""


def dial_begin_stamp(event: Mapping[str, str], received_ms: float, desk_prefix: str = "PJSIP/") -> tuple[str, float] | None:
    """(call id, ms) of a DialBegin toward a desk channel; None for any other event.
    The call id is the caller's Uniqueid (the dialplan sets HOTLINE_CALL_ID=${UNIQUEID})."""
    if event.get("Event") != "DialBegin":
        return None
    if not event.get("DestChannel", "").startswith(desk_prefix):
        return None
    call_id = event.get("Uniqueid") or event.get("ChanVariable(HOTLINE_CALL_ID)")
    return (call_id, received_ms) if call_id else None


@dataclass(frozen=True)
class Pairing:
    latencies_ms: list[float]
    pops_without_invite: int
    invites_without_pop: int

    def to_json(self) -> dict[str, Any]:
        return {**summary_ms(self.latencies_ms), "pops_without_invite": self.pops_without_invite,
                "invites_without_pop": self.invites_without_pop}


def pair_stamps(invites: Iterable[tuple[str, float]], pops: Iterable[tuple[str, float]]) -> Pairing:
    """Pops matched to the INVITE of the same call id. A call rung more than once (the
    desk missed it) keeps its latest INVITE before the pop; a pop keeps its first draw."""
    sent: dict[str, list[float]] = {}
    for call_id, t in invites:
        sent.setdefault(call_id, []).append(t)
    drawn: dict[str, float] = {}
    for call_id, t in pops:
        drawn[call_id] = min(t, drawn.get(call_id, t))
    latencies = []
    orphans = 0
    for call_id, t in drawn.items():
        before = [s for s in sent.get(call_id, []) if s <= t]
        if not before:
            orphans += 1
            continue
        latencies.append(t - max(before))
    return Pairing(latencies, orphans, sum(1 for c in sent if c not in drawn))


def spread_desks(desks: Sequence[tuple[str, str]], n: int) -> list[tuple[str, str]]:
    """At most ``n`` of the (desk, agency) pairs, taken from each agency in turn (in the order
    the agencies first appear), so every agency's queue has desks with a console."""
    by_agency: dict[str, list[tuple[str, str]]] = {}
    for desk, agency in desks:
        by_agency.setdefault(agency, []).append((desk, agency))
    chosen: list[tuple[str, str]] = []
    rank = 0
    while len(chosen) < n and any(rank < len(v) for v in by_agency.values()):
        for agency_desks in by_agency.values():
            if rank < len(agency_desks) and len(chosen) < n:
                chosen.append(agency_desks[rank])
        rank += 1
    return chosen


def pop_figures(consoles_requested: int, consoles_open: int, calls: int, invites: Sequence[tuple[str, float]],
                pops: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """The phase's results: how many consoles were really open, the calls placed, the
    DialBegins toward desks and pops seen, and the pairs' latency (``pop_ms``)."""
    pairing = pair_stamps(invites, pops)
    return {"consoles_requested": consoles_requested, "consoles_open": consoles_open, "calls": calls,
            "dial_begins": len(invites), "calls_rung": len({c for c, _ in invites}), "pops": len(pops),
            "pops_paired": len(pairing.latencies_ms), "pop_ms": pairing.to_json()}
