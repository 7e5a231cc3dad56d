// What every part of the console shares: the city's facts, the page's state, texts in the
// city's languages, requests to the server, time, the one-line alert, keyboard shortcuts,
// and a bus on which the page tells its panels what changed.
//
// console.js owns the page (sign-in, the desk, the pop, the live stream); each panel
// (incident, call actions, recording, callbacks, this number) is a module of its own that
// imports this kit, fills its slot in console.html and listens on the bus:
//   session  {detail: session | null}      signed in / out
//   desk     {detail: desk record | null}   after every refresh of this desk
//   call     {detail: {callId, call}}       the popped call changed or was read again
//   event    {detail: {type, data, id}}     a message of the live stream (addEventTypes)
//   live     {detail: true | false}         the stream is (not) live
//   language {detail: language}             texts must be drawn again
//   tick     every 250 ms                   timers
// Every value from the server is shown with textContent: never parsed as HTML.

import { STRINGS, translate } from "./strings.js";

export const city = JSON.parse(document.getElementById("city").textContent);
export const $ = (id) => document.getElementById(id);
export const bus = new EventTarget();

/** The page's state. Panels read it; console.js writes it. */
export const view = {
  language: "",
  session: null,     // POST/GET /session's body
  desk: null,        // this desk as GET /desks shows it
  call: null,        // the popped call's record
  callId: "",
};

export function emit(name, detail) {
  bus.dispatchEvent(new CustomEvent(name, { detail }));
}

/** An element with properties/attributes and children; strings become text, never markup. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("data-") || name.startsWith("aria-") || name === "role" || name === "for") el.setAttribute(name, value === true ? "" : String(value));
    else if (name in el) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// --- language ---------------------------------------------------------------------------

export function spokenLanguages() {
  const ours = city.languages.filter((lang) => lang in STRINGS);
  return ours.length ? ours : ["en"];
}

const LANGUAGE_KEY = "hotline.console.language";

/** The language this browser chose last (the console's and the wallboard's), if the city speaks it. */
export function savedLanguage() {
  const saved = localStorage.getItem(LANGUAGE_KEY);
  const spoken = spokenLanguages();
  return spoken.includes(saved) ? saved : spoken[0];
}

export function saveLanguage(language) {
  view.language = language;
  localStorage.setItem(LANGUAGE_KEY, language);
}

export function t(key, values) {
  return translate(view.language, key, values);
}

/** A panel's texts: {vi: {key: text}, en: {...}}; keys are prefixed with the panel's name. */
export function addStrings(tables) {
  for (const [language, table] of Object.entries(tables)) {
    STRINGS[language] = Object.assign(STRINGS[language] || {}, table);
  }
}

export function agencyName(agency) {
  if (agency === city.general) return t("general_queue");
  const known = city.agencies[agency];
  if (!known) return agency;
  return known.name[view.language] || known.name[city.languages[0]] || agency;
}

// --- time -------------------------------------------------------------------------------

export function clock(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hours ? `${hours}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

/** Writes ``text`` only when it differs: the timers tick four times a second on pages left
 * open all shift, and an unchanged write still costs the browser a layout. */
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

export function timeOfDay(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString(view.language === "vi" ? "vi-VN" : "en-GB", { hour12: false });
}

export function msField(record, name) {
  const value = record ? Number.parseInt(record[name], 10) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : null;
}

// The server's clock minus this browser's: times in state are counted on the server's clock.
// A response's Date header (whole seconds, and written by the server up to a second before:
// uvicorn renews it once a second) says the server's time was in [date, date + 2 s) at some
// moment between sending the request and reading the answer, so the offset lies in
// [date - received, date + 2000 - sent]. Each answer narrows that range; a slow answer only
// widens its own sample, never moves the clock (a fixed threshold on one sample took a
// two-second-late answer for a two-second skew). A range that no longer meets the new one
// (the server's clock was set) starts again from that sample.
const skew = { lo: -Infinity, hi: Infinity };
let clockSkewMs = 0;

/** The offset range after one more sample, and the offset to use: 0 while 0 is possible. */
export function narrowSkew(range, date, sent, received) {
  let lo = Math.max(range.lo, date - received);
  let hi = Math.min(range.hi, date + 2000 - sent);
  if (lo > hi) [lo, hi] = [date - received, date + 2000 - sent];
  return { lo, hi, offset: lo > 0 ? lo : hi < 0 ? hi : 0 };
}

function noteServerClock(response, sent) {
  const date = Date.parse(response.headers.get("Date") || "");
  if (Number.isNaN(date)) return;
  const next = narrowSkew(skew, date, sent, Date.now());
  skew.lo = next.lo;
  skew.hi = next.hi;
  clockSkewMs = next.offset;
}

export function serverNow() {
  return Date.now() + clockSkewMs;
}

// --- requests ---------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/** JSON to and from the server, with the session cookie and the CSRF header; null for 204. */
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && view.session) headers["X-CSRF-Token"] = view.session.csrf;
  let response;
  const sent = Date.now();
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, t("unreachable", { detail: error.message }));
  }
  noteServerClock(response, sent);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail
      : data && data.detail ? JSON.stringify(data.detail) : `HTTP ${response.status}`;
    const error = new ApiError(response.status, detail);
    if (response.status === 401 && view.session) emit("session-lost", error);
    throw error;
  }
  return data;
}

export function showMessage(text) {
  const box = $("console-message");
  box.textContent = text;
  box.hidden = !text;
}

// --- keys -------------------------------------------------------------------------------

/** key (event.key lower-cased, with "ctrl+" when Ctrl is held) → {label, run}. */
export const shortcuts = new Map();
// console.js's own keys: Ready, Pause, Log out, the next language, help, close.
const PAGE_KEYS = new Set(["r", "p", "l", "n", "?", "f1", "escape"]);

/** A keyboard shortcut, listed in the F1 help. modifiers: "" or "ctrl". */
export function addKey(key, { label, run, modifiers = "" }) {
  const name = `${modifiers ? `${modifiers}+` : ""}${key.toLowerCase()}`;
  if (shortcuts.has(name) || PAGE_KEYS.has(name)) throw new Error(`the key ${name} is taken`);
  shortcuts.set(name, { label, run });
  const help = document.querySelector("#help-dialog tbody");
  if (help) {
    const shown = modifiers ? [h("kbd", {}, "Ctrl"), " ", h("kbd", {}, key.toUpperCase())] : [h("kbd", {}, key.toUpperCase())];
    help.append(h("tr", {}, h("td", {}, ...shown), h("td", { "data-t": label }, t(label))));
  }
}

/** The stream's event types a panel wants (the `type` its Lua script's emit() writes). */
export const eventTypes = new Set();

export function addEventTypes(types) {
  const fresh = types.filter((type) => !eventTypes.has(type));
  for (const type of fresh) eventTypes.add(type);
  if (fresh.length) emit("event-types", fresh);
}
