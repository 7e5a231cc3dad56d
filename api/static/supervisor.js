// The supervisors' wallboard: sign in (a supervisor, or a viewer for a wall screen), then one
// column per queue (callers waiting and the longest wait as a live clock, service level
// against the city's targets with its trend, abandons by stage with the short ones apart,
// callbacks pending), the desks with their time in state, and the line's health on top.
//
// GET /board gives the figures (the server computes them at most once a second); GET /events
// moves desks and waiting counts at once, and asks /board again, at most once a second; the
// board is also read every 5 s. Every value from the server is shown with textContent.
//
// Other modules plug in through kit.js's bus, as the console's panels do:
//   session {detail: session | null}, board {detail: board}, event {detail: {type, data, id}},
//   live {detail: bool}, language, tick (250 ms).
// Per-desk actions go in each desk row's `.desk-actions` cell (the row has data-desk), per-queue
// ones in a column's `.queue-actions` slot (data-queue); a viewer's page has <body data-role="viewer">
// and must get none.

import { translate } from "./strings.js";
import {
  $, city, view, emit, t, spokenLanguages, agencyName, clock, setText, timeOfDay, serverNow,
  request, ApiError, addStrings, h, eventTypes, savedLanguage, saveLanguage,
} from "./kit.js";
import { LiveStream, startPage, signInFromForm } from "./live.js";

addStrings({
  vi: {
    sup_signin_title: "Đăng nhập bảng giám sát",
    sup_sign_out: "Đăng xuất",
    sup_wrong_page_title: "Trang này dành cho giám sát viên",
    sup_wrong_page: "{user} là điện thoại viên: bảng giám sát chỉ dành cho giám sát viên và người xem.",
    sup_to_console: "Mở bàn trực của điện thoại viên",
    sup_desks: "Bàn trực",
    sup_agency: "Lực lượng",
    sup_state: "Trạng thái",
    sup_time_in_state: "Thời gian",
    sup_reason: "Lý do",
    sup_caller: "Người gọi",
    sup_actions: "Thao tác",
    sup_waiting: "đang chờ",
    sup_centre: "Toàn trung tâm",
    sup_longest: "chờ lâu nhất",
    sup_in_ivr: "đang ở menu",
    sup_ringing: "đang đổ chuông",
    sup_within: "{s} giây",
    sup_target: "mục tiêu {p} %",
    sup_met: "đạt",
    sup_not_met: "chưa đạt",
    sup_no_answers: "chưa có cuộc trả lời",
    sup_last_hour: "1 giờ",
    sup_shift: "ca",
    sup_abandoned: "bỏ máy (1 giờ)",
    sup_abandoned_shift: "bỏ máy (ca)",
    sup_short: "ngắn < {s} giây: {n}",
    sup_stage_ivr: "menu",
    sup_stage_queued: "hàng chờ",
    sup_stage_ringing: "đổ chuông",
    sup_callbacks: "gọi lại chờ xử lý",
    sup_oldest: "lâu nhất",
    sup_trend_better: "▲ tốt lên",
    sup_trend_worse: "▼ xấu đi",
    sup_trend_same: "= như trước",
    sup_ami_ok: "AMI tốt",
    sup_ami_down: "AMI mất kết nối",
    sup_redis: "Redis {role}",
    sup_redis_sentinel: "Redis {role} ({master}: {primary}, {n} sentinel)",
    sup_redis_down: "Redis không trả lời",
    sup_bridges: "{alive}/{total} bridge · nhịp {age}",
    sup_no_bridge: "không có bridge nào",
    sup_disk: "đĩa ghi âm còn {p} %",
    sup_disk_unknown: "đĩa ghi âm: không đọc được",
    sup_fallback: "⚠ {n} người gọi ở hàng chờ dự phòng",
    sup_fallback_none: "hàng chờ dự phòng: 0",
    sup_board_failed: "Không đọc được bảng: {detail}",
    sup_desk_states: "bàn: {list}",
    sup_read_only: "chỉ xem",
  },
  en: {
    sup_signin_title: "Sign in to the wallboard",
    sup_sign_out: "Sign out",
    sup_wrong_page_title: "This page is for supervisors",
    sup_wrong_page: "{user} is a call-taker: the wallboard is for supervisors and viewers.",
    sup_to_console: "Open the call-taker's console",
    sup_desks: "Desks",
    sup_agency: "Agency",
    sup_state: "State",
    sup_time_in_state: "Time",
    sup_reason: "Reason",
    sup_caller: "Caller",
    sup_actions: "Actions",
    sup_waiting: "waiting",
    sup_centre: "Whole centre",
    sup_longest: "longest wait",
    sup_in_ivr: "in the menu now",
    sup_ringing: "ringing",
    sup_within: "{s} s",
    sup_target: "target {p} %",
    sup_met: "met",
    sup_not_met: "not met",
    sup_no_answers: "no answers yet",
    sup_last_hour: "1 h",
    sup_shift: "shift",
    sup_abandoned: "abandoned (1 h)",
    sup_abandoned_shift: "abandoned (shift)",
    sup_short: "short < {s} s: {n}",
    sup_stage_ivr: "menu",
    sup_stage_queued: "queue",
    sup_stage_ringing: "ringing",
    sup_callbacks: "callbacks pending",
    sup_oldest: "oldest",
    sup_trend_better: "▲ better",
    sup_trend_worse: "▼ worse",
    sup_trend_same: "= same",
    sup_ami_ok: "AMI ok",
    sup_ami_down: "AMI down",
    sup_redis: "Redis {role}",
    sup_redis_sentinel: "Redis {role} ({master}: {primary}, {n} sentinels)",
    sup_redis_down: "Redis not answering",
    sup_bridges: "{alive}/{total} bridges · beat {age}",
    sup_no_bridge: "no bridge",
    sup_disk: "recording disk {p} % free",
    sup_disk_unknown: "recording disk: unreadable",
    sup_fallback: "⚠ callers in the fallback queue: {n}",
    sup_fallback_none: "fallback queue: 0",
    sup_board_failed: "Cannot read the board: {detail}",
    sup_desk_states: "desks: {list}",
    sup_read_only: "read-only",
  },
});

const STATE_SYMBOLS = {
  offline: "○", ready: "▶", ringing: "☎", on_call: "◆", wrap_up: "◐", paused: "‖",
};
const DESK_STATES = ["ready", "ringing", "on_call", "wrap_up", "paused", "offline"];
const STAGES = ["ivr", "queued", "ringing"];
// Every event type that moves a figure on the board (queueing/lua/*.lua's emit()).
const EVENT_TYPES = [
  "call_arrived", "call_queued", "offered", "answered", "offer_failed", "call_ended", "call_abandoned",
  "call_fallback", "call_rejoined", "call_reprioritized", "call_moved", "call_picked", "queue_entry_dropped",
  "desk_state", "desk_released", "desk_registered", "ready_entry_dropped", "callback_created", "callback_dialing",
  "callback_reached", "callback_given_up", "callback_not_needed", "bridge_ami",
];
const REFRESH_EVERY_MS = 5000;
const REFRESH_AT_MOST_MS = 1000;

Object.assign(view, {
  language: savedLanguage(),
  board: null,
  boardFailed: "",
  lastRead: 0,        // when /board was last asked for
  refreshTimer: 0,
  reading: false,
  again: false,       // an event came while reading: read once more after
  desks: new Map(),   // desk_id → the desk as drawn (the board's, moved by events since)
  waiting: new Map(), // queue → {waiting, oldest} as drawn
  live: false,
});

const stream = new LiveStream({
  types: EVENT_TYPES,
  onEvent,
  onLive: (live) => { view.live = live; emit("live", live); renderLive(); },
  onResync: () => refreshBoard(),
  stillSignedIn,
});

// --- language ---------------------------------------------------------------------------

function setLanguage(language) {
  saveLanguage(language);
  renderAll();
}

function renderLanguageSwitch() {
  const box = $("langs");
  box.replaceChildren(...spokenLanguages().map((lang) => h("button", {
    type: "button", class: "lang", lang, title: translate(lang, "language_name"),
    "aria-pressed": String(lang === view.language), onclick: () => setLanguage(lang),
  }, lang === view.language ? `[${lang.toUpperCase()}]` : lang.toUpperCase())));
}

function renderTexts() {
  document.documentElement.lang = view.language;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
}

// --- sign in / out ----------------------------------------------------------------------

function showOnly(id) {
  for (const section of ["signin", "wrong-page", "board"]) $(section).hidden = section !== id;
}

function showSignIn(message = "") {
  view.session = null;
  stream.stop();
  showOnly("signin");
  document.body.dataset.role = "";
  $("who").hidden = true;
  $("signout-button").hidden = true;
  const error = $("signin-error");
  error.textContent = message;
  error.hidden = !message;
  $("signin-password").value = "";
  renderAll();
  ($("signin-user").value ? $("signin-password") : $("signin-user")).focus();
  emit("session", null);
}

function showSession(session) {
  view.session = session;
  document.body.dataset.role = session.role;
  setText($("who-user"), session.user);
  setText($("who-role"), session.role === "viewer" ? `${session.role} · ${t("sup_read_only")}` : session.role);
  $("who").hidden = false;
  $("signout-button").hidden = false;
  if (session.role !== "supervisor" && session.role !== "viewer") {
    // A call-taker's session is left as it is: its desk stays logged in for the console.
    showOnly("wrong-page");
    setText($("wrong-page-text"), t("sup_wrong_page", { user: session.user }));
    renderAll();
    return;
  }
  showOnly("board");
  renderAll();
  emit("session", session);
  stream.start();
  refreshBoard();
}

async function signOut() {
  try {
    await request("DELETE", "/session");
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) {
      showBoardMessage(t("refused", { detail: error.detail }));
      return;
    }
  }
  showSignIn("");
}

async function stillSignedIn() {
  try {
    await request("GET", "/session");
    return Boolean(view.session);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      if (view.session) showSignIn(t("session_over"));
      return false;
    }
    return Boolean(view.session);  // the server is away: keep trying
  }
}

// --- the board --------------------------------------------------------------------------

function showBoardMessage(text) {
  const box = $("board-message");
  box.textContent = text;
  box.hidden = !text;
}

/** Reads /board now, or as soon as a second has passed since the last read. */
function refreshBoard() {
  if (!view.session || $("board").hidden) return;
  clearTimeout(view.refreshTimer);
  const wait = view.lastRead + REFRESH_AT_MOST_MS - Date.now();
  if (wait > 0) {
    view.refreshTimer = setTimeout(refreshBoard, wait);
    return;
  }
  if (view.reading) {
    view.again = true;
    return;
  }
  readBoard();
}

async function readBoard() {
  view.reading = true;
  view.lastRead = Date.now();
  try {
    const board = await request("GET", "/board");
    view.board = board;
    view.boardFailed = "";
    // The board was computed up to a second ago: what an event drew since (a desk's later
    // change, a queue's count moved after the board's moment) is not drawn back to the older state.
    const before = view.desks || new Map();
    view.desks = new Map(board.desks.map((d) => {
      const seen = before.get(d.desk_id);
      return [d.desk_id, seen && (Number(seen.since_ms) || 0) > (Number(d.since_ms) || 0) ? seen : { ...d }];
    }));
    const counted = view.waiting || new Map();
    view.waiting = new Map(board.queues.map((q) => {
      const seen = counted.get(q.queue);
      return [q.queue, seen && seen.moved_ms > board.now_ms ? seen
        : { waiting: q.waiting, oldest: q.oldest_waiting_arrived_ms, moved_ms: 0 }];
    }));
    showBoardMessage("");
    renderBoard();
    emit("board", board);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      if (view.session) showSignIn(t("session_over"));
      return;
    }
    view.boardFailed = error.detail;
    showBoardMessage(t("sup_board_failed", { detail: error.detail }));
    renderHealth();
  } finally {
    view.reading = false;
    clearTimeout(view.refreshTimer);
    const again = view.again;
    view.again = false;
    view.refreshTimer = setTimeout(refreshBoard, again ? REFRESH_AT_MOST_MS : REFRESH_EVERY_MS);
  }
}

// --- events: drawn at once, then the board read again -----------------------------------

function moveDesk(deskId, change) {
  const desk = view.desks.get(deskId);
  if (!desk) return;
  Object.assign(desk, change);
  renderDesk(desk);
}

function moveWaiting(queue, by, at) {
  const now = view.waiting.get(queue);
  if (!now) return;
  now.moved_ms = at;
  now.waiting = Math.max(0, now.waiting + by);
  if (now.waiting === 0) now.oldest = null;
  else if (by > 0 && now.oldest === null && at) now.oldest = at;  // roughly, until the board says exactly
  renderWaiting(queue);
  renderWaiting(CENTRE);
}

function onEvent(type, data, id) {
  if (!view.session) return;
  if (eventTypes.has(type)) emit("event", { type, data, id });
  const at = Number(data.ms) || serverNow();
  const desk = data.desk_id;
  switch (type) {
    case "desk_state": case "desk_released": case "desk_registered":
      if (desk && data.state) moveDesk(desk, { state: data.state, reason: data.reason || "", since_ms: at, ...(data.state === "ready" || data.state === "offline" ? { call_id: "", caller: "" } : {}) });
      break;
    case "offered":
      if (desk) moveDesk(desk, { state: "ringing", since_ms: at, call_id: data.call_id || "", caller: data.caller || "", reason: "" });
      if (data.queue) moveWaiting(data.queue, -1, at);
      break;
    case "answered":
      if (desk) moveDesk(desk, { state: "on_call", since_ms: at });
      break;
    case "offer_failed": case "call_ended": case "call_abandoned":
      if (desk && data.desk_state) moveDesk(desk, { state: data.desk_state, since_ms: at, reason: "" });
      break;
    case "call_queued":
      if (data.queue) moveWaiting(data.queue, +1, at);
      break;
    default:
      break;
  }
  refreshBoard();
}

// --- drawing ----------------------------------------------------------------------------

// The whole centre's column (GET /board's ``centre``): every queue together, drawn first.
const CENTRE = "centre";

/** The columns in the wall's order: the whole centre, the agencies as the city lists them, the general queue last. */
function queueOrder(board) {
  const general = board.queues.filter((q) => q.queue === city.general);
  return [board.centre, ...board.queues.filter((q) => q.queue !== city.general), ...general];
}

const columnName = (queue) => (queue === CENTRE ? t("sup_centre") : agencyName(queue));

function percent(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 10) / 10} %`;
}

function field(column, name) {
  return column.querySelector(`[data-field="${name}"]`);
}

function queueColumn(queue) {
  const existing = document.querySelector(`.queue[data-queue="${CSS.escape(queue)}"]`);
  if (existing) return existing;
  const general = queue === city.general;
  const centre = queue === CENTRE;
  const line = (label, name, extra = {}) => h("p", { class: `line ${extra.class || ""}` },
    h("span", { class: "label", "data-t": label }, t(label)), " ", h("span", { class: "value", "data-field": name }));
  const column = h("section", { class: "queue", "data-queue": queue, "aria-label": columnName(queue) },
    h("h2", { class: "queue-name", "data-field": "name" }),
    h("p", { class: "headline" },
      h("span", { class: "big", "data-field": "waiting" }), " ", h("span", { "data-t": "sup_waiting" }, t("sup_waiting"))),
    h("p", { class: "line longest-line" },
      h("span", { class: "label", "data-t": "sup_longest" }, t("sup_longest")), " ",
      h("span", { class: "big timer", "data-field": "longest" })),
    general || centre ? line("sup_in_ivr", "in_ivr") : null,
    line("sup_ringing", "ringing"),
    h("div", { class: "levels", "data-field": "levels" }),
    h("div", { class: "abandons" },
      line("sup_abandoned", "abandoned"),
      h("p", { class: "line small", "data-field": "abandoned_detail" }),
      line("sup_abandoned_shift", "abandoned_shift", { class: "small" })),
    line("sup_callbacks", "callbacks"),
    h("p", { class: "line small", "data-field": "desk_states" }),
    centre ? null : h("div", { class: "queue-actions", "data-queue": queue }),
  );
  $("queues").append(column);
  return column;
}

function renderLevels(column, q) {
  const box = field(column, "levels");
  const last = q.windows.last_15m;
  const hour = q.windows.last_hour;
  const shift = q.windows.shift;
  box.replaceChildren(...last.service_levels.map((level, i) => {
    const met = level.met === null ? "none" : level.met ? "yes" : "no";
    const trend = level.trend ? t(`sup_trend_${level.trend}`) : "";
    return h("div", { class: "level", "data-met": met, "data-within": level.within_s },
      h("p", { class: "line" },
        h("span", { class: "label" }, t("sup_within", { s: level.within_s }), ": "),
        h("span", { class: "big", "data-field": `sl_${level.within_s}` }, percent(level.percent)), " ",
        h("span", { class: "trend", "data-trend": level.trend || "" }, trend), " ",
        h("span", { class: "met-word" }, level.met === null ? t("sup_no_answers") : level.met ? `✓ ${t("sup_met")}` : `✗ ${t("sup_not_met")}`),
        " · ", h("span", { class: "quiet" }, t("sup_target", { p: level.target_percent }))),
      h("p", { class: "line small" },
        `${t("sup_last_hour")}: `, h("span", { "data-field": `sl_${level.within_s}_hour` }, percent(hour.service_levels[i].percent)),
        ` · ${t("sup_shift")}: `, h("span", { "data-field": `sl_${level.within_s}_shift` }, percent(shift.service_levels[i].percent))));
  }));
}

function renderColumn(q) {
  const column = queueColumn(q.queue);
  setText(field(column, "name"), columnName(q.queue));
  column.setAttribute("aria-label", columnName(q.queue));
  if (q.in_ivr !== null) setText(field(column, "in_ivr"), String(q.in_ivr));
  setText(field(column, "ringing"), String(q.ringing));
  renderLevels(column, q);
  const hour = q.windows.last_hour;
  const shift = q.windows.shift;
  setText(field(column, "abandoned"), `${percent(hour.abandon_rate_percent)} (${hour.abandoned})`);
  column.querySelector(".abandons").dataset.any = hour.abandoned ? "yes" : "no";
  setText(field(column, "abandoned_detail"), [
    ...STAGES.map((s) => `${t(`sup_stage_${s}`)} ${hour.abandoned_by_stage[s]}`),
    t("sup_short", { s: view.board.short_abandon_s, n: hour.short_abandoned }),
  ].join(" · "));
  setText(field(column, "abandoned_shift"),
    `${percent(shift.abandon_rate_percent)} (${shift.abandoned}) · ${t("sup_short", { s: view.board.short_abandon_s, n: shift.short_abandoned })}`);
  column.dataset.oldestCallback = q.oldest_callback_abandoned_ms ?? "";
  column.dataset.callbacks = String(q.callbacks_pending);
  setText(field(column, "desk_states"), t("sup_desk_states", {
    list: DESK_STATES.filter((s) => q.desks[s]).map((s) => `${STATE_SYMBOLS[s]} ${t(`state_${s}`).toLowerCase()} ${q.desks[s]}`).join(" · ") || "—",
  }));
  renderWaiting(q.queue);
}

/** The whole centre's callers waiting now, from the queues' own live counts. */
function centreWaiting() {
  const queues = [...view.waiting.values()];
  const oldest = queues.map((q) => q.oldest).filter((a) => a !== null && a !== undefined);
  return { waiting: queues.reduce((sum, q) => sum + q.waiting, 0), oldest: oldest.length ? Math.min(...oldest) : null };
}

function renderWaiting(queue) {
  const column = document.querySelector(`.queue[data-queue="${CSS.escape(queue)}"]`);
  const now = queue === CENTRE ? centreWaiting() : view.waiting.get(queue);
  if (!column || !now) return;
  setText(field(column, "waiting"), String(now.waiting));
  column.dataset.waiting = String(now.waiting);
  column.dataset.oldest = now.oldest ?? "";
}

// Each desk's row and its cells, found once: a wall screen redraws hundreds of desks.
const deskRows = new Map();

function deskRow(desk) {
  const known = deskRows.get(desk.desk_id);
  if (known) return known;
  const cell = (name, attrs = {}) => h("td", { "data-field": name, ...attrs });
  const symbol = h("span", { class: "state-symbol", "aria-hidden": "true" });
  const words = h("span", { class: "state-words" });
  const state = h("span", { class: "state", "data-field": "state" }, symbol, " ", words);
  const cells = { agency: cell("agency"), time: cell("time", { class: "timer" }), reason: cell("reason"),
                  caller: cell("caller", { class: "mono" }) };
  const row = h("tr", { "data-desk": desk.desk_id },
    h("th", { scope: "row", class: "mono" }, desk.desk_id), cells.agency, h("td", {}, state), cells.time,
    cells.reason, cells.caller, h("td", { class: "desk-actions", "data-desk": desk.desk_id }));
  $("desks").querySelector("tbody").append(row);
  const entry = { row, state, symbol, words, ...cells, drawn: "" };
  deskRows.set(desk.desk_id, entry);
  return entry;
}

function renderDesk(desk) {
  const entry = deskRow(desk);
  // Drawn only when something shown changed (the board is read every second).
  const drawn = [desk.state, desk.since_ms, desk.reason, desk.caller, desk.agency, view.language].join("\u0000");
  if (entry.drawn === drawn) return;
  entry.drawn = drawn;
  entry.row.dataset.state = desk.state;
  entry.row.dataset.since = desk.since_ms ?? "";
  entry.since = Number(desk.since_ms) || null;
  setText(entry.agency, agencyName(desk.agency));
  entry.state.dataset.state = desk.state;
  setText(entry.symbol, STATE_SYMBOLS[desk.state] || "?");
  setText(entry.words, t(`state_${desk.state}`));
  setText(entry.reason, desk.state === "paused" ? desk.reason : "");
  setText(entry.caller, desk.caller || "");
  setText(entry.time, entry.since ? clock(serverNow() - entry.since) : "—");
}

function renderHealth() {
  const board = view.board;
  const set = (id, ok, text) => {
    const el = $(id);
    el.dataset.ok = ok;
    setText(el.querySelector(".health-symbol"), ok === "yes" ? "●" : ok === "no" ? "✗" : "?");
    setText(el.querySelector(".health-words"), text);
  };
  if (!board) return;
  const hl = board.health;
  if (view.boardFailed) {
    set("health-redis", "no", t("sup_redis_down"));
  } else if (hl.redis_sentinel_master) {
    set("health-redis", "yes", t("sup_redis_sentinel", { role: hl.redis_role, master: hl.redis_sentinel_master, primary: hl.redis_sentinel_primary, n: hl.redis_sentinels }));
  } else {
    set("health-redis", hl.redis_role === "master" ? "yes" : "no", t("sup_redis", { role: hl.redis_role }));
  }
  set("health-ami", hl.ami_up ? "yes" : "no", hl.ami_up ? t("sup_ami_ok") : t("sup_ami_down"));
  const age = hl.newest_heartbeat_age_ms === null ? "—" : `${(hl.newest_heartbeat_age_ms / 1000).toFixed(1)} s`;
  set("health-bridges", hl.bridges_alive ? "yes" : "no",
    hl.bridges.length ? t("sup_bridges", { alive: hl.bridges_alive, total: hl.bridges.length, age }) : t("sup_no_bridge"));
  set("health-disk", hl.recording_free_percent === null ? "no" : hl.recording_free_percent >= 10 ? "yes" : "no",
    hl.recording_free_percent === null ? t("sup_disk_unknown") : t("sup_disk", { p: hl.recording_free_percent }));
  set("health-fallback", hl.fallback_callers ? "no" : "yes",
    hl.fallback_callers ? t("sup_fallback", { n: hl.fallback_callers }) : t("sup_fallback_none"));
}

function renderBoard() {
  const board = view.board;
  if (!board) return;
  for (const q of queueOrder(board)) renderColumn(q);
  for (const desk of view.desks.values()) renderDesk(desk);
  renderHealth();
  tick();
}

function renderLive() {
  const box = $("live");
  box.hidden = !view.session;
  box.dataset.live = view.live ? "yes" : "no";
  setText(box.querySelector(".live-symbol"), view.live ? "●" : "○");
  setText(box.querySelector(".live-words"), view.live ? t("live") : t("not_live"));
}

function renderAll() {
  renderTexts();
  emit("language", view.language);
  renderLanguageSwitch();
  renderLive();
  if (view.board) renderBoard();
}

/** The clocks: the longest waits, the oldest callbacks, every desk's time in state. */
function tick() {
  emit("tick", null);
  const now = serverNow();
  setText($("wall-clock"), timeOfDay(now));
  for (const column of document.querySelectorAll(".queue")) {
    const oldest = Number(column.dataset.oldest);
    setText(field(column, "longest"), column.dataset.oldest ? clock(now - oldest) : "—");
    const callback = Number(column.dataset.oldestCallback);
    setText(field(column, "callbacks"), column.dataset.oldestCallback
      ? `${column.dataset.callbacks} · ${t("sup_oldest")} ${clock(now - callback)}` : column.dataset.callbacks || "0");
  }
  for (const entry of deskRows.values()) setText(entry.time, entry.since ? clock(now - entry.since) : "—");
}

async function start() {
  setText($("line-number"), city.number || "");
  $("signin-form").addEventListener("submit", (event) => signInFromForm(event, null, showSession));
  $("signout-button").addEventListener("click", signOut);
  await startPage({ stream, tick, render: renderAll, showSignIn, showSession });
}

start();
