// Callbacks (slot-callbacks): the citizens who hung up before a desk answered, that this
// call-taker's agency (and the general queue) should call back. A row: the number, how long
// ago the caller hung up (live), the attempts, the status, the call it came from; per row
// "Dial" (the city's dialer rings this desk, then the citizen) and "Record outcome" (after
// calling back by hand). When the dialer is off, the server says so (409): the panel shows
// its words and the row says to call from the desk phone.
//
// Keys: B puts the cursor on the list; ↑/↓ move; Enter or D dials; O records an outcome.
// Every value from the server is shown with textContent: never parsed as HTML.

import { $, h, city, view, t, addStrings, addKey, addEventTypes, bus, request, ApiError, clock, setText, serverNow, msField, agencyName } from "./kit.js";

addStrings({
  vi: {
    callbacks_title: "Gọi lại người gọi nhỡ",
    callbacks_none: "Không có ai cần gọi lại.",
    callbacks_loading: "Đang tải danh sách gọi lại…",
    callbacks_number: "Số điện thoại",
    callbacks_age: "Gác máy",
    callbacks_attempts: "Lần gọi",
    callbacks_status: "Trạng thái",
    callbacks_call: "Cuộc gọi gốc",
    callbacks_actions: "Thao tác",
    callbacks_dial: "Gọi",
    callbacks_outcome: "Ghi kết quả",
    callbacks_ago: "{time} trước",
    callbacks_status_pending: "chờ gọi lại",
    callbacks_status_dialing: "đang quay số",
    callbacks_status_retry_at: "gọi lại lúc {time}",
    callbacks_last: "lần trước: {outcome}",
    callbacks_dial_sent: "Đã yêu cầu gọi lại {number}: bàn này đổ chuông trước, rồi đến người gọi.",
    callbacks_by_hand: "Gọi {number} từ điện thoại bàn, rồi ghi kết quả (O).",
    callbacks_refused: "Không gọi được: {detail}",
    callbacks_outcome_refused: "Không ghi được kết quả: {detail}",
    callbacks_recorded: "Đã ghi kết quả cho {number}: {outcome}.",
    callbacks_outcome_title: "Kết quả gọi lại {number}",
    callbacks_note: "Ghi chú (không bắt buộc)",
    callbacks_save: "Lưu",
    callbacks_choose: "Hãy chọn một kết quả (1–5).",
    callbacks_outcome_reached: "đã liên lạc được",
    callbacks_outcome_no_answer: "không nghe máy",
    callbacks_outcome_busy: "máy bận",
    callbacks_outcome_failed: "không gọi được số này",
    callbacks_outcome_not_needed: "không cần gọi lại",
    callbacks_outcome_desk_unavailable: "bàn không nghe",
    callbacks_outcome_cancelled: "đã hủy",
    callbacks_outcome_system_error: "lỗi hệ thống",
    callbacks_key_list: "Đến danh sách gọi lại",
    callbacks_key_row: "Trong danh sách gọi lại: Enter/D gọi, O ghi kết quả",
    callbacks_unavailable: "Không đọc được danh sách gọi lại: {detail}",
  },
  en: {
    callbacks_title: "Call back abandoned callers",
    callbacks_none: "Nobody to call back.",
    callbacks_loading: "Loading the callbacks…",
    callbacks_number: "Number",
    callbacks_age: "Hung up",
    callbacks_attempts: "Attempts",
    callbacks_status: "Status",
    callbacks_call: "From call",
    callbacks_actions: "Actions",
    callbacks_dial: "Dial",
    callbacks_outcome: "Record outcome",
    callbacks_ago: "{time} ago",
    callbacks_status_pending: "to call back",
    callbacks_status_dialing: "dialling",
    callbacks_status_retry_at: "retry at {time}",
    callbacks_last: "last: {outcome}",
    callbacks_dial_sent: "Calling {number} back: this desk rings first, then the citizen.",
    callbacks_by_hand: "Call {number} from the desk phone, then record the outcome (O).",
    callbacks_refused: "Not dialled: {detail}",
    callbacks_outcome_refused: "Outcome not recorded: {detail}",
    callbacks_recorded: "Outcome recorded for {number}: {outcome}.",
    callbacks_outcome_title: "How did calling {number} back go?",
    callbacks_note: "Note (optional)",
    callbacks_save: "Save",
    callbacks_choose: "Choose an outcome (1–5).",
    callbacks_outcome_reached: "reached",
    callbacks_outcome_no_answer: "no answer",
    callbacks_outcome_busy: "busy",
    callbacks_outcome_failed: "number failed",
    callbacks_outcome_not_needed: "not needed",
    callbacks_outcome_desk_unavailable: "desk did not answer",
    callbacks_outcome_cancelled: "cancelled",
    callbacks_outcome_system_error: "system error",
    callbacks_key_list: "Go to the callback list",
    callbacks_key_row: "In the callback list: Enter/D dial, O record outcome",
    callbacks_unavailable: "Cannot read the callbacks: {detail}",
  },
});

// What a call-taker may report by hand (api/schemas.py CallbackOutcome), in key order 1–5.
const OUTCOMES = ["reached", "no_answer", "busy", "failed", "not_needed"];
// Every type queueing/lua/callback_*.lua emits (close_callback emits callback_<final status>).
addEventTypes([
  "callback_created", "callback_dialing", "callback_attempt",
  "callback_reached", "callback_given_up", "callback_not_needed", "callback_not_possible",
]);
const STATUS_SYMBOLS = { pending: "○", dialing: "☎", retry_at: "↻" };

const panel = {
  tasks: null,          // the list as the server gave it; null: not read yet
  error: "",            // the list could not be read
  message: "",
  messageKind: "",
  byHand: new Set(),    // call ids the dialer refused: call them from the desk phone
  selected: "",         // the call id of the row with the cursor
  outcomeFor: "",       // the call id the outcome dialog is for
  outcome: "",          // the outcome chosen in the dialog
  loading: 0,
  reloadTimer: 0,
};

function agency() {
  const session = view.session;
  if (!session) return "";
  return session.agency || city.desks[session.desk] || city.general;
}

function say(text, kind = "") {
  panel.message = text;
  panel.messageKind = kind;
  renderMessage();
}

// --- reading ----------------------------------------------------------------------------

async function load() {
  const which = agency();
  if (!which) return;
  const asked = ++panel.loading;
  try {
    const tasks = await request("GET", `/callbacks/${encodeURIComponent(which)}`);
    if (asked !== panel.loading || !view.session) return;
    panel.tasks = Array.isArray(tasks) ? tasks : [];
    panel.error = "";
    const open = new Set(panel.tasks.map((task) => task.call_id));
    for (const id of panel.byHand) if (!open.has(id)) panel.byHand.delete(id);
  } catch (error) {
    if (asked !== panel.loading) return;
    if (error instanceof ApiError && error.status === 401) return;
    panel.error = t("callbacks_unavailable", { detail: error.detail });
  }
  render();
}

/** Events come in bursts (an outcome closes a task and frees a desk): one read for a burst. */
function reloadSoon() {
  clearTimeout(panel.reloadTimer);
  panel.reloadTimer = setTimeout(load, 150);
}

function task(callId) {
  return (panel.tasks || []).find((one) => one.call_id === callId) || null;
}

// --- drawing ----------------------------------------------------------------------------

function statusWords(one) {
  const status = one.status || "";
  let words;
  if (status === "retry_at") {
    const next = msField(one, "next_attempt_ms");
    words = t("callbacks_status_retry_at", { time: next ? new Date(next).toLocaleTimeString(view.language === "vi" ? "vi-VN" : "en-GB", { hour12: false }) : "—" });
  } else {
    const key = `callbacks_status_${status}`;
    words = t(key) === key ? status : t(key);
  }
  return words;
}

function outcomeWords(outcome) {
  const key = `callbacks_outcome_${outcome}`;
  return t(key) === key ? outcome : t(key);
}

function row(one) {
  const callId = one.call_id;
  const byHand = panel.byHand.has(callId);
  const status = one.status || "";
  const selected = callId === panel.selected;
  const statusCell = h("td", { class: "callbacks-status" },
    h("span", { class: "callbacks-symbol", "aria-hidden": "true" }, STATUS_SYMBOLS[status] || "?"), " ",
    h("span", {}, statusWords(one)));
  if (one.last_outcome) statusCell.append(h("div", { class: "quiet" }, t("callbacks_last", { outcome: outcomeWords(one.last_outcome) })));
  const queue = one.queue || "";
  const numberCell = h("td", { class: "callbacks-number mono" }, one.number || "—");
  if (queue && queue !== agency()) numberCell.append(h("div", { class: "quiet callbacks-queue" }, agencyName(queue)));
  const tr = h("tr", {
    class: "callbacks-row", tabIndex: selected ? 0 : -1, dataset: { callId, status, byHand: byHand ? "yes" : "no" },
    "aria-selected": selected ? "true" : "false", onfocus: () => select(callId, false),
  },
  numberCell,
  h("td", { class: "timer callbacks-age", dataset: { since: one.abandoned_ms || "" } }, ""),
  h("td", { class: "callbacks-attempts" }, one.attempts || "0"),
  statusCell,
  h("td", { class: "mono callbacks-call" }, callId),
  h("td", { class: "callbacks-actions" },
    h("button", { type: "button", class: "key-button small callbacks-dial", tabIndex: -1, disabled: status === "dialing",
      onclick: () => dial(callId) }, h("kbd", {}, "Enter"), " ", t("callbacks_dial")),
    " ",
    h("button", { type: "button", class: "key-button small callbacks-record", tabIndex: -1,
      onclick: () => openOutcome(callId) }, h("kbd", {}, "O"), " ", t("callbacks_outcome"))));
  if (!byHand) return [tr];
  // The dialer is off (or refused): say what to do instead, under the row, in words.
  const hint = h("tr", { class: "callbacks-hint", dataset: { callId } },
    h("td", { colSpan: 6 }, h("span", { "aria-hidden": "true" }, "☎ "), t("callbacks_by_hand", { number: one.number || callId })));
  return [tr, hint];
}

function render() {
  const slot = $("slot-callbacks");
  if (!slot) return;
  if (!view.session) {
    slot.replaceChildren();
    return;
  }
  const title = h("h3", { id: "callbacks-title" }, t("callbacks_title"), " ",
    h("span", { class: "quiet callbacks-count" }, panel.tasks ? `(${panel.tasks.length})` : ""), " ",
    h("kbd", { class: "callbacks-key" }, "B"));
  const parts = [title];
  if (panel.error) parts.push(h("p", { class: "error callbacks-error", role: "alert" }, panel.error));
  if (panel.tasks === null) parts.push(h("p", { class: "quiet" }, t("callbacks_loading")));
  else if (!panel.tasks.length) parts.push(h("p", { class: "quiet callbacks-none" }, t("callbacks_none")));
  else {
    if (!task(panel.selected)) panel.selected = panel.tasks[0].call_id;
    const head = h("thead", {}, h("tr", {}, ...["number", "age", "attempts", "status", "call", "actions"]
      .map((name) => h("th", { scope: "col" }, t(`callbacks_${name}`)))));
    const body = h("tbody", {}, ...panel.tasks.flatMap(row));
    parts.push(h("table", { id: "callbacks-list", class: "callbacks-table", "aria-labelledby": "callbacks-title", onkeydown: onListKey },
      head, body));
  }
  parts.push(h("p", { id: "callbacks-message", class: "callbacks-message", role: "status", "aria-live": "polite",
    hidden: !panel.message, dataset: { kind: panel.messageKind } }, panel.message));
  // Keep the cursor where it was when the list is drawn again.
  const hadFocus = slot.contains(document.activeElement) && document.activeElement.closest("tr.callbacks-row");
  slot.replaceChildren(h("div", { class: "panel callbacks", "aria-labelledby": "callbacks-title" }, ...parts));
  if (hadFocus) focusSelected();
  tick();
}

function renderMessage() {
  const box = $("callbacks-message");
  if (!box) return render();
  box.textContent = panel.message;
  box.hidden = !panel.message;
  box.dataset.kind = panel.messageKind;
}

function tick() {
  const now = serverNow();
  for (const cell of document.querySelectorAll("#slot-callbacks .callbacks-age")) {
    const since = Number.parseInt(cell.dataset.since, 10);
    setText(cell, Number.isFinite(since) && since > 0 ? t("callbacks_ago", { time: clock(now - since) }) : "—");
  }
}

// --- the cursor -------------------------------------------------------------------------

function rows() {
  return [...document.querySelectorAll("#slot-callbacks tr.callbacks-row")];
}

function select(callId, focus = true) {
  panel.selected = callId;
  for (const tr of rows()) {
    const on = tr.dataset.callId === callId;
    tr.tabIndex = on ? 0 : -1;
    tr.setAttribute("aria-selected", on ? "true" : "false");
  }
  if (focus) focusSelected();
}

function focusSelected() {
  const tr = rows().find((one) => one.dataset.callId === panel.selected) || rows()[0];
  if (tr) tr.focus();
}

function focusList() {
  if (!view.session) return;
  const slot = $("slot-callbacks");
  if (!rows().length) {
    if (slot) slot.scrollIntoView({ block: "nearest" });
    return;
  }
  focusSelected();
}

function move(step) {
  const all = rows();
  if (!all.length) return;
  const at = Math.max(0, all.findIndex((tr) => tr.dataset.callId === panel.selected));
  const next = all[Math.min(all.length - 1, Math.max(0, at + step))];
  select(next.dataset.callId);
}

/** Keys on a row; they stop here, so the page's own shortcuts do not run for them too. */
function onListKey(event) {
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  const tr = event.target instanceof Element ? event.target.closest("tr.callbacks-row") : null;
  if (!tr) return;
  const key = event.key.toLowerCase();
  const callId = tr.dataset.callId;
  let run = null;
  if (key === "arrowdown") run = () => move(1);
  else if (key === "arrowup") run = () => move(-1);
  else if (key === "home") run = () => move(-rows().length);
  else if (key === "end") run = () => move(rows().length);
  else if (key === "enter" || key === "d") run = () => dial(callId);
  else if (key === "o") run = () => openOutcome(callId);
  if (!run) return;
  event.preventDefault();
  event.stopPropagation();
  run();
}

// --- dial -------------------------------------------------------------------------------

async function dial(callId) {
  const one = task(callId);
  if (!one || !view.session) return;
  select(callId, false);
  const number = one.number || callId;
  try {
    await request("POST", `/callbacks/${encodeURIComponent(callId)}/dial`);
    panel.byHand.delete(callId);
    say(t("callbacks_dial_sent", { number }));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    // 409: the dialer is off, or the task is being dialled: the server's words, and the
    // row says to call from the desk phone.
    if (error instanceof ApiError && error.status === 409) panel.byHand.add(callId);
    say(t("callbacks_refused", { detail: error.detail }), "error");
  }
  render();
}

// --- outcome ----------------------------------------------------------------------------

function openOutcome(callId) {
  const one = task(callId);
  if (!one || !view.session) return;
  select(callId, false);
  panel.outcomeFor = callId;
  panel.outcome = "";
  const dialog = $("callbacks-dialog");
  dialog.querySelector("#callbacks-dialog-title").textContent = t("callbacks_outcome_title", { number: one.number || callId });
  dialog.querySelector("#callbacks-note").value = "";
  dialog.querySelector("#callbacks-dialog-error").hidden = true;
  drawChoices();
  dialog.showModal();
  dialog.querySelector(".callbacks-choice").focus();
}

function drawChoices() {
  const dialog = $("callbacks-dialog");
  const list = dialog.querySelector("ol");
  list.replaceChildren(...OUTCOMES.map((outcome, i) => {
    const chosen = outcome === panel.outcome;
    return h("li", {}, h("button", {
      type: "button", class: "key-button reason callbacks-choice", dataset: { outcome }, "aria-pressed": chosen ? "true" : "false",
      onclick: () => choose(outcome),
    }, h("kbd", {}, String(i + 1)), " ", h("span", { class: "callbacks-tick", "aria-hidden": "true" }, chosen ? "✔ " : ""), outcomeWords(outcome)));
  }));
  const labels = dialog.querySelectorAll("[data-t]");
  for (const el of labels) el.textContent = t(el.dataset.t);
}

function choose(outcome) {
  panel.outcome = outcome;
  drawChoices();
  $("callbacks-dialog").querySelector("#callbacks-note").focus();
}

function onDialogKey(event) {
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  const inNote = event.target instanceof HTMLElement && event.target.id === "callbacks-note";
  const n = Number.parseInt(event.key, 10);
  if (!inNote && n >= 1 && n <= OUTCOMES.length) {
    event.preventDefault();
    choose(OUTCOMES[n - 1]);
  } else if (event.key === "Enter" && (inNote || event.target.id === "callbacks-save")) {
    event.preventDefault();
    saveOutcome();
  }
}

async function saveOutcome() {
  const dialog = $("callbacks-dialog");
  const error = dialog.querySelector("#callbacks-dialog-error");
  if (!panel.outcome) {
    error.textContent = t("callbacks_choose");
    error.hidden = false;
    return;
  }
  const callId = panel.outcomeFor;
  const one = task(callId);
  const number = one ? one.number || callId : callId;
  const note = dialog.querySelector("#callbacks-note").value.trim().slice(0, 200);
  const outcome = panel.outcome;
  try {
    await request("POST", `/callbacks/${encodeURIComponent(callId)}/outcome`,
      { outcome, note, desk_id: (view.session && view.session.desk) || "" });
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) return;
    error.textContent = t("callbacks_outcome_refused", { detail: failure.detail });
    error.hidden = false;
    return;
  }
  dialog.close();
  panel.byHand.delete(callId);
  say(t("callbacks_recorded", { number, outcome: outcomeWords(outcome) }));
  await load();
  focusList();
}

function dialog() {
  const box = h("dialog", { id: "callbacks-dialog", "aria-labelledby": "callbacks-dialog-title", onkeydown: onDialogKey },
    h("h2", { id: "callbacks-dialog-title" }),
    h("ol", { class: "reasons callbacks-choices" }),
    h("label", { for: "callbacks-note", "data-t": "callbacks_note" }, t("callbacks_note")),
    h("input", { id: "callbacks-note", class: "callbacks-note", maxLength: 200, autocomplete: "off" }),
    h("p", { id: "callbacks-dialog-error", class: "error", role: "alert", hidden: true }),
    h("div", { class: "action-row" },
      h("button", { type: "button", id: "callbacks-save", class: "key-button", onclick: saveOutcome },
        h("kbd", {}, "Enter"), " ", h("span", { "data-t": "callbacks_save" }, t("callbacks_save"))),
      h("span", { class: "quiet" }, h("kbd", {}, "Esc"), " ", h("span", { "data-t": "cancel" }, t("cancel")))));
  document.body.append(box);
}

// --- start ------------------------------------------------------------------------------

dialog();
addKey("b", { label: "callbacks_key_list", run: focusList });
// The row's own keys work only with the cursor on the list: listed in the help all the same.
const help = document.querySelector("#help-dialog tbody");
if (help) {
  help.append(h("tr", {}, h("td", {}, h("kbd", {}, "Enter"), " ", h("kbd", {}, "D"), " ", h("kbd", {}, "O")),
    h("td", { "data-t": "callbacks_key_row" }, t("callbacks_key_row"))));
}

bus.addEventListener("session", (e) => {
  panel.tasks = null;
  panel.error = "";
  panel.byHand.clear();
  panel.selected = "";
  say("");
  if (e.detail) load();
  else render();
});
bus.addEventListener("event", (e) => {
  if (view.session && String(e.detail.type || "").startsWith("callback_")) reloadSoon();
});
// The stream came back: whatever changed while it was away.
bus.addEventListener("live", (e) => { if (e.detail && view.session) reloadSoon(); });
bus.addEventListener("language", () => { if (view.session) render(); });
bus.addEventListener("tick", tick);
// Loaded after the page signed in: read the list now.
if (view.session) load();
