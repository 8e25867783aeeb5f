"use strict";
// The ofsted-tagger page: send text or a file to /v1/reports, show the tagged report.
const TYPES = ["strength", "weakness", "recommendation", "neutral"];
const COLOURS = {strength: "#3c9a3c", weakness: "#c9423f", recommendation: "#e0a030"};
let current = null;
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
    render();
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
