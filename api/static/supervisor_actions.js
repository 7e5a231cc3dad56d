// A supervisor's actions on the wallboard (supervisor.html; supervisor.js owns the page and tells
// this module what changed on kit.js's bus: session, board, event, live, language, tick):
//   * listen / whisper / barge on a desk's call from the supervisor's own desk phone, chosen once
//     and kept in this browser (POST/PUT/DELETE /desks/{id}/spy); the session's mode in words,
//     switched live with one key; spy_* events keep it current;
//   * force a desk ready, paused or offline, with a reason (PUT /desks/{id}/state);
//   * the callers waiting in each queue (GET /queues, then each new caller's record once):
//     number, wait, priority; move to another queue, change the priority, pick for a ready desk;
//   * a number's policy (PUT /numbers/{number}/policy).
// Keys act on the desk row or caller that has the focus (Tab to it); a refusal is shown with the
// server's own words and the dialog stays open with what was typed. A viewer gets none of it.
// Every value from the server is shown with textContent.

import { $, h, city, view, t, addStrings, addEventTypes, bus, request, clock, setText, serverNow, agencyName } from "./kit.js";

addStrings({
  vi: {
    sact_title: "Thao tác giám sát",
    sact_my_desk: "Máy bàn của tôi (để nghe)",
    sact_my_desk_none: "— chọn —",
    sact_help: "Phím: Tab tới một bàn rồi L nghe · W nhắc · B xen vào · S dừng · F đặt trạng thái; tới một người gọi rồi M chuyển hàng · P ưu tiên · K giao cho bàn; D chọn máy của tôi · N chính sách số.",
    sact_listen: "Nghe",
    sact_whisper: "Nhắc",
    sact_barge: "Xen vào",
    sact_stop: "Dừng",
    sact_force: "Trạng thái…",
    sact_mode_listen: "NGHE",
    sact_mode_whisper: "NHẮC",
    sact_mode_barge: "XEN VÀO",
    sact_spy_line: "{mode} từ {from} · {phase}",
    sact_spy_ringing: "máy của giám sát đang đổ chuông",
    sact_spy_answered: "đang kết nối",
    sact_spy_none: "Không nghe bàn nào.",
    sact_spy_mine: "Bạn ở {desk}: {mode} từ {from} ({phase}).",
    sact_spy_others: "Đang nghe bàn khác: {list}.",
    sact_need_desk: "Chọn máy bàn của bạn trước (phím D).",
    sact_spy_started: "Đang gọi máy {from}: nhấc máy để vào bàn {desk} ({mode}).",
    sact_spy_switched: "Bàn {desk}: {mode}.",
    sact_spy_stopped: "Đã dừng nghe bàn {desk}.",
    sact_force_title: "Đặt trạng thái bàn {desk}",
    sact_force_state: "Trạng thái",
    sact_force_reason: "Lý do (bắt buộc)",
    sact_force_need_reason: "Hãy ghi lý do.",
    sact_forced: "Bàn {desk}: {state} ({reason}).",
    sact_waiting_title: "Người gọi đang chờ",
    sact_no_waiting: "không có ai chờ",
    sact_priority: "ưu tiên {p}",
    sact_picked: "→ {desk}",
    sact_move: "Chuyển hàng",
    sact_reprioritize: "Ưu tiên",
    sact_pick: "Giao cho bàn",
    sact_move_title: "Chuyển người gọi {caller} sang hàng chờ khác",
    sact_move_queue: "Hàng chờ",
    sact_moved: "Người gọi {caller} sang {queue} (giữ thời điểm gọi đến).",
    sact_priority_title: "Mức ưu tiên của người gọi {caller}",
    sact_priority_value: "Ưu tiên (0 là cao nhất)",
    sact_reprioritized: "Người gọi {caller}: ưu tiên {p}.",
    sact_pick_title: "Giao người gọi {caller} cho bàn",
    sact_pick_desk: "Bàn sẵn sàng",
    sact_pick_none: "không có bàn nào sẵn sàng",
    sact_picked_done: "Người gọi {caller} sẽ được chuyển tới {desk}.",
    sact_note: "Ghi chú",
    sact_submit: "Thực hiện",
    sact_numbers_title: "Chính sách số gọi",
    sact_number: "Số",
    sact_policy: "Chính sách",
    sact_policy_none: "không",
    sact_policy_lower_priority: "hạ ưu tiên",
    sact_policy_general_only: "chỉ hàng chờ chung",
    sact_policy_set: "Đặt",
    sact_policy_done: "Số {number}: {policy}.",
    sact_need_number: "Hãy nhập số.",
  },
  en: {
    sact_title: "Supervisor actions",
    sact_my_desk: "My desk phone (to listen)",
    sact_my_desk_none: "— choose —",
    sact_help: "Keys: Tab to a desk, then L listen · W whisper · B barge · S stop · F set state; to a caller, then M move · P priority · K pick for a desk; D my desk phone · N number policy.",
    sact_listen: "Listen",
    sact_whisper: "Whisper",
    sact_barge: "Barge",
    sact_stop: "Stop",
    sact_force: "State…",
    sact_mode_listen: "LISTENING",
    sact_mode_whisper: "WHISPERING",
    sact_mode_barge: "BARGED IN",
    sact_spy_line: "{mode} from {from} · {phase}",
    sact_spy_ringing: "the supervisor's phone rings",
    sact_spy_answered: "connected",
    sact_spy_none: "Not listening to any desk.",
    sact_spy_mine: "You on {desk}: {mode} from {from} ({phase}).",
    sact_spy_others: "Others listening: {list}.",
    sact_need_desk: "Choose your desk phone first (key D).",
    sact_spy_started: "Ringing {from}: answer it to join desk {desk} ({mode}).",
    sact_spy_switched: "Desk {desk}: {mode}.",
    sact_spy_stopped: "Stopped listening to desk {desk}.",
    sact_force_title: "Set desk {desk}'s state",
    sact_force_state: "State",
    sact_force_reason: "Reason (required)",
    sact_force_need_reason: "Give a reason.",
    sact_forced: "Desk {desk}: {state} ({reason}).",
    sact_waiting_title: "Callers waiting",
    sact_no_waiting: "nobody waiting",
    sact_priority: "priority {p}",
    sact_picked: "→ {desk}",
    sact_move: "Move",
    sact_reprioritize: "Priority",
    sact_pick: "Pick",
    sact_move_title: "Move caller {caller} to another queue",
    sact_move_queue: "Queue",
    sact_moved: "Caller {caller} to {queue} (arrival time kept).",
    sact_priority_title: "Priority of caller {caller}",
    sact_priority_value: "Priority (0 is the highest)",
    sact_reprioritized: "Caller {caller}: priority {p}.",
    sact_pick_title: "Pick caller {caller} for a desk",
    sact_pick_desk: "Ready desk",
    sact_pick_none: "no desk is ready",
    sact_picked_done: "Caller {caller} goes next to {desk}.",
    sact_note: "Note",
    sact_submit: "Do it",
    sact_numbers_title: "Caller number policy",
    sact_number: "Number",
    sact_policy: "Policy",
    sact_policy_none: "none",
    sact_policy_lower_priority: "lower priority",
    sact_policy_general_only: "general queue only",
    sact_policy_set: "Set",
    sact_policy_done: "Number {number}: {policy}.",
    sact_need_number: "Enter a number.",
  },
});

const SPY_EVENTS = ["spy_started", "spy_answered", "spy_mode", "spy_stopped"];
// Events after which the waiting callers are read again (the board's own refresh covers the rest).
const CALLER_EVENTS = ["call_moved", "call_reprioritized", "call_picked", "pick_dropped"];
addEventTypes([...SPY_EVENTS, "pick_dropped"]);

const SPY_MODES = ["listen", "whisper", "barge"];
const SPY_KEYS = { listen: "L", whisper: "W", barge: "B" };
const FORCED_STATES = ["ready", "paused", "offline"];      // api/schemas.py DeskStateChange
const POLICIES = ["none", "lower_priority", "general_only"];  // queueing/states.py NumberPolicy
const MY_DESK_KEY = "hotline.supervisor.desk";

// Its own styles, from this server (the page's CSP allows 'self' only).
document.head.append(h("link", { rel: "stylesheet", href: new URL("./supervisor_actions.css", import.meta.url).pathname }));

const act = {
  on: false,             // a supervisor is signed in
  spies: new Map(),      // desk_id → {mode, supervisor_desk, answered}
  spiesStale: true,      // read every on-call desk's session at the next board
  queues: [],            // GET /queues
  callers: new Map(),    // call_id → its record, read once (again after an event about it)
  readingQueues: false,
  queuesAgain: false,
  message: "",
  messageKind: "",
};

function myDesk() {
  const saved = localStorage.getItem(MY_DESK_KEY) || "";
  return saved in city.desks ? saved : "";
}

function say(text, kind = "done") {
  act.message = text;
  act.messageKind = kind;
  const box = $("sact-message");
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
}

function refused(error) {
  say(t("refused", { detail: error.detail }), "error");
}

function modeWord(mode) {
  return t(`sact_mode_${mode}`);
}

function keyButton(key, label, run, extra = {}) {
  return h("button", { type: "button", class: "key-button small", "data-action": extra.action || label, onclick: run, ...extra.attrs },
    h("kbd", {}, key), " ", t(label));
}

// --- the page's own parts: the toolbar, the number policy form, the dialog ---------------

function build() {
  if ($("sact-bar")) return;
  const select = h("select", { id: "sact-my-desk", onchange: () => { localStorage.setItem(MY_DESK_KEY, select.value); renderSpyStatus(); } });
  const bar = h("section", { id: "sact-bar", class: "sact-bar", "aria-label": t("sact_title") },
    h("label", { for: "sact-my-desk", "data-t": "sact_my_desk" }, t("sact_my_desk")), " ", select,
    h("span", { id: "sact-spy-status", class: "sact-spy-status", role: "status", "aria-live": "polite" }),
    h("p", { id: "sact-message", class: "sact-message", hidden: true }),
    h("p", { id: "sact-help", class: "sact-help quiet", "data-t": "sact_help" }, t("sact_help")));
  $("queues").before(bar);

  const number = h("input", { id: "sact-number", name: "number", inputmode: "tel", autocomplete: "off", maxlength: 32 });
  const policy = h("select", { id: "sact-policy", name: "policy" });
  const note = h("input", { id: "sact-policy-note", name: "note", maxlength: 500, autocomplete: "off" });
  const form = h("form", { id: "sact-numbers", class: "sact-numbers", novalidate: true, onsubmit: setPolicy },
    h("h2", { "data-t": "sact_numbers_title" }, t("sact_numbers_title")),
    h("label", { for: "sact-number", "data-t": "sact_number" }, t("sact_number")), number,
    h("label", { for: "sact-policy", "data-t": "sact_policy" }, t("sact_policy")), policy,
    h("label", { for: "sact-policy-note", "data-t": "sact_note" }, t("sact_note")), note,
    h("button", { type: "submit", class: "key-button" }, h("kbd", {}, "Enter"), " ", h("span", { "data-t": "sact_policy_set" }, t("sact_policy_set"))));
  form.addEventListener("keydown", submitOnEnterInSelect);
  $("board").append(form);
  document.body.append(h("dialog", { id: "sact-dialog", class: "sact-dialog" }));
  renderTexts();
}

function unbuild() {
  for (const id of ["sact-bar", "sact-numbers", "sact-dialog"]) $(id)?.remove();
  for (const cell of document.querySelectorAll(".desk-actions, .queue-actions")) {
    cell.replaceChildren();
    delete cell.dataset.sig;
  }
}

/** Texts that change with the language: the toolbar's choices, the form's policies. */
function renderTexts() {
  const select = $("sact-my-desk");
  if (select) {
    const chosen = myDesk();
    select.replaceChildren(h("option", { value: "" }, t("sact_my_desk_none")),
      ...Object.entries(city.desks).map(([desk, agency]) => h("option", { value: desk, selected: desk === chosen }, `${desk} · ${agencyName(agency)}`)));
  }
  const policy = $("sact-policy");
  if (policy) {
    const chosen = policy.value || "lower_priority";
    policy.replaceChildren(...POLICIES.map((p) => h("option", { value: p, selected: p === chosen }, t(`sact_policy_${p}`))));
  }
  for (const el of document.querySelectorAll("#sact-bar [data-t], #sact-numbers [data-t]")) el.textContent = t(el.dataset.t);
}

// --- desks: spy and forced state ----------------------------------------------------------

function renderDeskCell(cell) {
  const deskId = cell.dataset.desk;
  const desk = view.desks?.get(deskId);
  if (!desk) return;
  const spy = act.spies.get(deskId);
  const sig = [view.language, desk.state, spy ? `${spy.mode}/${spy.supervisor_desk}/${spy.answered}` : ""].join("|");
  if (cell.dataset.sig === sig) return;  // unchanged: keep the focus where it is
  const focused = cell.contains(document.activeElement) ? document.activeElement.dataset.action : "";
  cell.dataset.sig = sig;
  const parts = [];
  if (desk.state === "on_call" || spy) {
    if (spy) {
      parts.push(h("span", { class: "sact-spy", "data-mode": spy.mode },
        t("sact_spy_line", { mode: modeWord(spy.mode), from: spy.supervisor_desk, phase: t(spy.answered ? "sact_spy_answered" : "sact_spy_ringing") })));
    }
    for (const mode of SPY_MODES) {
      parts.push(keyButton(SPY_KEYS[mode], `sact_${mode}`, () => spyOn(deskId, mode),
        { action: mode, attrs: { "aria-pressed": String(spy?.mode === mode) } }));
    }
    if (spy) parts.push(keyButton("S", "sact_stop", () => spyStop(deskId), { action: "stop" }));
  }
  parts.push(keyButton("F", "sact_force", () => forceDialog(deskId), { action: "force" }));
  cell.replaceChildren(h("span", { class: "sact-row" }, ...parts));
  if (focused) cell.querySelector(`[data-action="${focused}"]`)?.focus();
}

function renderDesks() {
  if (!act.on) return;
  for (const cell of document.querySelectorAll("#desks .desk-actions[data-desk]")) renderDeskCell(cell);
  renderSpyStatus();
}

function renderSpyStatus() {
  const box = $("sact-spy-status");
  if (!box) return;
  const mine = myDesk();
  const lines = [];
  const others = [];
  for (const [desk, spy] of act.spies) {
    const phase = t(spy.answered ? "sact_spy_answered" : "sact_spy_ringing");
    if (spy.supervisor_desk === mine) lines.push(t("sact_spy_mine", { mode: modeWord(spy.mode), desk, from: spy.supervisor_desk, phase }));
    else others.push(`${desk} (${modeWord(spy.mode)}, ${spy.supervisor_desk})`);
  }
  if (others.length) lines.push(t("sact_spy_others", { list: others.join(", ") }));
  setText(box, lines.join(" ") || t("sact_spy_none"));
  box.dataset.active = lines.length ? "yes" : "no";
}

async function spyOn(deskId, mode) {
  const spy = act.spies.get(deskId);
  try {
    if (spy) {
      const session = await request("PUT", `/desks/${encodeURIComponent(deskId)}/spy`, { mode });
      noteSpy(session);
      say(t("sact_spy_switched", { desk: deskId, mode: modeWord(mode) }));
    } else {
      const from = myDesk();
      if (!from) {
        say(t("sact_need_desk"), "error");
        $("sact-my-desk")?.focus();
        return;
      }
      const session = await request("POST", `/desks/${encodeURIComponent(deskId)}/spy`, { mode, supervisor_desk: from });
      noteSpy(session);
      say(t("sact_spy_started", { from, desk: deskId, mode: modeWord(mode) }));
    }
  } catch (error) {
    refused(error);
  }
  renderDesks();
}

async function spyStop(deskId) {
  try {
    await request("DELETE", `/desks/${encodeURIComponent(deskId)}/spy`);
    act.spies.delete(deskId);
    say(t("sact_spy_stopped", { desk: deskId }));
  } catch (error) {
    refused(error);
  }
  renderDesks();
}

function noteSpy(session) {
  if (session) {
    act.spies.set(session.desk_id, { mode: session.mode, supervisor_desk: session.supervisor_desk, answered: Boolean(session.answered_ms) });
  }
}

/** Every on-call desk's spy session, read once after sign-in and after the stream came back. */
async function readSpies() {
  act.spiesStale = false;
  const desks = [...(view.desks?.values() || [])].filter((d) => d.state === "on_call").map((d) => d.desk_id);
  const sessions = await Promise.all(desks.map((d) => request("GET", `/desks/${encodeURIComponent(d)}/spy`).catch(() => undefined)));
  const seen = new Set();
  desks.forEach((desk, i) => {
    if (sessions[i] === undefined) return;  // could not read: keep what the events said
    seen.add(desk);
    if (sessions[i]) noteSpy(sessions[i]);
    else act.spies.delete(desk);
  });
  for (const desk of [...act.spies.keys()]) if (!seen.has(desk) && view.desks?.get(desk)?.state !== "on_call") act.spies.delete(desk);
  renderDesks();
}

function onSpyEvent(type, data) {
  const desk = data.desk_id;
  if (!desk) return;
  if (type === "spy_stopped") act.spies.delete(desk);
  else {
    const now = act.spies.get(desk) || { answered: false };
    act.spies.set(desk, {
      mode: data.mode || now.mode, supervisor_desk: data.supervisor_desk || now.supervisor_desk,
      answered: type === "spy_answered" || (type !== "spy_started" && now.answered),
    });
  }
  renderDesks();
}

function forceDialog(deskId) {
  const desk = view.desks?.get(deskId);
  const state = h("select", { id: "sact-force-state", name: "state" },
    ...FORCED_STATES.map((s) => h("option", { value: s, selected: s === (desk?.state === "paused" ? "ready" : "paused") }, t(`state_${s}`))));
  const reason = h("input", { id: "sact-force-reason", name: "reason", maxlength: 80, required: true, autocomplete: "off" });
  openDialog(t("sact_force_title", { desk: deskId }), [
    h("label", { for: "sact-force-state" }, t("sact_force_state")), state,
    h("label", { for: "sact-force-reason" }, t("sact_force_reason")), reason,
  ], async () => {
    if (!reason.value.trim()) {
      reason.focus();
      return t("sact_force_need_reason");
    }
    await request("PUT", `/desks/${encodeURIComponent(deskId)}/state`, { state: state.value, reason: reason.value.trim() });
    say(t("sact_forced", { desk: deskId, state: t(`state_${state.value}`), reason: reason.value.trim() }));
    return "";
  }, reason);
}

// --- waiting callers ------------------------------------------------------------------------

/** GET /queues, then the record of each caller not read yet; one read at a time, once more after. */
async function readQueues() {
  if (!act.on) return;
  if (act.readingQueues) {
    act.queuesAgain = true;
    return;
  }
  act.readingQueues = true;
  try {
    const queues = await request("GET", "/queues");
    const waiting = new Set(queues.flatMap((q) => q.waiting));
    for (const id of [...act.callers.keys()]) if (!waiting.has(id)) act.callers.delete(id);
    const fresh = [...waiting].filter((id) => !act.callers.has(id));
    const records = await Promise.all(fresh.map((id) => request("GET", `/calls/${encodeURIComponent(id)}`).catch(() => null)));
    fresh.forEach((id, i) => { if (records[i]) act.callers.set(id, records[i]); });
    act.queues = queues;
    renderQueues();
  } catch (error) {
    if (error.status !== 401) say(t("refused", { detail: error.detail }), "error");
  } finally {
    act.readingQueues = false;
    if (act.queuesAgain) {
      act.queuesAgain = false;
      readQueues();
    }
  }
}

function callerLabel(callId) {
  return act.callers.get(callId)?.caller || callId;
}

function renderQueues() {
  if (!act.on) return;
  for (const q of act.queues) {
    const slot = document.querySelector(`.queue-actions[data-queue="${CSS.escape(q.queue)}"]`);
    if (!slot) continue;
    const records = q.waiting.map((id) => act.callers.get(id) || { call_id: id });
    const sig = [view.language, ...records.map((r) => `${r.call_id}/${r.priority}/${r.picked_desk || ""}`)].join("|");
    if (slot.dataset.sig === sig) continue;
    const focused = document.activeElement;
    const focusedCall = slot.contains(focused) ? focused.closest("[data-call]")?.dataset.call : "";
    const focusedAction = focusedCall ? focused.dataset.action : "";
    slot.dataset.sig = sig;
    slot.replaceChildren(
      h("h3", { class: "sact-waiting-title" }, t("sact_waiting_title")),
      records.length ? h("ol", { class: "sact-callers" }, ...records.map((r) => h("li", { "data-call": r.call_id, tabindex: "-1" },
        h("span", { class: "mono sact-caller" }, r.caller || r.call_id), " ",
        h("span", { class: "timer sact-wait", "data-arrived": r.arrived_ms || "" }), " ",
        h("span", { class: "sact-priority" }, t("sact_priority", { p: r.priority ?? "?" })),
        r.picked_desk ? h("span", { class: "sact-picked" }, " ", t("sact_picked", { desk: r.picked_desk })) : null,
        h("span", { class: "sact-row" },
          keyButton("M", "sact_move", () => moveDialog(r.call_id, q.queue), { action: "move" }),
          keyButton("P", "sact_reprioritize", () => priorityDialog(r.call_id), { action: "priority" }),
          keyButton("K", "sact_pick", () => pickDialog(r.call_id, q.queue), { action: "pick" })))))
        : h("p", { class: "quiet" }, t("sact_no_waiting")));
    if (focusedCall) {
      const item = slot.querySelector(`[data-call="${CSS.escape(focusedCall)}"]`);
      (item?.querySelector(`[data-action="${focusedAction}"]`) || item)?.focus();
    }
  }
  tick();
}

function tick() {
  const now = serverNow();
  for (const el of document.querySelectorAll(".sact-wait")) {
    setText(el, el.dataset.arrived ? clock(now - Number(el.dataset.arrived)) : "—");
  }
}

/** One caller's action in the dialog: `field` (its label `label`) and a note; send() makes the
 * request and returns what to say when done. The caller is read again after. */
function callerDialog(callId, titleKey, label, field, send) {
  const note = h("input", { id: `${field.id}-note`, name: "note", maxlength: 200, autocomplete: "off" });
  const caller = callerLabel(callId);
  openDialog(t(titleKey, { caller }), [
    h("label", { for: field.id }, t(label)), field,
    h("label", { for: note.id }, t("sact_note")), note,
  ], async () => {
    say(await send(caller, note.value.trim()));
    act.callers.delete(callId);
    readQueues();
    return "";
  }, field);
}

function callPath(callId, action) {
  return `/calls/${encodeURIComponent(callId)}/${action}`;
}

function moveDialog(callId, from) {
  const queue = h("select", { id: "sact-move-queue", name: "queue" },
    ...act.queues.map((q) => q.queue).filter((q) => q !== from).map((q) => h("option", { value: q }, agencyName(q))));
  callerDialog(callId, "sact_move_title", "sact_move_queue", queue, async (caller, note) => {
    await request("POST", callPath(callId, "move"), { queue: queue.value, note });
    return t("sact_moved", { caller, queue: agencyName(queue.value) });
  });
}

function priorityDialog(callId) {
  const record = act.callers.get(callId) || {};
  const value = h("input", { id: "sact-priority-value", name: "priority", type: "number", min: 0, max: 99, step: 1,
    value: record.priority ?? "" });
  callerDialog(callId, "sact_priority_title", "sact_priority_value", value, async (caller, note) => {
    const priority = Number.parseInt(value.value, 10);
    // not a number: sent as typed, and the server says what it wants
    await request("PUT", callPath(callId, "priority"), { priority: Number.isNaN(priority) ? value.value : priority, note });
    return t("sact_reprioritized", { caller, p: priority });
  });
}

function pickDialog(callId, queue) {
  // Ready desks, those of the caller's queue first; the server refuses one that does not serve it.
  const ready = [...(view.desks?.values() || [])].filter((d) => d.state === "ready")
    .sort((a, b) => Number(b.agency === queue) - Number(a.agency === queue) || a.desk_id.localeCompare(b.desk_id));
  const desk = h("select", { id: "sact-pick-desk", name: "desk_id" },
    ...(ready.length ? ready.map((d) => h("option", { value: d.desk_id }, `${d.desk_id} · ${agencyName(d.agency)}`))
      : [h("option", { value: "" }, t("sact_pick_none"))]));
  callerDialog(callId, "sact_pick_title", "sact_pick_desk", desk, async (caller, note) => {
    await request("POST", callPath(callId, "pick"), { desk_id: desk.value, note });
    return t("sact_picked_done", { caller, desk: desk.value });
  });
}

// --- the number policy ----------------------------------------------------------------------

async function setPolicy(event) {
  event.preventDefault();
  const number = $("sact-number").value.trim();
  const policy = $("sact-policy").value;
  if (!number) {
    say(t("sact_need_number"), "error");
    $("sact-number").focus();
    return;
  }
  try {
    await request("PUT", `/numbers/${encodeURIComponent(number)}/policy`,
      { policy, set_by: view.session.user, note: $("sact-policy-note").value.trim() });
    say(t("sact_policy_done", { number, policy: t(`sact_policy_${policy}`) }));
    $("sact-policy-note").value = "";
  } catch (error) {
    refused(error);  // the number and the note stay as typed
  }
}

// --- the dialog -----------------------------------------------------------------------------

/** Enter on a choice does it too: a select does not submit its form by itself. */
function submitOnEnterInSelect(event) {
  if (event.key === "Enter" && event.target instanceof HTMLSelectElement) {
    event.preventDefault();
    event.currentTarget.requestSubmit();
  }
}

/** A modal form: Enter does it, Escape closes. submit() returns "" when done (the dialog closes),
 * or a text to show; a refusal shows the server's words and keeps what was typed. */
function openDialog(title, fields, submit, first) {
  const dialog = $("sact-dialog");
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "key-button" }, h("kbd", {}, "Enter"), " ", t("sact_submit"));
  const form = h("form", { method: "dialog", class: "sact-form", novalidate: true },
    h("h2", {}, title), ...fields, error,
    h("p", { class: "action-row" }, button,
      h("button", { type: "button", class: "key-button", onclick: () => dialog.close() }, h("kbd", {}, "Esc"), " ", t("cancel"))));
  form.addEventListener("keydown", submitOnEnterInSelect);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const problem = await submit();
      if (problem) {
        error.textContent = problem;
        error.hidden = false;
      } else {
        dialog.close();
      }
    } catch (failure) {
      error.textContent = t("refused", { detail: failure.detail });
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  dialog.replaceChildren(form);
  const back = document.activeElement;
  dialog.onclose = () => { if (back && back.isConnected) back.focus(); };
  dialog.showModal();
  first?.focus();
}

// --- keys -----------------------------------------------------------------------------------

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName));
}

document.addEventListener("keydown", (event) => {
  if (!act.on || event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || $("sact-dialog")?.open) return;
  const key = event.key.toLowerCase();
  const focus = document.activeElement;
  const row = focus?.closest?.("#desks tr[data-desk]");
  const item = focus?.closest?.(".queue-actions [data-call]");
  let button = null;
  if (key === "d") {
    $("sact-my-desk")?.focus();
  } else if (key === "n") {
    $("sact-number")?.focus();
  } else if (row) {
    const action = { l: "listen", w: "whisper", b: "barge", s: "stop", f: "force" }[key];
    button = action ? row.querySelector(`.desk-actions [data-action="${action}"]`) : null;
  } else if (item) {
    const action = { m: "move", p: "priority", k: "pick" }[key];
    button = action ? item.querySelector(`[data-action="${action}"]`) : null;
  } else {
    return;
  }
  if (key !== "d" && key !== "n" && !button) return;
  event.preventDefault();
  button?.click();
});

// --- the bus --------------------------------------------------------------------------------

function onSession(session) {
  act.on = Boolean(session && session.role === "supervisor");
  act.spies.clear();
  act.callers.clear();
  act.queues = [];
  act.spiesStale = true;
  if (act.on) build();
  else unbuild();
}

function onBoard() {
  if (!act.on) return;
  if (act.spiesStale) readSpies();
  else renderDesks();
  readQueues();
}

bus.addEventListener("session", (e) => onSession(e.detail));
bus.addEventListener("board", onBoard);

bus.addEventListener("event", (e) => {
  if (!act.on) return;
  const { type, data } = e.detail;
  if (SPY_EVENTS.includes(type)) onSpyEvent(type, data);
  if (CALLER_EVENTS.includes(type) && data.call_id) {
    act.callers.delete(data.call_id);
    readQueues();
  }
  // supervisor.js moves the desk after telling the bus: draw once it has.
  if (["desk_state", "desk_released", "offered", "answered", "offer_failed", "call_ended"].includes(type)) setTimeout(renderDesks, 0);
});

bus.addEventListener("live", (e) => { if (e.detail) act.spiesStale = true; });

bus.addEventListener("language", () => {
  if (!act.on) return;
  renderTexts();
  renderDesks();
  renderQueues();
  if (act.message) say(act.message, act.messageKind);
});

bus.addEventListener("tick", () => { if (act.on) tick(); });

// This module may load after the page signed in and read the board (each module script is its own
// fetch): start from what the page has already.
if (view.session) {
  onSession(view.session);
  if (view.board) onBoard();
}
