// The supervisors' report page: a range (one day or any range), then each KPI as a plot drawn by
// the server (GET /reports/plots/{name}.png) with its numbers as a table beside it, the definitions
// from docs/kpis.md, and the CSV of every call. Signs in with /session like the console; a
// supervisor or a viewer reads it. Every value from the server is shown with textContent.

import { REPORT_STRINGS } from "./report_strings.js";

const $ = (id) => document.getElementById(id);
const city = JSON.parse($("city").textContent);
const HOUR_MS = 3_600_000;
const BUCKETS = ["0-5", "5-10", "10-15", "15-20", "20-40", ">40"];
const STAGES = ["ivr", "queued", "ringing"];
const READERS = ["supervisor", "viewer"];

const state = { lang: "", session: null, report: null, range: null };

// --- texts ------------------------------------------------------------------------------------

function languages() {
  const ours = city.languages.filter((lang) => lang in REPORT_STRINGS);
  return ours.length ? ours : ["en"];
}

function t(key, vars = {}) {
  const text = (REPORT_STRINGS[state.lang] || {})[key] ?? REPORT_STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

function drawTexts() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const button of $("langs").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
  }
}

function setLanguage(lang) {
  state.lang = lang;
  drawTexts();
  if (state.report) draw();
}

/** An element with attributes and children; strings become text, never markup. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// --- the server -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.session) headers["X-CSRF-Token"] = state.session.csrf;
  let response;
  try {
    response = await fetch(path, { method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, error.message);
  }
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`;
    throw new ApiError(response.status, detail);
  }
  return data;
}

// --- numbers as text --------------------------------------------------------------------------

const seconds = (ms) => (ms === null || ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`);
const percent = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(2)} %`);
const count = (value) => (value === null || value === undefined ? "—" : String(value));

function groupName(group) {
  if (group === "overall") return t("rep_overall");
  if (group === "none") return t("rep_none");
  const agency = city.agencies[group];
  return agency ? (agency.name[state.lang] || agency.name.en || group) : group;
}

function groups(report) {
  return [...Object.keys(report.agencies), "overall"];
}

function figuresOf(report, group) {
  return group === "overall" ? report.overall : report.agencies[group];
}

function when(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A table: a caption, a header row, then rows of [row header, ...cells]; a cell is [key, text]. */
function table(caption, headers, rows) {
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows.map(([name, cells]) => h("tr", {},
      h("th", { scope: "row" }, name),
      cells.map(([key, text]) => h("td", { "data-key": key }, text))))));
}

// --- the sections -----------------------------------------------------------------------------

function answerTables(r) {
  const headers = [t("rep_group"), t("rep_answered"), ...BUCKETS.map((b) => `${b} s`), "p50", "p90", "p95", t("rep_average")];
  return [table(t("sec_answer_histogram"), headers, groups(r).map((g) => {
    const f = figuresOf(r, g);
    return [groupName(g), [[`${g}.answered`, count(f.answered)],
      ...BUCKETS.map((b) => [`${g}.answer_histogram.${b}`, count(f.answer_histogram[b])]),
      ...["p50", "p90", "p95"].map((p) => [`${g}.answer_ms.${p}`, seconds(f.answer_ms[p])]),
      [`${g}.average_answer_ms`, seconds(f.average_answer_ms)]]];
  }))];
}

function hourTables(r) {
  const gs = groups(r);
  const rows = [];
  for (let hour = 0; hour < r.hours; hour += 1) {
    if (!r.overall.calls_per_hour[hour]) continue; // the hours with calls; the plot shows them all
    rows.push([when(r.from_ms + hour * HOUR_MS), gs.map((g) => [`${g}.calls_per_hour.${hour}`,
      count(figuresOf(r, g).calls_per_hour[hour])])]);
  }
  return [table(t("sec_calls_per_hour"), [t("rep_hour"), ...gs.map(groupName)], rows)];
}

function abandonTables(r) {
  const headers = [t("rep_group"), t("rep_calls"), t("rep_abandoned"), t("rep_rate"),
    ...STAGES.map((s) => `${t(`rep_stage_${s}`)}`), t("rep_short"), t("rep_rate_without_short")];
  return [table(t("sec_abandons"), headers, groups(r).map((g) => {
    const f = figuresOf(r, g);
    return [groupName(g), [[`${g}.calls`, count(f.calls)], [`${g}.abandoned`, count(f.abandoned)],
      [`${g}.abandon_rate_percent`, percent(f.abandon_rate_percent)],
      ...STAGES.map((s) => [`${g}.abandon_rate_by_stage_percent.${s}`,
        `${count(f.abandoned_by_stage[s])} · ${percent(f.abandon_rate_by_stage_percent[s])}`]),
      [`${g}.short_abandoned`, count(f.short_abandoned)],
      [`${g}.abandon_rate_without_short_percent`, percent(f.abandon_rate_without_short_percent)]]];
  }))];
}

function falseCallTables(r) {
  const headers = [t("rep_group"), t("rep_answered"), t("rep_false_calls"), t("rep_pranks"), t("rep_false_percent"),
    t("rep_prank_percent")];
  return [table(t("sec_false_calls"), headers, groups(r).map((g) => {
    const f = figuresOf(r, g);
    return [groupName(g), [[`${g}.answered`, count(f.answered)], [`${g}.false_calls`, count(f.false_calls)],
      [`${g}.pranks`, count(f.pranks)], [`${g}.false_call_percent`, percent(f.false_call_percent)],
      [`${g}.prank_percent`, percent(f.prank_percent)]]];
  }))];
}

function repeatTables(r) {
  return [
    table(t("sec_repeats"), [t("rep_range"), t("rep_numbers"), t("rep_repeat_calls")],
      [[t("rep_overall"), [["repeats.numbers", count(r.repeats.numbers)], ["repeats.calls", count(r.repeats.calls)]]]]),
    table(t("rep_number"), [t("rep_number"), t("rep_calls")],
      r.repeats.top.map((n) => [n.number, [[`repeats.top.${n.number}`, count(n.calls)]]])),
  ];
}

function timingRow(name, key, timing) {
  return [name, [[`${key}.count`, count(timing.count)], [`${key}.average_ms`, seconds(timing.average_ms)],
    [`${key}.p90_ms`, seconds(timing.p90_ms)]]];
}

function callbackTables(r) {
  const c = r.callbacks;
  return [
    table(t("rep_tasks"), [t("rep_status"), t("rep_count")],
      Object.entries(c.by_status).map(([status, n]) => [status, [[`callbacks.by_status.${status}`, count(n)]]])),
    table(t("rep_outcome"), [t("rep_outcome"), t("rep_count")],
      Object.entries(c.by_last_outcome).map(([o, n]) => [o, [[`callbacks.by_last_outcome.${o}`, count(n)]]])),
    table(t("rep_interval"), [t("rep_interval"), t("rep_count"), t("rep_average"), "p90"], [
      timingRow(t("rep_first_attempt"), "callbacks.abandon_to_first_attempt", c.abandon_to_first_attempt),
      timingRow(t("rep_reached"), "callbacks.abandon_to_reached", c.abandon_to_reached)]),
  ];
}

function transferTables(r) {
  const x = r.transfers;
  return [
    table(t("rep_queue_to_answer"), [t("rep_group"), t("rep_count"), t("rep_average"), "p90"],
      groups(r).map((g) => timingRow(groupName(g), `${g}.queue_to_answer`, figuresOf(r, g).queue_to_answer))),
    table(t("sec_transfers"), [t("rep_interval"), t("rep_count"), t("rep_average"), "p90"], [
      [t("rep_transferred"), [["transfers.transferred", count(x.transferred)], ["", ""], ["", ""]]],
      [t("rep_answered_at_target"), [["transfers.answered_at_target", count(x.answered_at_target)], ["", ""], ["", ""]]],
      timingRow(t("rep_first_to_target"), "transfers.first_answer_to_target_answer", x.first_answer_to_target_answer),
      timingRow(t("rep_requeue_to_target"), "transfers.requeue_to_target_answer", x.requeue_to_target_answer)]),
  ];
}

function euTables(r) {
  const gs = groups(r);
  const levels = r.overall.service_levels;
  return [
    table(t("sec_eu112"), [t("rep_group"), t("rep_eu_average"), t("rep_eu_within_10"), t("rep_eu_slowest"),
      t("rep_eu_abandon"), t("rep_eu_false")], gs.map((g) => {
      const e = figuresOf(r, g).eu112;
      return [groupName(g), [[`${g}.eu112.average_answer_ms`, seconds(e.average_answer_ms)],
        [`${g}.eu112.answered_within_10s_percent`, percent(e.answered_within_10s_percent)],
        [`${g}.eu112.slowest_10_percent_average_ms`, seconds(e.slowest_10_percent_average_ms)],
        [`${g}.eu112.abandon_rate_percent`, percent(e.abandon_rate_percent)],
        [`${g}.eu112.false_call_percent`, percent(e.false_call_percent)]]];
    })),
    table(t("sec_eu112"), [t("rep_group"), ...levels.map((l) => t("rep_service_level", { s: l.within_s, target: l.target_percent }))],
      gs.map((g) => [groupName(g), figuresOf(r, g).service_levels.map((l) => [`${g}.service_levels.${l.within_s}`,
        l.percent === null ? "—" : `${percent(l.percent)} ${l.met ? t("rep_met") : t("rep_not_met")}`])])),
  ];
}

const SECTIONS = [
  { id: "answer_histogram", plot: "answer_histogram", tables: answerTables },
  { id: "calls_per_hour", plot: "calls_per_hour", tables: hourTables },
  { id: "abandons", plot: "abandons", tables: abandonTables },
  { id: "false_calls", plot: "false_calls", tables: falseCallTables },
  { id: "repeats", plot: "repeats", tables: repeatTables },
  { id: "callbacks", plot: "callbacks", tables: callbackTables },
  { id: "transfers", plot: "transfers", tables: transferTables },
  { id: "eu112", plot: "answer_percentiles", tables: euTables },
];

function rangeQuery() {
  return `from_ms=${state.range.from}&to_ms=${state.range.to}`;
}

function draw() {
  const r = state.report;
  $("range-shown").textContent = t("rep_range_shown", { from: when(r.from_ms), to: when(r.to_ms) });
  $("csv-link").href = `/reports/calls.csv?${rangeQuery()}`;
  $("notes").textContent = r.notes.join("; ");
  $("sections").replaceChildren(...SECTIONS.map((s) => {
    const title = t(`sec_${s.id}`);
    return h("section", { class: "kpi", id: `sec-${s.id}`, "aria-labelledby": `title-${s.id}` },
      h("h2", { id: `title-${s.id}` }, title),
      h("p", { class: "definition" }, t(`def_${s.id}`, { short: r.short_abandon_s })),
      h("div", { class: "pair" },
        h("img", { src: `/reports/plots/${s.plot}.png?${rangeQuery()}&lang=${state.lang}`, alt: t("rep_plot_alt", { title }),
          "data-plot": s.plot, width: 900, height: 360 }),
        h("div", { class: "tables" }, s.tables(r))));
  }));
}

// --- the range --------------------------------------------------------------------------------

const pad2 = (n) => String(n).padStart(2, "0");
const dayValue = (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
const localValue = (d) => `${dayValue(d)}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;

function rangeFromForm() {
  if ($("kind-day").checked) {
    const [y, m, d] = $("range-day").value.split("-").map(Number);
    if (!y) return null;
    return { from: new Date(y, m - 1, d).getTime(), to: new Date(y, m - 1, d + 1).getTime() };
  }
  const from = new Date($("range-from").value).getTime();
  const to = new Date($("range-to").value).getTime();
  return Number.isFinite(from) && Number.isFinite(to) ? { from, to } : null;
}

function fillForm(range) {
  const from = new Date(range.from);
  $("range-day").value = dayValue(from);
  $("range-from").value = localValue(from);
  $("range-to").value = localValue(new Date(range.to));
  const oneDay = from.getHours() === 0 && from.getMinutes() === 0
    && range.to === new Date(from.getFullYear(), from.getMonth(), from.getDate() + 1).getTime();
  $(oneDay ? "kind-day" : "kind-range").checked = true;
}

function rangeFromUrl() {
  const params = new URLSearchParams(location.search);
  const from = Number(params.get("from_ms"));
  const to = Number(params.get("to_ms"));
  if (params.has("from_ms") && params.has("to_ms") && Number.isInteger(from) && Number.isInteger(to)) return { from, to };
  const today = new Date();
  return { from: new Date(today.getFullYear(), today.getMonth(), today.getDate()).getTime(),
    to: new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1).getTime() };
}

async function load(range) {
  state.range = range;
  history.replaceState(null, "", `?${rangeQuery()}`);
  $("report-error").hidden = true;
  $("range-shown").textContent = t("rep_loading");
  try {
    state.report = await api("GET", `/reports/kpis?${rangeQuery()}`);
    draw();
  } catch (error) {
    $("range-shown").textContent = "";
    $("report-error").textContent = t("rep_error", { detail: error.message });
    $("report-error").hidden = false;
  }
}

// --- signing in -------------------------------------------------------------------------------

function signedIn(session) {
  state.session = session;
  if (!READERS.includes(session.role)) {
    $("signin").hidden = false;
    $("signin-error").textContent = t("rep_not_for_role", { role: session.role });
    $("signin-error").hidden = false;
    return;
  }
  $("signin").hidden = true;
  $("who").textContent = `${session.user} (${session.role})`;
  $("who").hidden = false;
  $("report").hidden = false;
  const range = rangeFromUrl();
  fillForm(range);
  load(range);
}

async function signIn(event) {
  event.preventDefault();
  $("signin-error").hidden = true;
  try {
    signedIn(await api("POST", "/session", { user: $("signin-user").value, password: $("signin-password").value,
      desk: null }));
  } catch (error) {
    $("signin-error").textContent = t("rep_signin_refused", { detail: error.message });
    $("signin-error").hidden = false;
  }
}

function start() {
  state.lang = languages()[0];
  for (const lang of languages()) {
    $("langs").append(h("button", { type: "button", class: "key-button", "data-lang": lang, lang },
      REPORT_STRINGS[lang].language_name));
  }
  $("langs").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-lang]");
    if (button) setLanguage(button.dataset.lang);
  });
  drawTexts();
  $("signin-form").addEventListener("submit", signIn);
  $("range-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const range = rangeFromForm();
    if (range && range.to > range.from) load(range);
  });
  api("GET", "/session").then(signedIn, () => { $("signin").hidden = false; });
}

start();
