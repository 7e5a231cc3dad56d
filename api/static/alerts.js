// The supervisors' alert bar (<div id="alerts"> of supervisor.html): the alerts on now, one line each
// — the level in words and a symbol (▲ CRITICAL / △ WARNING, never colour alone), when it was raised,
// what it is in the page's language, and for a supervisor an [A] acknowledge button; an acknowledged
// one says by whom and when. Audible: a beep made here with WebAudio (no sound file), repeated every
// repeat_critical_s while a critical alert is unacknowledged.
//
// On the supervisors' page it hooks into the page's own follower of GET /events (kit.js's bus:
// "session" when someone signs in or out, "event" for the types it asks for with addEventTypes,
// "live" when the stream is back) and reads GET /alerts on each alert event. On a page that
// announces no session on the bus it stands on its own: it waits for the sign-in (GET /session) and
// follows the alert events on its own EventSource. The page's language is <html lang>.
// Every value from the server is shown with textContent: never parsed as HTML.

import { addEventTypes, addStrings, bus, clock, request, view } from "./kit.js";
import { STRINGS, translate } from "./strings.js";

const ALERT_EVENTS = ["alert_raised", "alert_changed", "alert_cleared", "alert_ack"];
const SIGNIN_POLL_MS = 2000;
const OWN_STREAM_AFTER_MS = 3000;  // no session announced on the bus by then: the page does not follow for us
const RECONNECT_MS = 2000;
const REFRESH_MS = 10000;  // the figures of an alert (a growing wait) move without events

const TEXTS = {
  vi: {
    alerts_title: "Cảnh báo",
    alert_critical: "▲ NGHIÊM TRỌNG",
    alert_warning: "△ CẢNH BÁO",
    alert_ack: "Xác nhận",
    alert_acked: "đã xác nhận bởi {name} lúc {time}",
    alert_ack_failed: "Không xác nhận được: {detail}",
    alert_general: "hàng chờ chung",
    alert_longest_wait: "{queue}: có người gọi đã chờ {clock}",
    alert_service_level: "{queue}: {percent} % cuộc gọi được trả lời trong {within_s} giây (15 phút qua, {answered} cuộc)",
    alert_no_desk: "không có bàn trực {agency} nào đăng nhập",
    alert_abandon_spike: "{count} người gọi gác máy trước khi được trả lời (15 phút qua)",
    alert_fallback_callers: "{count} người gọi ở hàng chờ dự phòng của Asterisk: dịch vụ suy giảm",
    alert_broken_recording: "{count} bản ghi âm hỏng hoặc thiếu trong {hours} giờ qua (mới nhất: {call_id})",
    alert_desk_paused: "{desk} tạm nghỉ ({reason}) đã {clock}",
    alert_resource_shortage: "Asterisk hết {resource} {count} lần trong {minutes} phút qua: {callers} người gọi bị từ chối, {desks} lần không đổ chuông được bàn trực",
    resource_rtp_ports: "cổng RTP",
    resource_channels: "kênh (maxcalls)",
    resource_file_descriptors: "bộ mô tả tệp (maxfiles)",
    alert_sound_on: "Bấm bất kỳ phím nào để bật âm thanh cảnh báo",
  },
  en: {
    alerts_title: "Alerts",
    alert_critical: "▲ CRITICAL",
    alert_warning: "△ WARNING",
    alert_ack: "Acknowledge",
    alert_acked: "acknowledged by {name} at {time}",
    alert_ack_failed: "Could not acknowledge: {detail}",
    alert_general: "general queue",
    alert_longest_wait: "{queue}: a caller has waited {clock}",
    alert_service_level: "{queue}: {percent} % answered within {within_s} s (last 15 min, {answered} calls)",
    alert_no_desk: "no {agency} desk logged in",
    alert_abandon_spike: "{count} callers hung up before an answer (last 15 min)",
    alert_fallback_callers: "{count} callers in Asterisk's fallback queue: service is degraded",
    alert_broken_recording: "{count} recordings broken or missing in the last {hours} h (newest: {call_id})",
    alert_desk_paused: "{desk} paused ({reason}) for {clock}",
    alert_resource_shortage: "Asterisk ran out of {resource} {count} times in the last {minutes} min: {callers} callers refused, {desks} desk rings failed",
    resource_rtp_ports: "RTP ports",
    resource_channels: "channels (maxcalls)",
    resource_file_descriptors: "open files (maxfiles)",
    alert_sound_on: "Press any key to turn the alert sound on",
  },
};
addStrings(TEXTS);

const box = document.getElementById("alerts");
// Its own styles, from this server (the page's CSP allows 'self' only).
if (!document.querySelector('link[href$="/alerts.css"]')) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./alerts.css", import.meta.url).pathname;
  document.head.append(link);
}
const cityElement = document.getElementById("city");
const city = cityElement ? JSON.parse(cityElement.textContent) : { languages: ["vi", "en"], agencies: {} };

const state = {
  session: null,    // GET /session's body once signed in
  alerts: [],       // GET /alerts' active, critical first, then the newest
  repeatMs: 30000,
  source: null,
  lastEventId: "",
  lastBeepMs: 0,
  beeps: 0,
  error: "",
};

// --- words ----------------------------------------------------------------------------------

function language() {
  const lang = document.documentElement.lang;
  return lang && lang in STRINGS ? lang : (city.languages || ["vi"])[0];
}

function t(key, values) {
  return translate(language(), key, values);
}

function agencyName(id) {
  if (id === city.general || id === "general") return t("alert_general");
  const agency = city.agencies && city.agencies[id];
  return (agency && (agency.name[language()] || agency.name[city.languages[0]])) || id;
}

function resourceName(id) {
  const key = `resource_${id}`;
  return key in (STRINGS[language()] || {}) || key in STRINGS.en ? t(key) : id;
}

function timeOfDay(ms) {
  return new Date(ms).toLocaleTimeString(language() === "vi" ? "vi-VN" : "en-GB", { hour12: false });
}

/** The alert in the page's language, from its kind and params (the server's detail is English). */
function wording(alert) {
  const p = alert.params || {};
  const values = {
    ...p,
    queue: agencyName(p.queue || alert.subject),
    agency: agencyName(p.agency || alert.subject),
    desk: p.desk || alert.subject,
    clock: clock(Number(p.seconds) * 1000),
    reason: p.reason || "—",
    resource: p.resource ? resourceName(p.resource) : "",
  };
  const key = `alert_${alert.kind}`;
  return key in (STRINGS[language()] || {}) || key in STRINGS.en ? t(key, values) : alert.detail;
}

// --- requests (kit.js's request: the session cookie, and the page's session's CSRF header) ------

const canAcknowledge = () => Boolean(state.session && state.session.role === "supervisor");

// --- drawing --------------------------------------------------------------------------------

function line(alert) {
  const critical = alert.level === "critical";
  const item = document.createElement("li");
  item.className = `alert alert-${alert.level}${alert.acked_by ? " alert-acked" : ""}`;
  item.dataset.alertId = alert.alert_id;
  item.dataset.level = alert.level;
  const level = document.createElement("strong");
  level.className = "alert-level";
  level.textContent = t(critical ? "alert_critical" : "alert_warning");
  const time = document.createElement("time");
  time.className = "alert-time timer";
  time.dateTime = new Date(alert.raised_ms).toISOString();
  time.textContent = timeOfDay(alert.raised_ms);
  const text = document.createElement("span");
  text.className = "alert-text";
  text.textContent = wording(alert);
  item.append(level, " ", time, " ", text, " ");
  if (alert.acked_by) {
    const acked = document.createElement("span");
    acked.className = "alert-acked-by";
    acked.textContent = t("alert_acked", { name: alert.acked_by, time: timeOfDay(alert.acked_ms) });
    item.append(acked);
  } else if (canAcknowledge()) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "key-button alert-ack";
    const kbd = document.createElement("kbd");
    kbd.textContent = "A";
    const words = document.createElement("span");
    words.textContent = t("alert_ack");
    button.append(kbd, " ", words);
    button.addEventListener("click", () => acknowledge(alert.alert_id));
    item.append(button);
  }
  return item;
}

function draw() {
  if (!box) return;
  box.classList.add("alert-bar");
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", t("alerts_title"));
  box.dataset.beeps = String(state.beeps);
  const list = document.createElement("ul");
  list.className = "alerts";
  list.setAttribute("aria-live", "assertive");
  for (const alert of state.alerts) list.append(line(alert));
  const children = [list];
  if (state.error) {
    const error = document.createElement("p");
    error.className = "error alert-error";
    error.setAttribute("role", "alert");
    error.textContent = state.error;
    children.push(error);
  }
  box.replaceChildren(...(state.alerts.length || state.error ? children : []));
  box.hidden = !state.alerts.length && !state.error;
}

// --- sound ----------------------------------------------------------------------------------

let audio = null;

// Browsers start audio only after a person touched the page: the first key or click unlocks it.
function unlockAudio() {
  if (!audio && (window.AudioContext || window.webkitAudioContext)) {
    audio = new (window.AudioContext || window.webkitAudioContext)();
  }
  if (audio && audio.state === "suspended") audio.resume();
}

function tone(startS, hz, lengthS, volume) {
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  oscillator.type = "square";
  oscillator.frequency.value = hz;
  gain.gain.setValueAtTime(volume, audio.currentTime + startS);
  gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + startS + lengthS);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start(audio.currentTime + startS);
  oscillator.stop(audio.currentTime + startS + lengthS);
}

/** Critical: three high beeps; warning: one lower. Counted on the bar (data-beeps) for people and tests. */
function beep(critical) {
  state.beeps += 1;
  state.lastBeepMs = Date.now();
  if (box) box.dataset.beeps = String(state.beeps);
  unlockAudio();
  if (!audio) return;
  if (critical) {
    for (const start of [0, 0.25, 0.5]) tone(start, 880, 0.18, 0.3);
  } else {
    tone(0, 660, 0.25, 0.2);
  }
}

const unacknowledgedCritical = () => state.alerts.some((a) => a.level === "critical" && !a.acked_by);

setInterval(() => {
  if (unacknowledgedCritical() && Date.now() - state.lastBeepMs >= state.repeatMs) beep(true);
}, 1000);

// --- the alerts -----------------------------------------------------------------------------

async function refresh() {
  if (!state.session) return;
  try {
    const body = await request("GET", "/alerts");
    const known = new Set(state.alerts.map((a) => `${a.alert_id}/${a.level}`));
    const fresh = body.active.filter((a) => !known.has(`${a.alert_id}/${a.level}`) && !a.acked_by);
    state.alerts = body.active;
    state.repeatMs = body.repeat_critical_s * 1000;
    state.error = "";
    draw();
    if (fresh.length) beep(fresh.some((a) => a.level === "critical"));
  } catch (error) {
    if (error.status === 401) signedOut();
  }
}

async function acknowledge(alertId) {
  if (!canAcknowledge()) return;
  try {
    await request("POST", `/alerts/${encodeURIComponent(alertId)}/ack`);
    state.error = "";
  } catch (error) {
    state.error = t("alert_ack_failed", { detail: error.detail || error.message });
  }
  await refresh();
}

// --- the live stream ------------------------------------------------------------------------

function follow() {
  if (state.source) state.source.close();
  const after = state.lastEventId;
  const source = new EventSource(after ? `/events?after=${encodeURIComponent(after)}` : "/events");
  state.source = source;
  const heard = (message) => {
    if (message && message.lastEventId) state.lastEventId = message.lastEventId;
  };
  source.addEventListener("open", () => refresh());
  source.addEventListener("live", heard);
  source.addEventListener("gap", (message) => {
    heard(message);
    refresh();
  });
  for (const type of ALERT_EVENTS) {
    source.addEventListener(type, (message) => {
      heard(message);
      refresh();
    });
  }
  source.addEventListener("error", () => {
    if (state.source === source && source.readyState === EventSource.CLOSED) {
      setTimeout(() => state.session && state.source === source && follow(), RECONNECT_MS);
    }
  });
}

let pageFollows = false;  // the page announces its session on the bus and relays the stream's events

function signedOut() {
  state.session = null;
  state.alerts = [];
  if (state.source) state.source.close();
  state.source = null;
  state.lastEventId = "";
  draw();
  if (!pageFollows) setTimeout(waitForSignIn, SIGNIN_POLL_MS);
}

function signedIn(session) {
  if (session.role !== "supervisor" && session.role !== "viewer") return;  // a call-taker: the wrong page
  state.session = session;
  if (!pageFollows) view.session = session;  // alone on a page: kit's request sends its CSRF header
  refresh();
}

/** Alone on a page: the bar starts once a supervisor or viewer signed in there, with its own stream. */
async function waitForSignIn() {
  if (pageFollows) return;
  try {
    const session = await request("GET", "/session");
    if (!pageFollows && (session.role === "supervisor" || session.role === "viewer")) {
      follow();
      signedIn(session);
      return;
    }
  } catch {
    // not signed in yet
  }
  setTimeout(waitForSignIn, SIGNIN_POLL_MS);
}

bus.addEventListener("session", (event) => {
  pageFollows = true;
  if (state.source) state.source.close();
  state.source = null;
  if (event.detail) signedIn(event.detail);
  else signedOut();
});
bus.addEventListener("event", (event) => {
  if (ALERT_EVENTS.includes(event.detail.type)) refresh();
});
bus.addEventListener("live", (event) => {
  if (event.detail) refresh();  // back after a break: whatever changed meanwhile
});
addEventTypes(ALERT_EVENTS);

// --- keys -----------------------------------------------------------------------------------

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

document.addEventListener("keydown", (event) => {
  unlockAudio();
  if (event.key.toLowerCase() !== "a" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if (!canAcknowledge() || document.querySelector("dialog[open]")) return;
  // The newest unacknowledged alert: the list is critical first, then the newest.
  const open = state.alerts.filter((a) => !a.acked_by);
  if (!open.length) return;
  const newest = open.reduce((a, b) => (b.raised_ms > a.raised_ms ? b : a));
  event.preventDefault();
  acknowledge(newest.alert_id);
});
document.addEventListener("pointerdown", unlockAudio);

// The page's language changed: the same alerts in the other words.
new MutationObserver(draw).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
setInterval(() => state.session && refresh(), REFRESH_MS);

draw();
if (view.session) {
  pageFollows = true;
  signedIn(view.session);
}
setTimeout(() => { if (!pageFollows) waitForSignIn(); }, OWN_STREAM_AFTER_MS);
