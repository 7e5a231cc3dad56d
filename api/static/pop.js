// The screen pop's detail (slot-number): the IVR path key by key, where the priority came
// from, this number's calls of the day with their dispositions, the nuisance score with its
// explanation, an open callback, and the location fixes (copy, or put into the incident: never
// written there by itself). The first time a call's pop is drawn, the server is told (audit).

import {
  $, h, city, view, emit, agencyName, t, addStrings, addKey, addEventTypes, bus, request, ApiError, clock, timeOfDay, serverNow,
  showMessage,
} from "./kit.js";

addStrings({
  vi: {
    pop_title: "Số gọi đến",
    pop_ivr_path: "Đường đi trong tổng đài",
    pop_ivr_total: "tổng {time}",
    pop_key: "phím {key}",
    pop_no_key: "không bấm phím",
    pop_invalid: "phím không hợp lệ",
    pop_spoke: "nói {time}, không bấm phím",
    pop_at: "lúc {time}",
    pop_priority_reason_no_choice: "không chọn (mặc định)",
    pop_priority_reason_chosen: "theo lựa chọn của người gọi",
    pop_priority_reason_policy: "theo chính sách số điện thoại",
    pop_priority_reason_supervisor: "giám sát viên {who} đặt",
    pop_priority_reason_transfer: "cuộc gọi được chuyển",
    pop_priority_reason_requeued: "bàn trước rời máy khi đang giữ máy",
    pop_priority: "Mức ưu tiên {value} ({reason})",
    pop_history: "Các cuộc gọi trong 24 giờ ({n})",
    pop_history_none: "Không có cuộc gọi nào khác trong 24 giờ.",
    pop_nuisance: "Điểm quấy rối {score}",
    pop_nuisance_likely: "⚠ NGHI QUẤY RỐI",
    pop_nuisance_counts: "{short} ngắn, {silent} im lặng, {false_calls} báo sai, {pranks} trêu đùa",
    pop_callback: "Đang có yêu cầu gọi lại (cuộc {call_id}, {status})",
    pop_location: "Vị trí",
    pop_location_none: "Chưa có vị trí.",
    pop_location_fix: "±{radius} m · {source} · {age} trước",
    pop_copy: "Chép",
    pop_copied: "Đã chép",
    pop_use: "Đưa vào sự vụ",
    pop_key_copy: "Chép vị trí mới nhất",
    pop_key_use: "Đưa vị trí mới nhất vào sự vụ",
    pop_withheld: "Số ẩn hoặc không gọi lại được.",
    pop_transferred: "↪ Được chuyển từ bàn {desk} ({agency})",
  },
  en: {
    pop_title: "Caller number",
    pop_ivr_path: "Path through the menu",
    pop_ivr_total: "{time} in all",
    pop_key: "key {key}",
    pop_no_key: "no key",
    pop_invalid: "invalid key",
    pop_spoke: "spoke {time}, no key",
    pop_at: "at {time}",
    pop_priority_reason_no_choice: "no choice (default)",
    pop_priority_reason_chosen: "the caller's choice",
    pop_priority_reason_policy: "the number's policy",
    pop_priority_reason_supervisor: "set by supervisor {who}",
    pop_priority_reason_transfer: "transferred call",
    pop_priority_reason_requeued: "its desk left it on hold",
    pop_priority: "Priority {value} ({reason})",
    pop_history: "Calls in the last 24 h ({n})",
    pop_history_none: "No other call in the last 24 h.",
    pop_nuisance: "Nuisance score {score}",
    pop_nuisance_likely: "⚠ LIKELY NUISANCE",
    pop_nuisance_counts: "{short} short, {silent} silent, {false_calls} false, {pranks} pranks",
    pop_callback: "Open callback (call {call_id}, {status})",
    pop_location: "Location",
    pop_location_none: "No location yet.",
    pop_location_fix: "±{radius} m · {source} · {age} ago",
    pop_copy: "Copy",
    pop_copied: "Copied",
    pop_use: "Use in incident",
    pop_key_copy: "Copy the newest location",
    pop_key_use: "Put the newest location into the incident",
    pop_withheld: "Withheld or not a callable number.",
    pop_transferred: "↪ Transferred from desk {desk} ({agency})",
  },
});

addEventTypes(["location_added", "incident_saved", "call_reprioritized"]);

const panel = { callId: "", pop: null, seen: new Set(), asked: 0 };

function seconds(ms) {
  return ms === null || ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`;
}

function fixText(fix) {
  return `${fix.lat.toFixed(6)}, ${fix.lon.toFixed(6)} (±${Math.round(fix.radius_m)} m)`;
}

function newestFix() {
  const fixes = panel.pop ? panel.pop.locations : [];
  return fixes.length ? fixes.reduce((a, b) => (b.at_ms > a.at_ms ? b : a)) : null;
}

async function copyFix(fix, button) {
  if (!fix) return;
  const text = fixText(fix);
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard (an old browser, or not allowed): select the text so Ctrl+C copies it.
    const field = h("textarea", { class: "pop-copy-field", readOnly: true, value: text });
    document.body.append(field);
    field.select();
    document.execCommand("copy");
    field.remove();
  }
  if (button) {
    button.textContent = t("pop_copied");
    setTimeout(() => { button.textContent = t("pop_copy"); }, 1500);
  }
}

function useFix(fix) {
  if (fix) emit("use-location", { text: fixText(fix), fix });
}

function ivrPath(pop) {
  const steps = pop.ivr.path;
  const list = h("ol", { class: "pop-path", id: "pop-path" });
  for (const step of steps) {
    // "spoke": TALK_DETECT heard the caller talk this long without a key (telephony/speech.py).
    const what = step.result === "spoke" ? t("pop_spoke", { time: seconds(step.speech_ms) })
      : !step.key ? t("pop_no_key") : step.result === "invalid" ? `${t("pop_key", { key: step.key })} · ${t("pop_invalid")}`
      : t("pop_key", { key: step.key });
    list.append(h("li", { dataset: { result: step.result || "" } }, what, " · ", seconds(step.at_ms),
      step.language ? ` · ${String(step.language).toUpperCase()}` : ""));
  }
  return [h("h4", {}, t("pop_ivr_path"), " ", h("span", { class: "quiet" }, t("pop_ivr_total", { time: seconds(pop.ivr.ms) }))),
    steps.length ? list : h("p", { class: "quiet" }, "—")];
}

function priorityLine(pop) {
  const p = pop.priority;
  if (p.value === null) return null;
  const key = `pop_priority_reason_${p.reason}`;
  const words = t(key, { who: p.set_by || "?" });
  const reason = words === key ? (p.reason || "—") : words;
  return h("p", { id: "pop-priority-reason" }, t("pop_priority", { value: p.value, reason }),
    p.note ? h("span", { class: "quiet" }, ` — ${p.note}`) : null);
}

function dispositionWords(value) {
  if (!value) return "";
  const key = `disposition_${value}`;
  const words = t(key);
  return words === key ? value : words;
}

function history(pop) {
  if (!pop.history.length) return h("p", { class: "quiet", id: "pop-history" }, t("pop_history_none"));
  const rows = pop.history.map((c) => h("tr", {},
    h("td", { class: "timer" }, c.arrived_ms ? timeOfDay(Number(c.arrived_ms)) : "—"),
    h("td", {}, c.queue || "—"),
    h("td", {}, c.outcome || c.state || ""),
    h("td", { class: "pop-disposition" }, dispositionWords(c.disposition) || "—"),
    h("td", { class: "mono quiet" }, c.call_id)));
  return h("details", { id: "pop-history", open: pop.history.length <= 3 },
    h("summary", {}, t("pop_history", { n: pop.history.length })),
    h("table", { class: "pop-table" }, h("tbody", {}, rows)));
}

function nuisance(pop) {
  const number = pop.number;
  if (!number.tracked) return h("p", { class: "quiet" }, t("pop_withheld"));
  const n = number.nuisance;
  return h("div", { id: "pop-nuisance", class: n.likely_nuisance ? "pop-nuisance likely" : "pop-nuisance" },
    h("strong", {}, t("pop_nuisance", { score: Number(n.score).toFixed(1) })),
    n.likely_nuisance ? [" ", h("span", { class: "flag" }, t("pop_nuisance_likely"))] : null,
    h("div", { class: "quiet" }, t("pop_nuisance_counts", {
      short: n.short_calls, silent: n.silent_calls, false_calls: n.false_calls, pranks: n.pranks })),
    h("details", {}, h("summary", {}, "?"), h("p", { class: "quiet" }, n.formula)));
}

function locations(pop) {
  const fixes = [...pop.locations].sort((a, b) => b.at_ms - a.at_ms);
  const box = h("div", { id: "pop-locations" }, h("h4", {}, t("pop_location")));
  if (!fixes.length) {
    box.append(h("p", { class: "quiet" }, t("pop_location_none")));
    return box;
  }
  const now = serverNow();
  for (const fix of fixes) {
    const copy = h("button", { type: "button", class: "key-button small", onclick: (e) => copyFix(fix, e.currentTarget) },
      t("pop_copy"));
    const use = h("button", { type: "button", class: "key-button small", onclick: () => useFix(fix) }, t("pop_use"));
    box.append(h("div", { class: "pop-fix", dataset: { source: fix.source } },
      h("span", { class: "mono pop-fix-text" }, fixText(fix)), " ",
      h("span", { class: "quiet" }, t("pop_location_fix", {
        radius: Math.round(fix.radius_m), source: [fix.source, fix.method].filter(Boolean).join(" "),
        age: clock(now - fix.at_ms) })),
      " ", copy, " ", use));
  }
  return box;
}

function transferredFrom(pop) {
  const desk = pop.call.transferred_from;
  if (!desk) return null;
  return h("p", { class: "notice", id: "pop-transferred" },
    t("pop_transferred", { desk, agency: agencyName(city.desks[desk] || "") }));
}

function render() {
  const slot = $("slot-number");
  const pop = panel.pop;
  if (!pop || pop.call_id !== view.callId) {
    slot.replaceChildren();
    return;
  }
  const callback = pop.open_callback;
  slot.replaceChildren(h("article", { class: "panel pop-detail", "aria-labelledby": "pop-detail-title" },
    h("h3", { id: "pop-detail-title" }, t("pop_title"), " ", h("span", { class: "mono" }, pop.caller || "—")),
    transferredFrom(pop),
    ...ivrPath(pop),
    priorityLine(pop),
    nuisance(pop),
    callback ? h("p", { class: "notice", id: "pop-callback" }, t("pop_callback", {
      call_id: callback.call_id || "?", status: callback.status || "" })) : null,
    history(pop),
    locations(pop)));
}

async function load(callId) {
  const asked = ++panel.asked;
  let pop;
  try {
    pop = await request("GET", `/calls/${encodeURIComponent(callId)}/pop`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    if (view.callId === callId) showMessage(t("refused", { detail: error.detail }));
    return;
  }
  if (asked !== panel.asked || view.callId !== callId) return;
  panel.pop = pop;
  render();
  if (!panel.seen.has(callId)) {
    // Drawn: the audit trail says the pop reached this browser, and when (its clock and the server's).
    panel.seen.add(callId);
    const body = { browser_ms: Date.now(), desk_id: (view.session && view.session.desk) || "" };
    request("POST", `/calls/${encodeURIComponent(callId)}/pop-seen`, body).catch(() => panel.seen.delete(callId));
  }
}

bus.addEventListener("call", (e) => {
  const { callId } = e.detail;
  if (callId !== panel.callId) {
    panel.callId = callId;
    panel.pop = null;
    render();
    if (callId) load(callId);
  }
});

bus.addEventListener("event", (e) => {
  const { type, data } = e.detail;
  if (!panel.callId) return;
  if (type === "location_added" && panel.pop && data.number === panel.pop.caller) load(panel.callId);
  else if (data.call_id === panel.callId && ["incident_saved", "call_reprioritized"].includes(type)) load(panel.callId);
});

bus.addEventListener("language", render);
bus.addEventListener("session", () => {
  panel.callId = "";
  panel.pop = null;
  render();
});

addKey("c", { label: "pop_key_copy", run: () => copyFix(newestFix(), null) });
addKey("u", { label: "pop_key_use", modifiers: "ctrl", run: () => useFix(newestFix()) });
