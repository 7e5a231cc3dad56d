// The call-taker's console: sign in, the desk's state with its time, Ready / Pause / Log out
// by key, and the screen pop of a ringing call, kept live by the server's event stream.
// Every value from the server is shown with textContent: never parsed as HTML.

import { STRINGS, translate } from "./strings.js";
import {
  $, city, view, emit, t, spokenLanguages, agencyName, clock, setText, timeOfDay, msField, serverNow,
  request, ApiError, showMessage, shortcuts, eventTypes, savedLanguage, saveLanguage,
} from "./kit.js";
import { LiveStream, startPage, signInFromForm } from "./live.js";

const STATE_SYMBOLS = {
  offline: "○", ready: "▶", ringing: "☎", on_call: "◆", wrap_up: "◐", paused: "‖",
};
// Event types that concern a desk (their data carries desk_id): queueing/lua/*.lua's emit().
const DESK_EVENTS = [
  "desk_state", "desk_released", "desk_registered", "offered", "answered", "offer_failed",
  "call_ended", "call_abandoned", "ready_entry_dropped", "callback_dialing",
];
// Event types that change a call record (data carries call_id).
const CALL_EVENTS = [
  "call_arrived", "call_queued", "call_fallback", "call_rejoined", "call_reprioritized",
];
const POLL_MS = 3000;

Object.assign(view, {
  language: savedLanguage(),
  live: false,
  pollTimer: 0,
  deskRequest: 0,    // the newest desk refresh wins
});

// The live stream (live.js): a new connection starts after the last event heard.
const stream = new LiveStream({
  types: [...DESK_EVENTS, ...CALL_EVENTS, ...eventTypes],
  onEvent,
  onLive: setLive,
  onResync: () => refreshDesk(),  // opened again, or the server lost track: read the desk again
  stillSignedIn,
});

// --- language ---------------------------------------------------------------------------

function setLanguage(language) {
  saveLanguage(language);
  renderAll();
}

function nextLanguage() {
  const spoken = spokenLanguages();
  setLanguage(spoken[(spoken.indexOf(view.language) + 1) % spoken.length]);
}

function renderLanguageSwitch() {
  const box = $("langs");
  box.replaceChildren();
  box.setAttribute("aria-label", t("key_language"));
  for (const lang of spokenLanguages()) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "lang";
    button.dataset.lang = lang;
    button.lang = lang;
    button.textContent = lang.toUpperCase();
    button.title = translate(lang, "language_name");
    const current = lang === view.language;
    button.setAttribute("aria-pressed", String(current));
    if (current) button.textContent = `[${lang.toUpperCase()}]`;
    button.addEventListener("click", () => setLanguage(lang));
    box.append(button);
  }
  const hint = document.createElement("kbd");
  hint.textContent = "N";
  box.append(hint);
}

function renderTexts() {
  document.documentElement.lang = view.language;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
}

// --- sign in / out ----------------------------------------------------------------------

/** A 401 means the session ended (expired, or ended elsewhere): the sign-in, not a dead page. */
function sessionLost(error) {
  if (!(error instanceof ApiError) || error.status !== 401) return false;
  if (view.session) showSignIn(t("session_over"));
  return true;
}

function showSignIn(message = "") {
  view.session = null;
  view.desk = null;
  view.call = null;
  view.callId = "";
  stream.stop();
  $("console").hidden = true;
  $("signin").hidden = false;
  const error = $("signin-error");
  error.textContent = message;
  error.hidden = !message;
  const lastDesk = localStorage.getItem("hotline.console.desk");
  if (lastDesk && !$("signin-desk").value) $("signin-desk").value = lastDesk;
  $("signin-password").value = "";
  renderAll();
  ($("signin-user").value ? $("signin-password") : $("signin-user")).focus();
  emit("session", null);
}

function showConsole(session) {
  view.session = session;
  if (session.desk) localStorage.setItem("hotline.console.desk", session.desk);
  $("signin").hidden = true;
  $("console").hidden = false;
  showMessage("");
  renderAll();
  emit("session", session);
  stream.start();
  refreshDesk();
}

async function logOut() {
  if (!view.session) return;
  // The server logs the desk out with the session; it refuses while the desk rings or is on a call.
  try {
    await request("DELETE", "/session");
  } catch (error) {
    if (sessionLost(error)) return;
    showMessage(t("refused", { detail: error.detail }));
    refreshDesk();
    return;
  }
  showSignIn("");
}

// --- the desk ---------------------------------------------------------------------------

/** ``callBeingRead``: a call whose record is already being read (an offer): not read twice. */
async function refreshDesk(callBeingRead = "") {
  if (!view.session) return;
  const asked = ++view.deskRequest;
  let mine = null;
  try {
    // This desk only: a centre has hundreds, and every console reads its own on each change.
    if (view.session.desk) mine = await request("GET", `/desks/${encodeURIComponent(view.session.desk)}`);
  } catch (error) {
    if (!sessionLost(error)) showMessage(error.detail);
    return;
  }
  if (asked !== view.deskRequest || !view.session) return;  // a newer refresh is on its way
  if (view.desk && mine && (mine.state !== view.desk.state || mine.since_ms !== view.desk.since_ms)) showMessage("");
  view.desk = mine;
  renderDesk();
  emit("desk", mine);
  const callId = mine && ["ringing", "on_call", "wrap_up"].includes(mine.state) ? mine.call_id : "";
  if (callId !== view.callId) {
    view.callId = callId;
    view.call = null;
    renderPop();
  }
  if (callId && callId !== callBeingRead) refreshCall(callId);
}

async function setState(state, reason = "") {
  if (!view.session) return;
  showMessage("");
  try {
    view.desk = await request("PUT", `/desks/${encodeURIComponent(view.session.desk)}/state`, { state, reason });
    renderDesk();
  } catch (error) {
    if (!sessionLost(error)) showMessage(t("refused", { detail: error.detail }));
  }
  refreshDesk();
}

function stateWords(state) {
  return STATE_SYMBOLS[state] ? t(`state_${state}`) : t("state_unknown");
}

function renderDesk() {
  const session = view.session;
  const box = $("desk-state");
  if (!session) {
    $("desk-id").textContent = "";
    $("desk-agency").textContent = "";
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $("desk-id").textContent = session.desk || "—";
  $("desk-agency").textContent = agencyName(session.agency || city.desks[session.desk] || "");
  $("who-user").textContent = session.user;
  $("who-role").textContent = session.role;
  const desk = view.desk;
  const state = desk ? desk.state : "unknown";
  box.dataset.state = state;
  box.querySelector(".state-symbol").textContent = STATE_SYMBOLS[state] || "?";
  box.querySelector(".state-words").textContent = stateWords(state);
  box.querySelector(".state-reason").textContent = desk && desk.reason ? `(${desk.reason})` : "";
  $("ready-button").disabled = state === "ready" || state === "ringing" || state === "on_call";
  $("pause-button").disabled = state === "offline" || state === "ringing" || state === "on_call";
  tick();
}

// --- the pause dialog -------------------------------------------------------------------

function reasonText(reason) {
  return typeof reason === "string" ? reason : String(reason.label || reason.reason || reason.id || "");
}

function pauseReasons() {
  return (view.session && Array.isArray(view.session.pause_reasons) ? view.session.pause_reasons : [])
    .map(reasonText).filter((r) => r);
}

function openPause() {
  if (!view.session || $("pause-button").disabled) return;
  const list = $("pause-reasons");
  list.replaceChildren();
  const reasons = pauseReasons();
  if (!reasons.length) {
    const item = document.createElement("li");
    item.textContent = t("no_reasons");
    list.append(item);
  }
  reasons.slice(0, 9).forEach((reason, i) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "key-button reason";
    button.dataset.reason = reason;
    const key = document.createElement("kbd");
    key.textContent = String(i + 1);
    const words = document.createElement("span");
    words.textContent = reason;
    button.append(key, " ", words);
    button.addEventListener("click", () => choosePause(reason));
    item.append(button);
    list.append(item);
  });
  $("pause-dialog").showModal();
  const first = list.querySelector("button");
  if (first) first.focus();
}

function choosePause(reason) {
  $("pause-dialog").close();
  setState("paused", reason);
}

// --- the screen pop ---------------------------------------------------------------------

async function refreshCall(callId) {
  try {
    const record = await request("GET", `/calls/${encodeURIComponent(callId)}`);
    if (view.callId !== callId) return;
    view.call = record;
    renderPop();
  } catch (error) {
    if (sessionLost(error)) return;
    if (view.callId === callId) showMessage(t("unknown_call", { call_id: callId, detail: error.detail }));
  }
}

function ivrLine(call) {
  const parts = [];
  // human_first: a desk was free, so the caller heard no menu; the call-taker asks and transfers.
  if (call.route_reason === "desk_free") parts.push(t("no_choice_yet"));
  // The caller spoke in the menu instead of pressing (a panicked caller): straight to a person.
  else if (call.route_reason === "spoke") parts.push(t("spoke"));
  else if (call.route_reason === "no_input" || (!call.choice && call.route_reason !== "rejoined")) parts.push(t("no_key"));
  else if (call.route_reason === "invalid") parts.push(t("invalid_key"));
  else if (call.choice) parts.push(t("chose", { digit: call.choice }));
  if (call.route_reason === "rejoined") parts.push(t("rejoined"));
  if (call.language) {
    const known = STRINGS[view.language][`lang_${call.language}`];
    parts.push(t("in_language", { language: known || call.language }));
  }
  return parts.join(" · ");
}

function renderPop() {
  const pop = $("pop");
  const call = view.call;
  $("no-call").hidden = Boolean(view.callId);
  emit("call", { callId: view.callId, call });
  if (!view.callId || !call) {
    pop.hidden = true;
    return;
  }
  pop.hidden = false;
  pop.dataset.state = call.state || "";
  $("pop-state").textContent = t(`call_${call.state}`) === `call_${call.state}` ? (call.state || "").toUpperCase()
    : t(`call_${call.state}`);
  $("pop-caller").textContent = call.caller || "—";
  const queue = call.queue || "";
  const agencyLabel = city.agencies[queue] ? ` · ${city.agencies[queue].label}` : "";
  $("pop-queue").textContent = queue ? `${agencyName(queue)}${agencyLabel}` : "—";
  $("pop-ivr").textContent = ivrLine(call) || "—";
  const arrived = msField(call, "arrived_ms");
  $("pop-arrived").textContent = arrived ? timeOfDay(arrived) : "—";
  $("pop-priority").textContent = call.priority ?? "—";
  $("pop-call-id").textContent = call.call_id || view.callId;
  const repeat = $("pop-repeat");
  const count = Number.parseInt(call.repeat_count || "0", 10);
  repeat.hidden = !(count > 0 && call.previous_call_id);
  repeat.textContent = repeat.hidden ? "" : t("repeat", { n: count + 1, previous: call.previous_call_id });
  tick();
}

// --- timers -----------------------------------------------------------------------------

function tick() {
  emit("tick", null);
  const now = serverNow();
  const desk = view.desk;
  const since = desk && desk.since_ms ? desk.since_ms : null;
  setText($("desk-state").querySelector(".state-time"), since ? clock(now - since) : "");
  const call = view.call;
  if (!call || $("pop").hidden) return;
  const arrived = msField(call, "arrived_ms");
  const queued = msField(call, "queued_ms");
  const offered = msField(call, "offered_ms");
  const answered = msField(call, "answered_ms");
  const ended = msField(call, "ended_ms");
  const stop = ended || now;
  setText($("pop-since-arrival"), arrived ? clock(now - arrived) : "—");
  setText($("pop-waited"), queued ? clock((offered || stop) - queued) : "—");
  setText($("pop-ring"), offered ? clock((answered || stop) - offered) : "—");
  setText($("pop-state-time"), clock(now - (answered || offered || queued || arrived || now)));
}

// --- the live stream --------------------------------------------------------------------

function setLive(live) {
  view.live = live;
  emit("live", live);
  renderLive();
  clearInterval(view.pollTimer);
  // Not live: the desk is still read every few seconds, so the page is never far behind.
  if (!live && view.session) view.pollTimer = setInterval(refreshDesk, POLL_MS);
}

function renderLive() {
  const box = $("live");
  box.hidden = !view.session;  // before sign-in there is nothing to follow
  box.dataset.live = view.live ? "yes" : "no";
  box.querySelector(".live-symbol").textContent = view.live ? "●" : "○";
  box.querySelector(".live-words").textContent = view.live ? t("live") : t("not_live");
}

function onEvent(type, data, id) {
  if (!view.session) return;
  if (eventTypes.has(type)) emit("event", { type, data, id });
  if (data.desk_id === view.session.desk) {
    // A call offered to this desk pops at once: its record is read alongside the desk, not after it.
    if (type === "offered" && data.call_id && data.call_id !== view.callId) {
      view.callId = data.call_id;
      // Drawn from the event at once (number, queue, priority, timers); the record's details follow.
      view.call = offeredCall(data);
      renderPop();
      refreshCall(data.call_id);
      refreshDesk(data.call_id);
    } else {
      refreshDesk();
    }
  } else if (view.callId && data.call_id === view.callId) {
    refreshCall(view.callId);
  }
}

/** What an ``offered`` event says of its call, shaped as the record (GET /calls/{id}) is. */
function offeredCall(data) {
  const call = { call_id: data.call_id, state: "ringing", desk: data.desk_id };
  for (const name of ["caller", "queue", "priority", "choice", "route_reason", "language", "arrived_ms", "offered_ms"]) {
    if (data[name]) call[name] = data[name];
  }
  return call;
}

/** The stream gave up: is the session still there? (A 401 shows the sign-in, not a dead page.) */
async function stillSignedIn() {
  if (!view.session) return false;
  try {
    await request("GET", "/session");
  } catch (error) {
    if (sessionLost(error)) return false;
  }
  return Boolean(view.session);
}

// --- keys -------------------------------------------------------------------------------

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function toggleHelp() {
  const help = $("help-dialog");
  if (help.open) help.close();
  else help.showModal();
}

function onKey(event) {
  if (event.key === "F1") {
    event.preventDefault();
    toggleHelp();
    return;
  }
  // Any dialog (pause, help, a panel's) takes the keys while it is open.
  const dialogOpen = Boolean(document.querySelector("dialog[open]"));
  if (event.ctrlKey && !event.altKey && !event.metaKey && view.session && !dialogOpen) {
    // A panel's Ctrl shortcut (e.g. Ctrl+S) works while typing in its form too.
    const panelKey = shortcuts.get(`ctrl+${event.key.toLowerCase()}`);
    if (panelKey) {
      event.preventDefault();
      panelKey.run(event);
    }
    return;
  }
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  if ($("pause-dialog").open) {
    const n = Number.parseInt(event.key, 10);
    const reasons = pauseReasons();
    if (n >= 1 && n <= Math.min(9, reasons.length)) {
      event.preventDefault();
      choosePause(reasons[n - 1]);
    }
    return;
  }
  if (typing(event.target)) return;
  if (event.key === "?") {
    event.preventDefault();
    toggleHelp();
    return;
  }
  if (dialogOpen) return;
  const key = event.key.toLowerCase();
  if (key === "n") {
    event.preventDefault();
    nextLanguage();
    return;
  }
  if (!view.session) return;
  if (key === "r") {
    event.preventDefault();
    if (!$("ready-button").disabled) setState("ready");
  } else if (key === "p") {
    event.preventDefault();
    openPause();
  } else if (key === "l") {
    event.preventDefault();
    logOut();
  } else if (shortcuts.has(key)) {
    event.preventDefault();
    shortcuts.get(key).run(event);
  }
}

// --- start ------------------------------------------------------------------------------

function renderAll() {
  renderTexts();
  emit("language", view.language);
  renderLanguageSwitch();
  renderLive();
  renderDesk();
  renderPop();
}

async function start() {
  const list = $("desk-list");
  for (const desk of Object.keys(city.desks)) {
    const option = document.createElement("option");
    option.value = desk;
    option.label = agencyName(city.desks[desk]);
    list.append(option);
  }
  $("signin-form").addEventListener("submit", (event) => signInFromForm(event, "signin-desk", showConsole));
  $("ready-button").addEventListener("click", () => setState("ready"));
  $("pause-button").addEventListener("click", openPause);
  $("logout-button").addEventListener("click", logOut);
  $("help-button").addEventListener("click", toggleHelp);
  document.addEventListener("keydown", onKey);
  await startPage({ stream, tick, render: renderAll, showSignIn, showSession: showConsole });
}

start();
