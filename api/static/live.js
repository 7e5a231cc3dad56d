// Following GET /events (server-sent events) for a page signed in with /session: a new
// connection starts after the last event heard (?after=), so it misses nothing; a "gap"
// (the server lost track) or a (re)open asks the page to read its state again; a stream
// silent past two keepalives is opened again; a stream the browser gave up on is retried
// after checking the session is still there (a 401 is the page's sign-in, not a dead page).
// startPage() is how the console and the wallboard start: the session they have, or the sign-in;
// signInFromForm() is their sign-in form's submit.

import { $, view, t, request, bus, eventTypes } from "./kit.js";

const RECONNECT_MS = 2000;
const SILENCE_MS = 40000;  // two of the server's 15 s keepalives missed, and some

export class LiveStream {
  /**
   * types: event types to hear (the `type` a Lua script's emit() writes).
   * onEvent(type, data, id): each event; onLive(bool): live or not; onResync(): read the
   * state again (opened, reopened, gap); stillSignedIn(): a promise, false when the session ended.
   */
  constructor({ types, onEvent, onLive, onResync, stillSignedIn }) {
    Object.assign(this, { types: new Set(types), onEvent, onLive, onResync, stillSignedIn });
    this.source = null;
    this.lastEventId = "";
    this.lastHeard = 0;
    this.live = false;
    this.reconnectTimer = 0;
    this.silenceTimer = 0;
  }

  start() {
    clearTimeout(this.reconnectTimer);
    if (this.source) this.source.close();
    const after = this.lastEventId;
    const source = new EventSource(after ? `/events?after=${encodeURIComponent(after)}` : "/events");
    this.source = source;
    this.lastHeard = Date.now();
    const heard = (message) => {
      this.lastHeard = Date.now();
      if (message && message.lastEventId) this.lastEventId = message.lastEventId;
    };
    const onEvent = (message) => {
      heard(message);
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data && typeof data === "object") this.onEvent(message.type, data, message.lastEventId);
    };
    source.addEventListener("open", () => {
      if (this.source !== source) return;
      heard(null);
      this.setLive(true);
      this.onResync();  // whatever changed while the stream was away
    });
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      this.setLive(false);
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = setTimeout(() => this.reconnect(), RECONNECT_MS);
      }
    });
    source.addEventListener("live", heard);
    source.addEventListener("gap", (message) => {
      heard(message);
      this.onResync();
    });
    source.addEventListener("message", onEvent);
    this.onMessage = onEvent;
    for (const type of this.types) source.addEventListener(type, onEvent);
    clearInterval(this.silenceTimer);
    this.silenceTimer = setInterval(() => {
      if (this.source && this.live && Date.now() - this.lastHeard > SILENCE_MS) this.start();
    }, 5000);
  }

  /** More event types to hear (a module that loaded after the stream opened). */
  hear(types) {
    for (const type of types) {
      if (this.types.has(type)) continue;
      this.types.add(type);
      if (this.source) this.source.addEventListener(type, this.onMessage);
    }
  }

  async reconnect() {
    if (await this.stillSignedIn()) this.start();
  }

  setLive(live) {
    this.live = live;
    this.onLive(live);
  }

  stop() {
    clearTimeout(this.reconnectTimer);
    clearInterval(this.silenceTimer);
    if (this.source) this.source.close();
    this.source = null;
    this.lastEventId = "";
    this.setLive(false);
  }
}

/** A page's start (the console's, the wallboard's): the bus's session-lost and event-types, the
 * 250 ms tick, then the session this browser has (GET /session), or the sign-in. */
export async function startPage({ stream, tick, render, showSignIn, showSession }) {
  bus.addEventListener("session-lost", () => { if (view.session) showSignIn(t("session_over")); });
  // A module that loads after the stream opened still hears its event types.
  bus.addEventListener("event-types", (e) => stream.hear(e.detail));
  stream.hear(eventTypes);
  setInterval(tick, 250);
  render();
  let session = null;
  try {
    session = await request("GET", "/session");
  } catch (error) {
    showSignIn(error.status === 401 || error.status === 404 ? "" : error.detail);
    return;
  }
  showSession(session);
}

/** The sign-in form's submit: ``deskField`` is the id of the desk input (the console binds a
 * desk) or null (the wallboard: no desk); ``onSession`` gets the new session. */
export async function signInFromForm(event, deskField, onSession) {
  event.preventDefault();
  const user = $("signin-user").value.trim();
  const password = $("signin-password").value;
  const desk = deskField ? $(deskField).value.trim() : null;
  const error = $("signin-error");
  if (!user || !password || desk === "") {
    error.textContent = t("signin_missing");
    error.hidden = false;
    return;
  }
  error.hidden = true;
  $("signin-submit").disabled = true;
  try {
    onSession(await request("POST", "/session", { user, password, desk }));
  } catch (failure) {
    error.textContent = failure.status ? t("signin_refused", { detail: failure.detail }) : failure.detail;
    error.hidden = false;
    $("signin-password").select();
  } finally {
    $("signin-submit").disabled = false;
  }
}
