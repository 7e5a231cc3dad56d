// Actions on the call at this desk (slot-actions): transfer the caller to another agency
// (blind: the caller waits at the head of that agency's queue with its original arrival time,
// never dropped; consult, C in the dialog: the caller on hold music while a desk of that agency
// rings, then O completes, K joins all three or Q cancels), hang up (only after a confirmation), and the wrap-up that follows a call with
// its clock: end it now, or extend it once.

import { $, h, city, view, t, addStrings, addKey, addEventTypes, bus, request, ApiError, clock, setText, serverNow, agencyName } from "./kit.js";

addStrings({
  vi: {
    actions_title: "Thao tác cuộc gọi",
    actions_transfer: "Chuyển cuộc gọi",
    actions_transfer_title: "Chuyển người gọi sang lực lượng",
    actions_transfer_note: "Người gọi chờ ở đầu hàng đợi của lực lượng đó, giữ nguyên thời điểm gọi đến.",
    actions_transfer_state: "Chuyển sang {agency}: {state}",
    actions_transfer_mode_blind: "Chuyển thẳng: người gọi chờ ở đầu hàng đợi.",
    actions_transfer_mode_consult: "Hỏi ý kiến trước: người gọi nghe nhạc chờ, máy của lực lượng đó đổ chuông để bạn nói chuyện trước.",
    actions_transfer_toggle: "Chuyển thẳng / hỏi ý kiến trước",
    actions_consult_complete: "Hoàn tất chuyển",
    actions_consult_cancel: "Hủy, quay lại người gọi",
    actions_consult_conference: "Họp ba bên",
    actions_key_consult_conference: "Họp ba bên: người gọi, bạn và bàn kia (sau khi bên kia đã nghe)",
    actions_key_consult_complete: "Hoàn tất chuyển (sau khi bên kia đã nghe)",
    actions_key_consult_cancel: "Hủy chuyển, quay lại người gọi",
    actions_hangup: "Kết thúc cuộc gọi",
    actions_hold: "Giữ máy",
    actions_resume: "Tiếp tục",
    actions_on_hold: "ĐANG GIỮ MÁY",
    actions_on_hold_note: "Người gọi đang nghe nhạc chờ.",
    actions_key_hold: "Giữ máy / tiếp tục cuộc gọi",
    actions_hangup_title: "Kết thúc cuộc gọi với người gọi?",
    actions_hangup_note: "Chỉ làm khi người gọi đã được xử lý xong hoặc là cuộc gọi quấy rối.",
    actions_hangup_confirm: "Kết thúc",
    actions_hangup_sent: "Đã gửi lệnh kết thúc cuộc gọi.",
    actions_wrap_up: "Hoàn tất hồ sơ",
    actions_wrap_up_left: "còn {time}",
    actions_wrap_up_end: "Kết thúc hoàn tất, sẵn sàng",
    actions_wrap_up_extend: "Kéo dài (một lần)",
    actions_wrap_up_extended: "đã kéo dài",
    actions_key_transfer: "Chuyển cuộc gọi",
    actions_key_hangup: "Kết thúc cuộc gọi (có xác nhận)",
    actions_key_end: "Kết thúc hoàn tất hồ sơ",
    actions_key_extend: "Kéo dài hoàn tất hồ sơ một lần",
    transfer_state_ready: "chưa",
    transfer_state_moving: "đang chuyển người gọi",
    transfer_state_requeued: "người gọi chờ ở đầu hàng đợi",
    transfer_state_ringback: "đang đổ chuông",
    transfer_state_answered: "đã nghe",
    transfer_state_conferenced: "đang họp ba bên",
    transfer_state_completed: "đã chuyển",
    transfer_state_cancelled: "đã hủy, người gọi vẫn ở đây",
    transfer_state_ended: "người gọi đã gác máy",
  },
  en: {
    actions_title: "Call actions",
    actions_transfer: "Transfer",
    actions_transfer_title: "Transfer the caller to an agency",
    actions_transfer_note: "The caller waits at the head of that agency's queue, keeping the time they called.",
    actions_transfer_state: "Transfer to {agency}: {state}",
    actions_transfer_mode_blind: "Blind: the caller waits at the head of the queue.",
    actions_transfer_mode_consult: "Consult first: the caller hears hold music while a desk of that agency rings for you to talk to.",
    actions_transfer_toggle: "Blind / consult first",
    actions_consult_complete: "Complete the transfer",
    actions_consult_cancel: "Cancel, back to the caller",
    actions_consult_conference: "Three-way call",
    actions_key_consult_conference: "Three-way call: the caller, you and the other desk (once it answered)",
    actions_key_consult_complete: "Complete the transfer (once the other desk answered)",
    actions_key_consult_cancel: "Cancel the transfer, back to the caller",
    actions_hangup: "Hang up",
    actions_hold: "Hold",
    actions_resume: "Resume",
    actions_on_hold: "ON HOLD",
    actions_on_hold_note: "The caller hears hold music.",
    actions_key_hold: "Hold / resume the call",
    actions_hangup_title: "End the call with the caller?",
    actions_hangup_note: "Only when the caller has been helped, or for a prank call.",
    actions_hangup_confirm: "Hang up",
    actions_hangup_sent: "The hang-up was sent.",
    actions_wrap_up: "Wrap-up",
    actions_wrap_up_left: "{time} left",
    actions_wrap_up_end: "End wrap-up, ready",
    actions_wrap_up_extend: "Extend (once)",
    actions_wrap_up_extended: "extended",
    actions_key_transfer: "Transfer the call",
    actions_key_hangup: "Hang up (asks first)",
    actions_key_end: "End wrap-up now",
    actions_key_extend: "Extend wrap-up once",
    transfer_state_ready: "none",
    transfer_state_moving: "moving the caller",
    transfer_state_requeued: "the caller waits at the head of the queue",
    transfer_state_ringback: "ringing",
    transfer_state_answered: "answered",
    transfer_state_conferenced: "in a three-way call",
    transfer_state_completed: "transferred",
    transfer_state_cancelled: "cancelled, the caller is still here",
    transfer_state_ended: "the caller hung up",
  },
});

addEventTypes(["transfer", "call_action", "call_held", "call_resumed", "call_hold_failed", "call_resume_failed"]);

const panel = { transfer: null, message: "", messageKind: "", consult: false };
// A new transfer may not start in these (queueing/transfers.py UNDER_WAY).
const UNDER_WAY = ["moving", "ringback", "answered", "conferenced"];

function desk() {
  return view.desk || {};
}

function onCall() {
  return desk().state === "on_call" && Boolean(view.callId);
}

function wrappingUp() {
  return desk().state === "wrap_up";
}

function say(text, kind = "") {
  panel.message = text;
  panel.messageKind = kind;
  render();
}

async function act(method, path, bodyValue, done) {
  try {
    const reply = await request(method, path, bodyValue);
    if (done) done(reply);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    say(t("refused", { detail: error.detail }), "error");
  }
}

// --- transfer ---------------------------------------------------------------------------

/** The other agencies: the caller is already at this desk's. */
function transferTargets() {
  const own = view.session && (view.session.agency || city.desks[view.session.desk]);
  return Object.keys(city.agencies).filter((id) => id !== own);
}

function openTransfer() {
  if (!onCall()) return;
  const dialog = $("transfer-dialog");
  const list = dialog.querySelector("ol");
  panel.consult = false;
  showMode();
  list.replaceChildren(...transferTargets().map((id) => h("li", {}, h("button", {
    type: "button", class: "key-button reason", dataset: { agency: id }, onclick: () => transfer(id) },
  h("kbd", {}, city.agencies[id].digit), " ", agencyName(id), " ", h("span", { class: "quiet" }, city.agencies[id].label)))));
  dialog.showModal();
  const first = list.querySelector("button");
  if (first) first.focus();
}

/** The dialog says which kind of transfer a digit starts (C switches). */
function showMode() {
  const mode = $("transfer-mode");
  const key = panel.consult ? "actions_transfer_mode_consult" : "actions_transfer_mode_blind";
  mode.dataset.t = key;
  mode.dataset.mode = panel.consult ? "consult" : "blind";
  mode.textContent = t(key);
}

function transfer(agency) {
  $("transfer-dialog").close();
  const callId = view.callId;
  const mode = panel.consult ? "consult" : "blind";
  act("POST", `/calls/${encodeURIComponent(callId)}/transfer`, { agency, mode }, (reply) => {
    panel.transfer = reply;
    say("");
  });
}

async function loadTransfer(callId) {
  try {
    const reply = await request("GET", `/calls/${encodeURIComponent(callId)}/transfer`);
    if (view.callId === callId) {
      panel.transfer = reply.transfer_state && reply.transfer_state !== "ready" ? reply : null;
      render();
    }
  } catch {
    // the line stays as it was
  }
}

/** A consultative transfer under way (ringing or the two desks talking). */
function consulting() {
  const tr = panel.transfer;
  return Boolean(onCall() && tr && tr.kind === "consult" && ["ringback", "answered"].includes(tr.transfer_state));
}

function consultStep(step) {
  if (!consulting()) return;
  // Completing or joining all three needs the other desk on the line.
  if (step !== "cancel" && panel.transfer.transfer_state !== "answered") return;
  act("POST", `/calls/${encodeURIComponent(view.callId)}/transfer/${step}`, undefined, () => say(""));
}

// --- hang up ----------------------------------------------------------------------------

function openHangup() {
  if (!onCall()) return;
  const dialog = $("hangup-dialog");
  dialog.showModal();
  dialog.querySelector("#hangup-cancel").focus();  // Enter alone never hangs up: the safe button has the focus
}

function hangUp() {
  $("hangup-dialog").close();
  act("POST", `/calls/${encodeURIComponent(view.callId)}/hangup`, { confirm: true }, () => say(t("actions_hangup_sent")));
}

// --- wrap-up ----------------------------------------------------------------------------

function wrapUp(action) {
  if (!wrappingUp() || !view.session) return;
  act("PUT", `/desks/${encodeURIComponent(view.session.desk)}/wrap-up`, { action }, (reply) => {
    view.desk = reply;
    say("");
  });
}

function tick() {
  const left = $("wrap-up-left");
  const d = desk();
  if (left && d.wrap_up_until_ms) setText(left, t("actions_wrap_up_left", { time: clock(d.wrap_up_until_ms - serverNow()) }));
}

// --- hold ----------------------------------------------------------------------------

function held() {
  return Boolean(view.call && view.call.call_id === view.callId && view.call.held === "1");
}

function toggleHold() {
  if (!onCall()) return;
  const step = held() ? "resume" : "hold";
  act("POST", `/calls/${encodeURIComponent(view.callId)}/${step}`, undefined, () => say(""));
}

// --- drawing ----------------------------------------------------------------------------

function keyButton(id, key, words, run, disabled) {
  return h("button", { type: "button", id, class: "key-button", disabled, onclick: run }, h("kbd", {}, key), " ", words);
}

function render() {
  const slot = $("slot-actions");
  if (!view.session || (!onCall() && !wrappingUp() && !panel.message)) {
    slot.replaceChildren();
    return;
  }
  const parts = [h("h3", {}, t("actions_title"))];
  if (onCall()) {
    parts.push(h("div", { class: "action-row" },
      keyButton("transfer-button", "T", t("actions_transfer"), openTransfer, Boolean(panel.transfer && UNDER_WAY.includes(panel.transfer.transfer_state))),
      keyButton("hold-button", "G", held() ? t("actions_resume") : t("actions_hold"), toggleHold, false),
      keyButton("hangup-button", "H", t("actions_hangup"), openHangup, false)));
    if (held()) {
      // Said in words and a symbol, not by colour alone.
      parts.push(h("p", { id: "hold-state", class: "notice", role: "status" },
        h("strong", {}, "⏸ ", t("actions_on_hold")), " ", t("actions_on_hold_note")));
    }
  }
  if (panel.transfer) {
    const state = panel.transfer.transfer_state;
    parts.push(h("p", { id: "transfer-state", class: "notice", dataset: { state } }, t("actions_transfer_state", {
      agency: agencyName(panel.transfer.target_agency || ""), state: t(`transfer_state_${state}`) })));
  }
  if (consulting()) {
    parts.push(h("div", { class: "action-row", id: "consult-actions" },
      keyButton("consult-complete", "O", t("actions_consult_complete"), () => consultStep("complete"),
        panel.transfer.transfer_state !== "answered"),
      keyButton("consult-conference", "K", t("actions_consult_conference"), () => consultStep("conference"),
        panel.transfer.transfer_state !== "answered"),
      keyButton("consult-cancel", "Q", t("actions_consult_cancel"), () => consultStep("cancel"), false)));
  }
  if (wrappingUp()) {
    const d = desk();
    parts.push(h("div", { class: "wrap-up", id: "wrap-up" },
      h("strong", {}, "◐ ", t("actions_wrap_up")), " ", h("span", { id: "wrap-up-left", class: "timer" }), " ",
      d.wrap_up_extended ? h("span", { class: "quiet" }, `(${t("actions_wrap_up_extended")})`) : null,
      h("div", { class: "action-row" },
        keyButton("wrap-up-end", "E", t("actions_wrap_up_end"), () => wrapUp("end"), false),
        keyButton("wrap-up-extend", "X", t("actions_wrap_up_extend"), () => wrapUp("extend"), Boolean(d.wrap_up_extended)))));
  }
  if (panel.message) parts.push(h("p", { class: panel.messageKind === "error" ? "error" : "quiet", role: "alert" }, panel.message));
  slot.replaceChildren(h("section", { class: "panel actions-panel" }, parts));
  tick();
}

function dialogs() {
  const transferDialog = h("dialog", { id: "transfer-dialog", "aria-labelledby": "transfer-title" },
    h("h2", { id: "transfer-title", "data-t": "actions_transfer_title" }, t("actions_transfer_title")),
    h("p", { class: "quiet", "data-t": "actions_transfer_note" }, t("actions_transfer_note")),
    h("p", { id: "transfer-mode", role: "status", dataset: { mode: "blind" } }),
    h("ol", { class: "reasons" }),
    h("p", { class: "quiet" }, h("kbd", {}, "C"), " ", h("span", { "data-t": "actions_transfer_toggle" }, t("actions_transfer_toggle")),
      " · ", h("kbd", {}, "Esc"), " ", h("span", { "data-t": "cancel" }, t("cancel"))));
  transferDialog.addEventListener("keydown", (e) => {
    if (e.key.toLowerCase() === "c" && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      e.stopPropagation();
      panel.consult = !panel.consult;
      showMode();
      return;
    }
    const button = [...transferDialog.querySelectorAll("button[data-agency]")]
      .find((b) => city.agencies[b.dataset.agency].digit === e.key);
    if (button) {
      e.preventDefault();
      e.stopPropagation();
      transfer(button.dataset.agency);
    }
  });
  const hangupDialog = h("dialog", { id: "hangup-dialog", "aria-labelledby": "hangup-title" },
    h("h2", { id: "hangup-title", "data-t": "actions_hangup_title" }, t("actions_hangup_title")),
    h("p", { "data-t": "actions_hangup_note" }, t("actions_hangup_note")),
    h("div", { class: "action-row" },
      h("button", { type: "button", id: "hangup-cancel", class: "key-button", onclick: () => $("hangup-dialog").close() },
        h("kbd", {}, "Esc"), " ", h("span", { "data-t": "cancel" }, t("cancel"))),
      h("button", { type: "button", id: "hangup-confirm", class: "key-button danger", onclick: hangUp },
        h("kbd", {}, "Y"), " ", h("span", { "data-t": "actions_hangup_confirm" }, t("actions_hangup_confirm")))));
  hangupDialog.addEventListener("keydown", (e) => {
    if (e.key.toLowerCase() === "y" && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      e.stopPropagation();
      hangUp();
    }
  });
  document.body.append(transferDialog, hangupDialog);
}

// --- the page's news --------------------------------------------------------------------

bus.addEventListener("desk", render);
let shownCallId = "";
bus.addEventListener("call", (e) => {
  // Sent again each time the call is read: only a different call starts the panel afresh.
  if (e.detail.callId === shownCallId) {
    render();
    return;
  }
  shownCallId = e.detail.callId;
  panel.transfer = null;
  panel.message = "";
  render();
  if (shownCallId) loadTransfer(shownCallId);
});
bus.addEventListener("event", (e) => {
  const { type, data } = e.detail;
  if (type === "transfer" && data.call_id === view.callId) loadTransfer(view.callId);
});
bus.addEventListener("tick", tick);
bus.addEventListener("language", render);
bus.addEventListener("session", () => { panel.transfer = null; panel.message = ""; render(); });

dialogs();
addKey("t", { label: "actions_key_transfer", run: openTransfer });
addKey("h", { label: "actions_key_hangup", run: openHangup });
addKey("g", { label: "actions_key_hold", run: toggleHold });
addKey("e", { label: "actions_key_end", run: () => wrapUp("end") });
addKey("x", { label: "actions_key_extend", run: () => wrapUp("extend") });
addKey("o", { label: "actions_key_consult_complete", run: () => consultStep("complete") });
addKey("q", { label: "actions_key_consult_cancel", run: () => consultStep("cancel") });
addKey("k", { label: "actions_key_consult_conference", run: () => consultStep("conference") });
