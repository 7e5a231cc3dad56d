"""Pop latency: the desk's INVITE leaving Asterisk → the screen pop drawn in a console.

Pure parts only so far (the phase that opens 50 consoles is not wired yet, see
BENCHMARKS.md): the page's stamp script, reading a DialBegin event, and pairing the
two sides' stamps by call id. Both sides stamp with this machine's wall clock in ms
(the browser: ``performance.timeOrigin + performance.now()``; the AMI listener: the
receive time of ``DialBegin``), so the pairs subtract directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
