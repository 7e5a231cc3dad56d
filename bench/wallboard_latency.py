"""Wallboard latency: a desk's state changing in Redis → that state drawn on a supervisor's page.

Pure parts (bench/wallboard_pages.py opens the pages and places the calls): the page's stamp
script, the desk states the event stream says each desk took and when (the Lua script's clock,
``ms``), and the pairing. Both sides use this machine's wall clock in ms, so pairs subtract
directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bench.stats import summary_ms
from queueing.states import DeskState

# Added to every wallboard page with ``page.add_init_script``: records when a desk row's state
# (its ``data-state``, on the element carrying ``data-desk``) is drawn, the frame after it changed.
WALLBOARD_STAMP_SCRIPT = """
(() => {
  window.__deskStamps = [];
  const note = (el) => {
    const desk = el.getAttribute('data-desk');
    const state = el.getAttribute('data-state');
    if (!desk || !state || el.__drawn === state) return;
    el.__drawn = state;
    requestAnimationFrame(() => window.__deskStamps.push(
      {desk, state, t: performance.timeOrigin + performance.now()}));
  };
  const start = () => {
    new MutationObserver((changes) => {
      for (const change of changes) {
        if (change.type === 'attributes') note(change.target);
        for (const added of change.addedNodes || []) {
          if (added.nodeType !== 1) continue;
          if (added.hasAttribute('data-desk')) note(added);
          for (const inner of added.querySelectorAll('[data-desk][data-state]')) note(inner);
        }
      }
    }).observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                          attributeFilter: ['data-state']});
  };
  if (document.documentElement) start(); else addEventListener('DOMContentLoaded', start);
})();
"""

# The desk's state after each event that changes it (queueing/lua/*.lua's emit()).
_STATE_AFTER = {"offered": DeskState.RINGING, "answered": DeskState.ON_CALL}


def desk_changes(events: Iterable[Mapping[str, str]]) -> list[tuple[str, str, float]]:
    """(desk id, the state it took, Redis's ms) for every event that changed a desk's state."""
    out = []
    for event in events:
        desk = event.get("desk_id", "")
        kind = event.get("type", "")
        state = _STATE_AFTER.get(kind) or (event.get("state") if kind == "desk_state" else event.get("desk_state"))
        ms = event.get("ms", "")
        if desk and state and ms.isdigit():
            out.append((desk, str(state), float(ms)))
    return out


def pair_draws(changes: Sequence[tuple[str, str, float]], draws: Iterable[tuple[int, str, str, float]],
               pages: int) -> dict[str, Any]:
    """Each page's draw of a desk state matched to the latest change of that desk to that state
    at or before it; draws with none (the page's first drawing of states older than the run) are
    left out. ``missed``: (page, change) pairs with no draw (a page may skip a state that changed
    again within a frame: counted, not hidden). ``stale``: draws of a state the desk had already
    left (a later change of the desk came before the draw): the page showed the past."""
    by_state: dict[tuple[str, str], list[float]] = {}
    by_desk: dict[str, list[float]] = {}
    for desk, state, ms in changes:
        by_state.setdefault((desk, state), []).append(ms)
        by_desk.setdefault(desk, []).append(ms)
    for times in (*by_state.values(), *by_desk.values()):
        times.sort()
    latencies = []
    drawn: set[tuple[int, str, str, float]] = set()
    stale = 0
    for page, desk, state, t in draws:
        before = [ms for ms in by_state.get((desk, state), []) if ms <= t]
        if not before:
            continue
        latencies.append(t - before[-1])
        drawn.add((page, desk, state, before[-1]))
        if any(before[-1] < ms <= t for ms in by_desk[desk]):
            stale += 1
    return {"pages": pages, "changes": len(changes), "draws_paired": len(latencies),
            "draws_missed": max(0, len(changes) * pages - len(drawn)), "draws_stale": stale,
            "draw_ms": summary_ms(latencies)}
