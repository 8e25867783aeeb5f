"use strict";
// The ofsted-tagger page: send text or a file to /v1/reports, show the tagged report.
const TYPES = ["strength", "weakness", "recommendation", "neutral"];
const COLOURS = {strength: "#3c9a3c", weakness: "#c9423f", recommendation: "#e0a030"};
let current = null;
let lastRequest = null;  // the body and headers of the last /v1/reports request, sent again to /v1/plan
let plan = null;
let themeNames = {};  // theme key -> the name people read, from /v1/themes

const themeName = (key) => themeNames[key] || key;

async function loadThemeNames() {
  try {
    const res = await fetch("/v1/themes");
    if (res.ok) themeNames = await res.json();
  } catch (e) { /* keys are shown instead */ }
}

const $ = (id) => document.getElementById(id);

function setStatus(msg, isError) {
  $("status").textContent = msg;
  $("status").className = isError ? "error" : "";
}

async function send(body, headers) {
  setStatus("Tagging…", false);
  $("tag").disabled = true;
  try {
    const res = await fetch("/v1/reports", {method: "POST", body, headers});
    const data = await res.json();
    if (!res.ok) { setStatus(data.error || ("request failed: " + res.status), true); return; }
    current = data;
    lastRequest = {body, headers};
    plan = null;
    $("plan").innerHTML = "";
    $("plan-about").textContent = "";
    render();
    if ($("tab-plan").getAttribute("aria-selected") === "true") loadPlan();
    setStatus(`${data.sentences.length} sentences tagged.`, false);
    $("report-title").focus();  // keyboard and screen-reader users land on the result
  } catch (e) {
    setStatus("Could not reach the server: " + e, true);
  } finally {
    $("tag").disabled = false;
  }
}

function tagText() {
  const text = $("text").value.trim();
  if (!text) { setStatus("Paste some text or drop a file first.", true); return; }
  send(JSON.stringify({text, report: "pasted text"}), {"Content-Type": "application/json"});
}

function tagFile(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  send(form, {});
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function render() {
  $("result").hidden = false;
  $("report-title").textContent = current.report;
  // filters
  const tf = $("type-filter");
  tf.querySelectorAll("label").forEach((l) => l.remove());
  for (const t of TYPES) {
    const lab = el("label", {});
    const box = el("input", {type: "checkbox", value: t, checked: "checked"});
    box.addEventListener("change", applyFilters);
    lab.append(box, " ", el("span", {class: "s " + t}, t));  // the type is written, not only coloured
    tf.append(lab);
  }
  const themes = Object.keys(current.summary.by_theme || {});
  const sel = $("theme-filter");
  sel.innerHTML = "";
  sel.append(el("option", {value: ""}, "all themes"));
  for (const th of themes) sel.append(el("option", {value: th}, themeName(th)));
  // sentences
  const box = $("sentences");
  box.innerHTML = "";
  let section = null;
  for (const r of current.sentences) {
    if (r.section !== section) {
      section = r.section;
      if (section) box.append(el("h3", {class: "section"}, section));
    }
    const span = el("span", {class: "sentence", "data-type": r.type, "data-themes": r.themes.join(" ")});
    const s = el("span", {class: "s " + r.type,
      title: `${r.type} ${r.confidence.toFixed(2)}` + (r.evidence.length ? ` — evidence: ${r.evidence.join(", ")}` : "")}, r.text);
    if (r.type !== "neutral") s.append(el("span", {class: "t " + r.type}, r.type));
    span.append(s);
    for (const th of r.themes) span.append(el("span", {class: "chip"}, themeName(th)));
    span.append(" ");
    box.append(span);
  }
  renderSummary();
}

function renderSummary() {
  const s = current.summary;
  const table = el("table", {id: "summary-table"});
  table.append(el("caption", {}, "Sentences per theme and type"));
  const head = el("tr", {});
  head.append(el("th", {scope: "col"}, "theme"));
  for (const t of TYPES) head.append(el("th", {scope: "col"}, t));
  table.append(head);
  const all = el("tr", {});
  all.append(el("th", {scope: "row"}, "All sentences"));
  for (const t of TYPES) all.append(el("td", {}, String(s.by_type[t] || 0)));
  table.append(all);
  const chart = $("chart");
  chart.innerHTML = "";
  let top = 1;
  for (const [th, c] of Object.entries(s.by_theme)) top = Math.max(top, c.strength + c.weakness + c.recommendation);
  for (const [th, c] of Object.entries(s.by_theme)) {
    if (!(c.strength || c.weakness || c.recommendation || c.neutral)) continue;
    const tr = el("tr", {});
    tr.append(el("th", {scope: "row"}, themeName(th)));
    for (const t of TYPES) tr.append(el("td", {}, String(c[t] || 0)));
    table.append(tr);
    const bar = el("div", {class: "bar"});
    bar.append(el("span", {class: "name"}, themeName(th)));
    for (const t of ["strength", "weakness", "recommendation"]) {
      if (!c[t]) continue;
      const w = c[t] / top * 420;
      // the count is written on the bar when it fits: colour is not the only cue
      const seg = el("span", {class: "seg " + t, title: `${c[t]} ${t}`}, w >= 16 ? String(c[t]) : "");
      seg.style.width = w + "px";
      seg.style.background = COLOURS[t];
      bar.append(seg);
    }
    chart.append(bar);
  }
  const legend = el("div", {class: "bar"});
  legend.append(el("span", {class: "name"}, ""));
  for (const t of ["strength", "weakness", "recommendation"]) {
    const key = el("span", {class: "seg " + t});
    key.style.width = "12px";
    key.style.background = COLOURS[t];
    legend.append(key, ` ${t}  `);
  }
  chart.append(legend);
  const net = s.net_score === null ? "" : ` Net score (strengths − weaknesses) / (strengths + weaknesses): ${s.net_score.toFixed(2)}.`;
  $("summary").innerHTML = "";
  $("summary").append(el("p", {}, `${s.sentences} sentences.${net}`), table);
}

function applyFilters() {
  const types = new Set([...document.querySelectorAll("#type-filter input:checked")].map((b) => b.value));
  const theme = $("theme-filter").value;
  for (const span of document.querySelectorAll("#sentences .sentence")) {
    const ok = types.has(span.dataset.type) && (!theme || span.dataset.themes.split(" ").includes(theme));
    span.classList.toggle("hidden", !ok);
  }
  // hide a section heading when none of its sentences is shown
  let heading = null, shown = false;
  const close = () => { if (heading) heading.classList.toggle("hidden", !shown); };
  for (const node of document.querySelectorAll("#sentences > *")) {
    if (node.tagName === "H3") { close(); heading = node; shown = false; }
    else if (!node.classList.contains("hidden")) shown = true;
  }
  close();
}

function csvCell(v) {
  const s = String(v === null || v === undefined ? "" : v);
  return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function downloadCsv() {
  if (!current) return;
  const cols = ["report", "index", "section", "text", "type", "confidence", "themes", "evidence"];
  const lines = [cols.join(",")];
  for (const r of current.sentences) {
    lines.push(cols.map((c) => csvCell(Array.isArray(r[c]) ? r[c].join(";") : r[c])).join(","));
  }
  const blob = new Blob([lines.join("\n") + "\n"], {type: "text/csv"});
  const a = el("a", {href: URL.createObjectURL(blob), download: "tagged.csv"});
  document.body.append(a);
  a.click();
  a.remove();
}

// ---- the Action plan view: /v1/plan with the same input ----
const PRIORITIES = ["High", "Medium", "Low"];

function selectTab(which) {
  for (const name of ["sentences", "plan"]) {
    const on = name === which;
    $("tab-" + name).setAttribute("aria-selected", String(on));
    $("tab-" + name).tabIndex = on ? 0 : -1;
    $("view-" + name).hidden = !on;
  }
  if (which === "plan") loadPlan();
}

function setPlanStatus(msg, isError) {
  $("plan-status").textContent = msg;
  $("plan-status").className = isError ? "error" : "";
}

async function loadPlan() {
  if (plan || !lastRequest) return;
  setPlanStatus("Building the action plan…", false);
  try {
    const res = await fetch("/v1/plan", {method: "POST", body: lastRequest.body, headers: lastRequest.headers});
    const data = await res.json();
    if (!res.ok) { setPlanStatus(data.error || ("request failed: " + res.status), true); return; }
    plan = data;
    renderPlan();
    const actions = data.rows.filter((r) => r.kind === "action").length;
    setPlanStatus(`${actions} actions, ${data.rows.length - actions} also-found themes.`, false);
  } catch (e) {
    setPlanStatus("Could not reach the server: " + e, true);
  }
}

function quoteList(quotes) {
  if (!quotes.length) return el("p", {}, "None found.");
  const ul = el("ul", {class: "quotes"});
  for (const q of quotes) {
    const li = el("li", {});
    li.append(el("q", {}, q.text));
    const where = (q.page ? `page ${q.page}, ` : "") + `confidence ${q.confidence.toFixed(2)}`;
    li.append(" ", el("span", {class: "meta"}, `(${where})`));
    if (q.review) li.append(" ", el("span", {class: "check"}, "CHECK"));
    ul.append(li);
  }
  return ul;
}

function planTable(caption, headers, rows, cells) {
  const table = el("table", {class: "plan-table"});
  table.append(el("caption", {}, caption));
  const head = el("tr", {});
  for (const h of headers) head.append(el("th", {scope: "col"}, h));
  const thead = el("thead", {});
  thead.append(head);
  table.append(thead);
  const body = el("tbody", {});
  for (const r of rows) {
    const tr = el("tr", {});
    tr.append(el("th", {scope: "row"}, String(r.number)));
    for (const c of cells(r)) { const td = el("td", {}); td.append(c); tr.append(td); }
    body.append(tr);
  }
  table.append(body);
  return table;
}

function themesText(r) { return r.theme_names.length ? r.theme_names.join(", ") : "General"; }

function renderPlan() {
  const box = $("plan");
  box.innerHTML = "";
  const grades = plan.judgements;
  $("plan-about").textContent = (plan.title || plan.report) + (plan.date ? ` — inspection ${plan.date}` : "")
    + (grades.length ? `. Judgements: ${grades.join("; ")}.` : ".")
    + " Owner, due date and RAG status columns are in the download.";
  const actions = plan.rows.filter((r) => r.kind === "action");
  for (const p of PRIORITIES) {
    const rows = actions.filter((r) => r.priority === p);
    if (!rows.length) continue;
    box.append(el("h3", {}, `${p} priority`));
    box.append(planTable(`${p} priority actions (${rows.length})`,
      ["No.", "Theme", "Recommendation", "Evidence from the report (weaknesses)", "Strengths to build on"], rows, (r) => {
        const rec = el("div", {});
        rec.append(el("span", {}, r.recommendation));
        if (r.review) rec.append(" ", el("span", {class: "check"}, "CHECK"));
        rec.append(el("p", {class: "meta"}, `${r.priority} priority: ${r.priority_reason}.`));
        return [themesText(r), rec, quoteList(r.evidence), quoteList(r.build_on)];
      }));
  }
  const also = plan.rows.filter((r) => r.kind !== "action");
  if (also.length) {
    box.append(el("h3", {}, "Also found: weaknesses with no recommendation"));
    box.append(planTable(`Weaknesses no recommendation addresses (${also.length} themes)`,
      ["No.", "Theme", "Priority", "Weaknesses"], also, (r) => {
        const pr = el("div", {});
        pr.append(el("span", {}, r.priority), el("p", {class: "meta"}, r.priority_reason));
        return [themesText(r), pr, quoteList(r.evidence)];
      }));
  }
  if (!plan.rows.length) box.append(el("p", {}, "The report has no recommendations or weaknesses to plan for."));
}

async function downloadPlan() {
  if (!lastRequest) return;
  const fmt = $("plan-format").value;
  setPlanStatus("Preparing the download…", false);
  try {
    const res = await fetch("/v1/plan?format=" + fmt, {method: "POST", body: lastRequest.body, headers: lastRequest.headers});
    if (!res.ok) { const data = await res.json(); setPlanStatus(data.error || ("request failed: " + res.status), true); return; }
    const blob = await res.blob();
    const m = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
    const a = el("a", {href: URL.createObjectURL(blob), download: m ? m[1] : "action-plan." + fmt});
    document.body.append(a);
    a.click();
    a.remove();
    setPlanStatus("Downloaded.", false);
  } catch (e) {
    setPlanStatus("Could not reach the server: " + e, true);
  }
}

$("tab-sentences").addEventListener("click", () => selectTab("sentences"));
$("tab-plan").addEventListener("click", () => selectTab("plan"));
$("tabs").addEventListener("keydown", (e) => {  // arrow keys move between the tabs
  if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
  const next = $("tab-sentences").getAttribute("aria-selected") === "true" ? "plan" : "sentences";
  selectTab(next);
  $("tab-" + next).focus();
});
$("plan-download").addEventListener("click", downloadPlan);
loadThemeNames();
$("tag").addEventListener("click", tagText);
// Ctrl+Enter (or Cmd+Enter) in the text box tags it, as the button does
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); tagText(); } });
$("file").addEventListener("change", (e) => { if (e.target.files[0]) tagFile(e.target.files[0]); });
$("theme-filter").addEventListener("change", applyFilters);
$("download").addEventListener("click", downloadCsv);
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) tagFile(e.dataTransfer.files[0]);
});
