// The call's recording (slot-recording): while a call is on this desk (on the call, or in its
// wrap-up), "Instant replay" plays the last 30 seconds (what did the caller just say?); after
// the call, the whole recording of the last call this desk had. Played in an <audio controls>
// element straight from the server (WAV with byte ranges); a refusal (no recording, another
// agency's call) is shown in the server's words, as text.
//
// Key: Y plays (the last 30 s on a call, the whole recording after it).

import { $, h, view, emit, t, addStrings, addKey, addEventTypes, bus, ApiError } from "./kit.js";

addStrings({
  vi: {
    recording_title: "Ghi âm cuộc gọi",
    recording_replay: "Nghe lại 30 giây vừa qua",
    recording_whole: "Nghe toàn bộ ghi âm",
    recording_on_call: "Cuộc gọi {call_id} đang ở bàn này.",
    recording_after: "Cuộc gọi trước: {call_id}.",
    recording_loading: "Đang tải ghi âm…",
    recording_playing_recent: "30 giây cuối của cuộc gọi {call_id}.",
    recording_playing_whole: "Toàn bộ ghi âm cuộc gọi {call_id}.",
    recording_refused: "Không nghe được: {detail}",
    recording_cannot_play: "Trình duyệt không phát được ghi âm này ({detail}).",
    recording_key: "Nghe lại 30 giây vừa qua (sau cuộc gọi: toàn bộ ghi âm)",
    recording_check_ok: "✔ Ghi âm đã kiểm tra: đạt ({detail})",
    recording_check_broken: "✖ Ghi âm HỎNG: {detail} — giám sát viên đã được báo",
    recording_check_missing: "✖ KHÔNG CÓ ghi âm: {detail} — giám sát viên đã được báo",
    recording_check_expired: "Ghi âm đã hết hạn lưu giữ.",
  },
  en: {
    recording_title: "Call recording",
    recording_replay: "Instant replay (last 30 s)",
    recording_whole: "Play the whole recording",
    recording_on_call: "Call {call_id} is on this desk.",
    recording_after: "The last call: {call_id}.",
    recording_loading: "Loading the recording…",
    recording_playing_recent: "The last 30 s of call {call_id}.",
    recording_playing_whole: "The whole recording of call {call_id}.",
    recording_refused: "Cannot play: {detail}",
    recording_cannot_play: "The browser cannot play this recording ({detail}).",
    recording_key: "Replay the last 30 s (after the call: the whole recording)",
    recording_check_ok: "✔ Recording checked: ok ({detail})",
    recording_check_broken: "✖ Recording BROKEN: {detail} — supervisors were alerted",
    recording_check_missing: "✖ Recording MISSING: {detail} — supervisors were alerted",
    recording_check_expired: "The recording has expired.",
  },
});

const RECENT_SECONDS = 30;
// A call is "on the desk" in these states; its recording is still being written until it ends.
const ON_DESK = ["on_call", "wrap_up"];

const panel = {
  lastCallId: "",   // the newest call this desk was on (on_call / wrap_up)
  playing: "",      // the call id whose audio is loaded
  message: "",
  messageKind: "",
  asked: 0,         // the newest request to play wins
  box: null,        // the panel, built once: the <audio> element lives on while the page redraws
  check: null,      // {status, detail}: the check of lastCallId's recording after the call
};

// After a call the server checks its recording (both directions there and not silent).
addEventTypes(["recording_checked"]);

/** What Y plays now: {callId, recent} or null. */
function target() {
  if (!view.session) return null;
  const state = view.desk ? view.desk.state : "";
  if (view.callId && ON_DESK.includes(state)) return { callId: view.callId, recent: true };
  if (panel.lastCallId && !view.callId) return { callId: panel.lastCallId, recent: false };
  return null;
}

function build() {
  const audio = h("audio", { id: "recording-audio", controls: true, preload: "auto", hidden: true });
  audio.addEventListener("error", () => {
    if (!audio.getAttribute("src")) return;
    const detail = audio.error ? audio.error.message || `code ${audio.error.code}` : "?";
    say(t("recording_cannot_play", { detail }), "error");
  });
  panel.box = h("div", { class: "panel recording" },
    h("h3", { id: "recording-title" }),
    h("p", { id: "recording-call", class: "quiet" }),
    h("div", { class: "action-row" },
      h("button", { type: "button", id: "recording-play", class: "key-button", onclick: play },
        h("kbd", {}, "Y"), " ", h("span", { id: "recording-play-words" }))),
    h("p", { id: "recording-status", class: "recording-status", role: "status", "aria-live": "polite", hidden: true }),
    h("p", { id: "recording-check", class: "recording-check", hidden: true }),
    audio);
}

function say(text, kind = "") {
  panel.message = text;
  panel.messageKind = kind;
  render();
}

function render() {
  const slot = $("slot-recording");
  if (!slot) return;
  const now = target();
  if (!now) {
    slot.replaceChildren();  // nothing to play: the slot takes no room
    return;
  }
  if (!panel.box) build();
  const box = panel.box;
  box.querySelector("#recording-title").textContent = t("recording_title");
  box.querySelector("#recording-call").textContent = now.recent ? t("recording_on_call", { call_id: now.callId })
    : t("recording_after", { call_id: now.callId });
  box.querySelector("#recording-play-words").textContent = now.recent ? t("recording_replay") : t("recording_whole");
  box.querySelector("#recording-play").dataset.mode = now.recent ? "recent" : "whole";
  const status = box.querySelector("#recording-status");
  status.textContent = panel.message;
  status.hidden = !panel.message;
  status.className = panel.messageKind === "error" ? "recording-status error" : "recording-status quiet";
  status.setAttribute("role", panel.messageKind === "error" ? "alert" : "status");
  const check = box.querySelector("#recording-check");
  const verdict = panel.check && panel.check.status;
  check.hidden = !verdict;
  check.dataset.status = verdict || "";
  check.textContent = verdict ? t(`recording_check_${verdict}`, { detail: panel.check.detail || "" }) : "";
  if (box.parentNode !== slot) slot.replaceChildren(box);
}

function stopAudio() {
  if (!panel.box) return;
  const audio = panel.box.querySelector("#recording-audio");
  audio.pause();
  audio.removeAttribute("src");
  audio.load();
  audio.hidden = true;
  panel.playing = "";
}

/** Asks the server first (one byte), so that a refusal is shown in its words; then plays. */
async function play() {
  const now = target();
  if (!now) return;
  const asked = ++panel.asked;
  const id = encodeURIComponent(now.callId);
  const path = now.recent ? `/calls/${id}/recording/recent?seconds=${RECENT_SECONDS}` : `/calls/${id}/recording`;
  say(t("recording_loading"));
  let response;
  try {
    response = await fetch(path, { headers: { Range: "bytes=0-0" }, credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    if (asked === panel.asked) say(t("unreachable", { detail: error.message }), "error");
    return;
  }
  if (asked !== panel.asked) return;
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try {
      const data = await response.json();
      if (data && typeof data.detail === "string") detail = data.detail;
    } catch {
      // not JSON: the status says enough
    }
    if (response.status === 401) {
      emit("session-lost", new ApiError(401, detail));
      return;
    }
    stopAudio();
    say(t("recording_refused", { detail }), "error");
    return;
  }
  await response.body?.cancel?.();
  stopAudio();
  const audio = panel.box.querySelector("#recording-audio");
  // The last 30 s move on while the call goes on: a fresh address each time, never a cached one.
  audio.src = now.recent ? `${path}&at=${Date.now()}` : path;
  audio.dataset.callId = now.callId;
  audio.dataset.mode = now.recent ? "recent" : "whole";
  audio.hidden = false;
  panel.playing = now.callId;
  say(now.recent ? t("recording_playing_recent", { call_id: now.callId }) : t("recording_playing_whole", { call_id: now.callId }));
  audio.play().catch(() => {
    // The browser may refuse to start by itself; the controls are there to press play.
  });
}

function onDeskOrCall() {
  const state = view.desk ? view.desk.state : "";
  if (view.callId && ON_DESK.includes(state) && view.callId !== panel.lastCallId) {
    // A new call on the desk: what played before was another call's.
    panel.lastCallId = view.callId;
    panel.check = null;
    stopAudio();
    panel.message = "";
  }
  const call = view.call;
  if (call && call.call_id === panel.lastCallId && call.recording && call.recording !== "recording") {
    panel.check = { status: call.recording, detail: call.recording_detail || "" };
  }
  render();
}

bus.addEventListener("event", (e) => {
  const { type, data } = e.detail;
  if (type === "recording_checked" && data.call_id === panel.lastCallId) {
    panel.check = { status: data.status, detail: data.detail || "" };
    render();
  }
});

addKey("y", { label: "recording_key", run: play });

bus.addEventListener("desk", onDeskOrCall);
bus.addEventListener("call", onDeskOrCall);
bus.addEventListener("language", render);
bus.addEventListener("session", () => {
  panel.lastCallId = "";
  panel.message = "";
  panel.asked += 1;
  stopAudio();
  render();
});
render();
