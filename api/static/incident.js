// The incident of the call on this desk (slot-incident): nature, location, priority, agencies
// needed, disposition (a duplicate picks the call it repeats), and timestamped notes. It is
// saved as the call-taker types: each change goes to the server a moment later from the
// version it started from, and is kept in this browser until the server has it, so closing the
// page loses nothing. A change made meanwhile elsewhere is merged and said. Dispatching pushes
// the incident to the agencies' CAD; the push's state is shown and a failed one can be resent.

import {
  $, h, city, view, t, addStrings, addKey, addEventTypes, bus, request, ApiError, timeOfDay, showMessage,
} from "./kit.js";

addStrings({
  vi: {
    incident_title: "Sự vụ",
    incident_nature: "Loại sự vụ",
    incident_nature_pick: "— chọn —",
    incident_nature_other: "Khác (ghi rõ)",
    incident_nature_text: "Mô tả loại sự vụ",
    incident_location: "Địa chỉ / vị trí",
    incident_priority: "Mức ưu tiên",
    incident_priority_value: "{n} ({words})",
    incident_priority_0: "khẩn cấp nhất",
    incident_priority_4: "thấp nhất",
    incident_agencies: "Lực lượng cần",
    incident_disposition: "Kết quả xử lý",
    incident_disposition_none: "— chưa —",
    incident_duplicate_of: "Trùng với cuộc gọi",
    incident_duplicate_search: "Tìm theo số",
    incident_duplicate_found: "{n} cuộc gọi",
    incident_notes: "Ghi chú",
    incident_note_add: "Thêm ghi chú",
    incident_note_placeholder: "Gõ ghi chú, Enter để lưu",
    incident_saving: "Đang lưu…",
    incident_saved: "Đã lưu (phiên bản {version}) lúc {time}",
    incident_unsaved: "Chưa lưu: {detail}. Bản nháp được giữ trong trình duyệt.",
    incident_draft_restored: "Đã khôi phục bản nháp chưa lưu.",
    incident_conflict: "Có người khác vừa sửa: {detail}. Thay đổi của bạn được giữ và lưu lại.",
    incident_key_save: "Lưu sự vụ ngay",
    incident_key_dispatch: "Điều lực lượng (kết quả: đã điều)",
    incident_key_note: "Đến ô ghi chú",
    incident_cad: "Gửi sang CAD",
    incident_cad_none: "Không lực lượng nào nhận qua CAD: hãy báo bằng điện thoại.",
    incident_cad_status_pending: "đang gửi",
    incident_cad_status_sent: "đã gửi",
    incident_cad_status_failed: "LỖI",
    incident_cad_resend: "Gửi lại",
    incident_location_used: "Đã đưa vị trí vào sự vụ.",
  },
  en: {
    incident_title: "Incident",
    incident_nature: "Nature",
    incident_nature_pick: "— pick —",
    incident_nature_other: "Other (say what)",
    incident_nature_text: "Nature in words",
    incident_location: "Address / location",
    incident_priority: "Priority",
    incident_priority_value: "{n} ({words})",
    incident_priority_0: "highest",
    incident_priority_4: "lowest",
    incident_agencies: "Agencies needed",
    incident_disposition: "Disposition",
    incident_disposition_none: "— not yet —",
    incident_duplicate_of: "Duplicate of call",
    incident_duplicate_search: "Search by number",
    incident_duplicate_found: "{n} calls",
    incident_notes: "Notes",
    incident_note_add: "Add note",
    incident_note_placeholder: "Type a note, Enter to keep it",
    incident_saving: "Saving…",
    incident_saved: "Saved (version {version}) at {time}",
    incident_unsaved: "Not saved: {detail}. The draft is kept in this browser.",
    incident_draft_restored: "An unsaved draft was restored.",
    incident_conflict: "Someone else changed it meanwhile: {detail}. Your changes are kept and saved again.",
    incident_key_save: "Save the incident now",
    incident_key_dispatch: "Dispatch (disposition: dispatched)",
    incident_key_note: "Go to the note field",
    incident_cad: "Sent to CAD",
    incident_cad_none: "No agency takes CAD pushes: tell them by phone.",
    incident_cad_status_pending: "sending",
    incident_cad_status_sent: "sent",
    incident_cad_status_failed: "FAILED",
    incident_cad_resend: "Resend",
    incident_location_used: "The location was put into the incident.",
  },
});

addEventTypes(["incident_saved", "incident_note", "cad_push"]);

const SAVE_DELAY_MS = 700;
const TEXT_FIELDS = ["nature", "nature_text", "location_text", "disposition", "duplicate_of"];
const DRAFT_PREFIX = "hotline.console.incident.";

const panel = {
  callId: "",
  incident: null,     // the server's incident
  dirty: {},          // field → value changed here and not yet saved
  note: "",           // a note typed and not yet kept
  saving: false,
  timer: 0,
  status: "",         // the status line's text
  statusKind: "",     // "", "error"
  cad: null,          // GET /calls/{id}/cad-push, or the save's cad_push
  found: [],          // the duplicate search's calls
};

// --- the draft in this browser ----------------------------------------------------------

function draftKey(callId) {
  return DRAFT_PREFIX + callId;
}

function keepDraft() {
  if (!panel.callId) return;
  if (Object.keys(panel.dirty).length || panel.note) {
    localStorage.setItem(draftKey(panel.callId), JSON.stringify({ dirty: panel.dirty, note: panel.note }));
  } else {
    localStorage.removeItem(draftKey(panel.callId));
  }
}

function readDraft(callId) {
  try {
    const draft = JSON.parse(localStorage.getItem(draftKey(callId)) || "null");
    return draft && typeof draft === "object" ? draft : null;
  } catch {
    return null;
  }
}

// --- values -----------------------------------------------------------------------------

/** What the form shows: the server's value unless changed here. */
function value(field) {
  if (field in panel.dirty) return panel.dirty[field];
  const incident = panel.incident || {};
  if (field === "priority") return incident.priority === "" || incident.priority === undefined ? "" : String(incident.priority);
  if (field === "agencies") return incident.agencies || [];
  return incident[field] ?? "";
}

function agency() {
  return (panel.incident && panel.incident.agency) || (view.call && view.call.queue) || "";
}

function change(field, newValue) {
  const incident = panel.incident || {};
  const serverValue = field === "agencies" ? (incident.agencies || []) : String(incident[field] ?? "");
  const same = field === "agencies" ? JSON.stringify([...newValue].sort()) === JSON.stringify([...serverValue].sort())
    : String(newValue) === serverValue;
  if (same) delete panel.dirty[field];
  else panel.dirty[field] = newValue;
  keepDraft();
  scheduleSave();
}

function scheduleSave() {
  clearTimeout(panel.timer);
  panel.timer = setTimeout(save, SAVE_DELAY_MS);
}

function body() {
  const out = { expected_version: panel.incident ? panel.incident.version : 0 };
  for (const [field, v] of Object.entries(panel.dirty)) {
    out[field] = field === "priority" ? (v === "" ? null : Number(v)) : v;
  }
  return out;
}

// --- saving -----------------------------------------------------------------------------

async function save() {
  clearTimeout(panel.timer);
  const callId = panel.callId;
  if (!callId || !panel.incident) return;
  if (panel.saving) {
    scheduleSave();
    return;
  }
  const fields = Object.keys(panel.dirty);
  const note = panel.note.trim();
  if (!fields.length && !note) return;
  panel.saving = true;
  setStatus(t("incident_saving"));
  try {
    if (fields.length) {
      const sent = { ...panel.dirty };
      const reply = await request("PUT", `/calls/${encodeURIComponent(callId)}/incident`, body());
      if (panel.callId !== callId) return;
      for (const [field, v] of Object.entries(sent)) {
        if (JSON.stringify(panel.dirty[field]) === JSON.stringify(v)) delete panel.dirty[field];  // not typed on since
      }
      panel.incident = reply;
      if ("cad_push" in reply) panel.cad = reply.cad_push || { pushes: [], none: true };
    }
    if (note) {
      await request("POST", `/calls/${encodeURIComponent(callId)}/incident/notes`, { text: note });
      if (panel.callId !== callId) return;
      if (panel.note.trim() === note) panel.note = "";
      await reload(callId);
    }
    keepDraft();
    setStatus(t("incident_saved", { version: panel.incident.version, time: timeOfDay(Date.now()) }));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    if (error instanceof ApiError && error.status === 409 && panel.callId === callId) {
      // Changed elsewhere meanwhile: take the server's version, keep ours on top, save again.
      await reload(callId);
      setStatus(t("incident_conflict", { detail: error.detail }), "error");
      scheduleSave();
    } else {
      setStatus(t("incident_unsaved", { detail: error.detail }), "error");
    }
  } finally {
    panel.saving = false;
    render();
  }
}

async function reload(callId) {
  const incident = await request("GET", `/calls/${encodeURIComponent(callId)}/incident`);
  if (panel.callId === callId) panel.incident = incident;
}

async function loadCad(callId) {
  try {
    const cad = await request("GET", `/calls/${encodeURIComponent(callId)}/cad-push`);
    if (panel.callId === callId) {
      panel.cad = cad.pushes.length ? cad : panel.cad;
      render();
    }
  } catch {
    // the status line says nothing new; the incident itself is unaffected
  }
}

async function resendCad() {
  const callId = panel.callId;
  try {
    panel.cad = await request("POST", `/calls/${encodeURIComponent(callId)}/cad-push`);
  } catch (error) {
    showMessage(t("refused", { detail: error.detail }));
  }
  render();
}

async function open(callId) {
  panel.callId = callId;
  panel.incident = null;
  panel.cad = null;
  panel.found = [];
  const draft = readDraft(callId);
  panel.dirty = draft && draft.dirty ? draft.dirty : {};
  panel.note = draft && draft.note ? draft.note : "";
  panel.status = draft ? t("incident_draft_restored") : "";
  render();
  if (!callId) return;
  try {
    await reload(callId);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) setStatus(t("incident_unsaved", { detail: error.detail }), "error");
    return;
  }
  render();
  loadCad(callId);
  if (draft) scheduleSave();  // what the browser kept goes to the server now
}

function setStatus(text, kind = "") {
  panel.status = text;
  panel.statusKind = kind;
  const line = $("incident-status");
  if (line) {
    line.textContent = text;
    line.dataset.kind = kind;
  }
}

// --- the duplicate search ---------------------------------------------------------------

async function searchDuplicates(number) {
  const callId = panel.callId;
  const query = number ? `?number=${encodeURIComponent(number)}` : "";
  try {
    const found = await request("GET", `/calls/search${query}`);
    if (panel.callId !== callId) return;
    panel.found = found.filter((c) => c.call_id !== callId);
  } catch (error) {
    setStatus(t("refused", { detail: error.detail }), "error");
    return;
  }
  render();
  const list = $("incident-duplicate-of");
  if (list) list.focus();
}

// --- drawing ----------------------------------------------------------------------------

function field(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

function natureField() {
  const natures = (city.agencies[agency()] || { natures: [] }).natures || [];
  const current = value("nature");
  const select = h("select", { id: "incident-nature", onchange: (e) => { change("nature", e.target.value); render(); } },
    h("option", { value: "" }, t("incident_nature_pick")),
    natures.map((n) => h("option", { value: n.id, selected: n.id === current }, n.name[view.language] || n.name[city.languages[0]] || n.id)),
    h("option", { value: city.other_nature, selected: current === city.other_nature }, t("incident_nature_other")));
  const parts = [field("incident-nature", t("incident_nature"), select)];
  if (current === city.other_nature) {
    parts.push(field("incident-nature-text", t("incident_nature_text"), h("input", {
      id: "incident-nature-text", value: value("nature_text"), maxLength: city.limits.nature_text,
      oninput: (e) => change("nature_text", e.target.value) })));
  }
  return parts;
}

function priorityField() {
  const current = value("priority");
  const options = [h("option", { value: "", selected: current === "" }, "—")];
  for (let n = 0; n <= city.lowest_priority; n += 1) {
    const wordsKey = `incident_priority_${n}`;
    const words = t(wordsKey) === wordsKey ? "" : t(wordsKey);
    options.push(h("option", { value: String(n), selected: current === String(n) },
      words ? t("incident_priority_value", { n, words }) : String(n)));
  }
  return field("incident-priority", t("incident_priority"),
    h("select", { id: "incident-priority", onchange: (e) => change("priority", e.target.value) }, options));
}

function agenciesField() {
  const chosen = new Set(value("agencies"));
  const boxes = Object.keys(city.agencies).map((id) => h("label", { class: "check" },
    h("input", { type: "checkbox", value: id, checked: chosen.has(id), dataset: { agency: id }, onchange: (e) => {
      const now = new Set(value("agencies"));
      if (e.target.checked) now.add(id); else now.delete(id);
      change("agencies", Object.keys(city.agencies).filter((a) => now.has(a)));
    } }), " ", city.agencies[id].name[view.language] || id));
  return h("fieldset", { class: "field agencies" }, h("legend", {}, t("incident_agencies")), boxes);
}

function dispositionField() {
  const current = value("disposition");
  const select = h("select", { id: "incident-disposition", onchange: (e) => { change("disposition", e.target.value); render(); } },
    h("option", { value: "" }, t("incident_disposition_none")),
    city.dispositions.map((d) => h("option", { value: d, selected: d === current }, t(`disposition_${d}`))));
  const parts = [field("incident-disposition", t("incident_disposition"), select)];
  if (current === "duplicate") {
    const search = h("input", { id: "incident-duplicate-number", type: "search", inputMode: "tel",
      placeholder: t("incident_duplicate_search"), value: (view.call && view.call.caller) || "",
      onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); searchDuplicates(e.target.value.trim()); } } });
    const chosen = value("duplicate_of");
    const calls = panel.found.length ? panel.found : (chosen ? [{ call_id: chosen, caller: "", arrived_ms: "" }] : []);
    const pick = h("select", { id: "incident-duplicate-of", onchange: (e) => change("duplicate_of", e.target.value) },
      h("option", { value: "" }, panel.found.length ? t("incident_duplicate_found", { n: panel.found.length }) : "—"),
      calls.map((c) => h("option", { value: c.call_id, selected: c.call_id === chosen },
        [c.arrived_ms ? timeOfDay(Number(c.arrived_ms)) : "", c.caller, c.queue, c.call_id].filter(Boolean).join(" · "))));
    parts.push(h("div", { class: "field duplicate" }, h("label", { for: "incident-duplicate-of" }, t("incident_duplicate_of")),
      search, h("button", { type: "button", class: "key-button small", onclick: () => searchDuplicates(search.value.trim()) }, "⌕"),
      pick));
  }
  return parts;
}

function notesField() {
  const notes = (panel.incident && panel.incident.notes) || [];
  const list = h("ol", { class: "notes", id: "incident-notes" }, notes.map((n) => h("li", {},
    h("span", { class: "timer quiet" }, timeOfDay(Number(n.at_ms))), " ", h("span", { class: "quiet" }, n.by), " ",
    h("span", { class: "note-text" }, n.text))));
  const input = h("textarea", { id: "incident-note", rows: 2, maxLength: city.limits.note, value: panel.note,
    placeholder: t("incident_note_placeholder"),
    oninput: (e) => { panel.note = e.target.value; keepDraft(); },
    onkeydown: (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); save(); } } });
  return h("div", { class: "field notes-field" }, h("label", { for: "incident-note" }, t("incident_notes")), list, input);
}

function cadLine() {
  const cad = panel.cad;
  if (!cad) return null;
  if (cad.none) return h("p", { class: "notice", id: "incident-cad" }, t("incident_cad_none"));
  if (!cad.pushes || !cad.pushes.length) return null;
  const failed = cad.pushes.some((p) => p.status === "failed");
  return h("p", { id: "incident-cad", class: failed ? "error cad" : "cad" }, t("incident_cad"), ": ",
    cad.pushes.map((p, i) => [i ? " · " : "", h("span", { class: "cad-push", dataset: { status: p.status } },
      `${p.status === "sent" ? "✔" : p.status === "failed" ? "✖" : "…"} ${p.agency} ${t(`incident_cad_status_${p.status}`)}`,
      p.last_error ? h("span", { class: "quiet" }, ` (${p.last_error})`) : null)]),
    failed ? [" ", h("button", { type: "button", class: "key-button small", id: "incident-cad-resend", onclick: resendCad },
      t("incident_cad_resend"))] : null);
}

function render() {
  const slot = $("slot-incident");
  if (!panel.callId || !panel.incident) {
    slot.replaceChildren();
    return;
  }
  // Drawing again must not take the caret out of the field being typed in.
  const focused = document.activeElement && slot.contains(document.activeElement) ? document.activeElement.id : "";
  const caret = focused && "selectionStart" in document.activeElement ? document.activeElement.selectionStart : null;
  slot.replaceChildren(h("form", { class: "panel incident", id: "incident-form", "aria-labelledby": "incident-title",
    onsubmit: (e) => { e.preventDefault(); save(); } },
  h("h3", { id: "incident-title" }, t("incident_title"), " ",
    h("span", { class: "quiet mono" }, `v${panel.incident.version}`)),
  ...natureField(),
  field("incident-location", t("incident_location"), h("input", { id: "incident-location", value: value("location_text"),
    maxLength: city.limits.location_text, oninput: (e) => change("location_text", e.target.value) })),
  priorityField(),
  agenciesField(),
  ...dispositionField(),
  notesField(),
  h("p", { id: "incident-status", class: "incident-status", role: "status", dataset: { kind: panel.statusKind } }, panel.status),
  cadLine()));
  if (focused) {
    const again = $(focused);
    if (again) {
      again.focus();
      if (caret !== null && "setSelectionRange" in again) {
        try { again.setSelectionRange(caret, caret); } catch { /* a select has no caret */ }
      }
    }
  }
}

// --- the page's news --------------------------------------------------------------------

bus.addEventListener("call", (e) => {
  const { callId } = e.detail;
  if (callId !== panel.callId) {
    if (panel.callId && (Object.keys(panel.dirty).length || panel.note)) save();  // the last keystrokes of the old one
    open(callId);
  }
});

bus.addEventListener("event", async (e) => {
  const { type, data } = e.detail;
  if (!panel.callId || data.call_id !== panel.callId) return;
  if (type === "cad_push") {
    loadCad(panel.callId);
  } else if ((type === "incident_saved" || type === "incident_note") && !panel.saving) {
    const before = panel.incident ? panel.incident.version : 0;
    await reload(panel.callId).catch(() => null);
    if (panel.incident && (panel.incident.version !== before || type === "incident_note")) render();
  }
});

bus.addEventListener("use-location", (e) => {
  if (!panel.callId || !panel.incident) return;
  const typed = String(value("location_text") || "").trim();
  change("location_text", typed ? `${typed} — ${e.detail.text}` : e.detail.text);
  setStatus(t("incident_location_used"));
  render();
});

bus.addEventListener("language", render);
bus.addEventListener("session", (e) => { if (!e.detail) open(""); });
window.addEventListener("pagehide", keepDraft);

addKey("s", { label: "incident_key_save", modifiers: "ctrl", run: save });
addKey("d", {
  label: "incident_key_dispatch", modifiers: "ctrl",
  run: () => {
    if (!panel.incident) return;
    change("disposition", "dispatched");
    render();
    save();
  },
});
addKey("i", { label: "incident_key_note", run: () => { const note = $("incident-note"); if (note) note.focus(); } });
