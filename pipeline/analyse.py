"""Analyse: the whole archive tagged — national picture, councils over time, check against Ofsted's grades.

- :func:`tag_archive` tags report files (locally or on Spark) or reads predict's
  JSONL; :func:`report_metadata_from_text` reads council, inspection date and
  judgement grades from a report itself (:func:`pipeline.data.read_metadata` takes
  them from a CSV like ``shared/corpus/reports.csv``); :func:`analyse_archive` is
  the ``analyse`` command and :func:`compare_paths` the ``compare`` command.
- :func:`report_table` turns tagged sentences into one row per report (counts and
  shares per type and per theme, net score = (strengths - weaknesses) /
  (strengths + weaknesses), :func:`pipeline.summary.net_score`).
- :func:`grade_correlations` is the external check: Spearman's rho between net
  scores and Ofsted's grades, overall and per judgement section.
- :func:`write_outputs` writes sentences.parquet, reports.csv, summary.xlsx,
  index.html (self-contained dashboard) and PNG charts; :func:`compare_reports`
  says what changed between two inspections of a council.
- :func:`join_lookup` matches councils with ``la_lookup.csv`` (:mod:`pipeline.neighbours`:
  codes, region, LA type, statistical neighbours); the dashboard and workbook also carry
  recurring weaknesses (:mod:`pipeline.track`) and each council against its neighbours and
  region. :func:`track_archive` is the ``track`` command.

Outputs are safe whatever the reports and metadata hold: every value in a page goes
through :func:`pipeline.report.esc`, spreadsheet cells through report.py's cell rules;
the output directory is written as a whole (:func:`pipeline.errors.atomic_directory`);
page names are unique (:func:`page_names`).  The metadata CSV and the output directory are
checked before any tagging; predict's JSONL is validated line by line (:func:`read_tagged_jsonl`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from scipy.stats import spearmanr

from pipeline.config import Params
from pipeline.data import ReportMeta, council_of, read_metadata, read_split, split_path
from pipeline.errors import UserError, atomic_directory, atomic_write, check_output_dir, check_output_file
from pipeline.inputs import ReportIds, iter_documents, pdf_sources
from pipeline.model import TaggerModel
from pipeline.neighbours import (
    LA,
    CouncilBench,
    benchmark,
    benchmark_rows,
    council_rows,
    join_rows,
    match_councils,
    neighbours_section,
    normalise_council,
    read_lookup,
)
from pipeline.predict import load_model, tag_document
from pipeline.report import esc, pdf_href, render_html, write_records, write_tables_xlsx
from pipeline.schema import (
    GRADE_SCORE,
    JUDGEMENTS,
    THEME_NAMES,
    THEMES,
    TYPES,
    fill_defaults,
    flat_record,
    judgement_of_section,
    normalise_grade,
)
from pipeline.spark import tag_with_spark
from pipeline.summary import count_types, group_by_report, net_score, summarise
from pipeline.track import (
    TRACK_CSS,
    Tracking,
    concern_rows,
    report_kind,
    rollup_rows,
    track_councils,
    track_section,
    write_track,
)

_MONTHS = {m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                        "september", "october", "november", "december"], start=1)}


_COUNCIL_NOISE = re.compile(
    r"(?i)\b(?:the|london borough of|royal borough of|metropolitan borough council|metropolitan borough of|"
    r"borough council|city council|county council|city of|council|metropolitan district)\b"
)


def council_from_title(title: str, report_id: str) -> str:
    m = re.search(r"Inspection of (?:the )?(.+?) local authority", title) or re.match(r"^(.+?) Inspection of", title)
    name = m.group(1) if m else ""
    name = " ".join(_COUNCIL_NOISE.sub(" ", name).replace("&", "and").split()).lower()
    if not name:
        m2 = re.match(r"^(.*)_\d{4}-\d{2}-\d{2}$", report_id)
        name = (m2.group(1) if m2 else report_id).replace("_", " ")
    return name


def _parse_date(text: str) -> str:
    """Last 'D Month YYYY' in an 'Inspection dates' line, as ISO."""
    found = re.findall(r"(\d{1,2})\s+([A-Z][a-z]+)\s+(\d{4})", text)
    for d, mon, y in reversed(found):
        if mon.lower() in _MONTHS:
            try:
                return dt.date(int(y), _MONTHS[mon.lower()], int(d)).isoformat()
            except ValueError:
                continue
    return ""


def report_metadata_from_text(report: str, title: str, records: Sequence[dict[str, Any]]) -> ReportMeta:
    """Council, date and grades from the report's own first page and headings."""
    meta = ReportMeta(report, council_from_title(title, report), kind=report_kind(title, records))
    for r in records[:40]:
        if re.match(r"(?i)inspection dates?:", r["text"]):
            meta.date = _parse_date(r["text"])
            break
    if not meta.date:
        m = re.search(r"(\d{4}-\d{2}-\d{2})$", report)
        meta.date = m.group(1) if m else ""
    grades: dict[str, str | None] = {}
    prev_key = None
    for r in records:
        text = r["text"].strip()
        if r.get("kind") == "heading":
            key = judgement_of_section(text)
            g = normalise_grade(r.get("grade")) if key else None
            if key and g and key not in grades:
                grades[key] = g
            elif prev_key and normalise_grade(text) and prev_key not in grades:  # judgement table: name, then grade
                grades[prev_key] = normalise_grade(text)
            prev_key = key if key and not g else None
    m = re.search(r"(?i)overall judgement is (requires improvement|good|outstanding|inadequate)",
                  " ".join(r["text"] for r in records[:30]))
    if m and "overall_effectiveness" not in grades:
        grades["overall_effectiveness"] = normalise_grade(m.group(1))
    meta.grades = {k: grades.get(k) for k in JUDGEMENTS}
    return meta


# --------------------------------------------------------------------------- #
# Tables
# --------------------------------------------------------------------------- #
def report_table(records: Sequence[dict[str, Any]], metas: dict[str, ReportMeta]) -> list[dict[str, Any]]:
    """One row per report: metadata, counts and shares per type, per theme x type counts, net scores."""
    rows = []
    for rep, recs in group_by_report(records).items():
        m = metas.get(rep) or ReportMeta(rep)
        n = len(recs)
        row: dict[str, Any] = {"report": rep, "council": m.council, "date": m.date, "kind": m.kind,
                               **{f"grade_{k}": m.grades.get(k) for k in JUDGEMENTS}, "sentences": n}
        counts, per_theme = count_types(recs)
        for t in TYPES:
            row[f"n_{t}"] = counts[t]
            row[f"share_{t}"] = round(counts[t] / n, 4) if n else 0.0
        row["net_score"] = net_score(counts["strength"], counts["weakness"])
        for th in THEMES:
            c = per_theme[th]
            for t in ("strength", "weakness", "recommendation"):
                row[f"{th}__{t}"] = c[t]
            row[f"{th}__net"] = net_score(c["strength"], c["weakness"])
        for key in JUDGEMENTS[1:]:
            sec = [r for r in recs if judgement_of_section(r.get("section", "")) == key]
            row[f"net_{key}"] = net_score(sum(r["type"] == "strength" for r in sec), sum(r["type"] == "weakness" for r in sec))
        rows.append(row)
    return sorted(rows, key=lambda r: (r["council"], r["date"], r["report"]))


def national_table(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Themes x type counts over every sentence, with net score and weakness share."""
    out = []
    _, per_theme = count_types(records)
    for th in THEMES:
        c = per_theme[th]
        total = sum(c[t] for t in ("strength", "weakness", "recommendation"))
        out.append({"theme": th, "theme_name": THEME_NAMES[th], **c, "net_score": net_score(c["strength"], c["weakness"]),
                    "weakness_share": round(c["weakness"] / total, 4) if total else None})
    return out


@dataclass(frozen=True)
class Correlation:
    judgement: str
    scope: str
    n: int
    rho: float | None


def grade_correlations(rows: Sequence[dict[str, Any]], held_out: set[str] | None = None) -> list[Correlation]:
    """Spearman's rho of net score against each judgement's grade, over all reports and over the
    reports in ``held_out`` (ids of reports whose council is outside the model's training split)."""
    out = []
    scopes = [("all reports", None)] + ([("councils outside training", held_out)] if held_out is not None else [])
    for scope, keep in scopes:
        for key in JUDGEMENTS:
            col = "net_score" if key == "overall_effectiveness" else f"net_{key}"
            pairs = [(r[col], GRADE_SCORE[r[f"grade_{key}"]]) for r in rows
                     if r.get(f"grade_{key}") in GRADE_SCORE and r.get(col) is not None
                     and (keep is None or r["report"] in keep)]
            rho = None
            if len(pairs) >= 5 and len({p[1] for p in pairs}) > 1:
                rho = float(spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic)
            out.append(Correlation(key, scope, len(pairs), rho))
    return out


def correlation_text(corrs: Sequence[Correlation]) -> str:
    lines = ["Spearman's rho, net score vs Ofsted's grade (inadequate=1 ... outstanding=4):"]
    for c in corrs:
        rho = "n/a" if c.rho is None else f"{c.rho:+.3f}"
        lines.append(f"  {c.scope:28s} {c.judgement:22s} n={c.n:4d}  rho={rho}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Comparing two reports
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ThemeChange:
    theme: str
    before: dict[str, int]
    after: dict[str, int]
    status: str  # new weakness | resolved weakness | new strength | lost strength | unchanged
    examples: tuple[str, ...] = ()


def compare_reports(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> list[ThemeChange]:
    """Theme by theme, what changed from report A (earlier) to report B (later)."""
    _, per_a = count_types(a)
    _, per_b = count_types(b)
    out = []
    for th in THEMES:
        ca, cb = per_a[th], per_b[th]
        # (status, which report holds the examples, of which type) for the first change that applies
        rules = (
            (ca["weakness"] == 0 < cb["weakness"], "new weakness", b, "weakness"),
            (ca["weakness"] > 0 == cb["weakness"], "resolved weakness", a, "weakness"),
            (ca["strength"] == 0 < cb["strength"], "new strength", b, "strength"),
            (ca["strength"] > 0 == cb["strength"], "lost strength", a, "strength"),
        )
        hit = next((r for r in rules if r[0]), None)
        if hit:
            _, status, src, typ = hit
            ex = [r["text"] for r in src if r["type"] == typ and th in r["themes"]]
        else:
            na, nb = net_score(ca["strength"], ca["weakness"]), net_score(cb["strength"], cb["weakness"])
            status = "unchanged" if na is None or nb is None or abs(nb - na) < 0.25 else (
                "improved" if nb > na else "declined")
            ex = []
        out.append(ThemeChange(th, ca, cb, status, tuple(ex[:3])))
    return out


def compare_text(name_a: str, name_b: str, changes: Sequence[ThemeChange]) -> str:
    lines = [f"{name_a}  ->  {name_b}", f"{'theme':34s} {'before S/W/R':>13s} {'after S/W/R':>13s}  change"]
    for c in changes:
        b = f"{c.before['strength']}/{c.before['weakness']}/{c.before['recommendation']}"
        a = f"{c.after['strength']}/{c.after['weakness']}/{c.after['recommendation']}"
        lines.append(f"{THEME_NAMES[c.theme]:34s} {b:>13s} {a:>13s}  {c.status}")
    return "\n".join(lines)


def compare_html(name_a: str, name_b: str, changes: Sequence[ThemeChange]) -> str:
    rows = []
    for c in changes:
        ex = "".join(f"<li>{esc(e)}</li>" for e in c.examples)
        rows.append(
            f"<tr class='{c.status.replace(' ', '-')}'><th scope='row'>{esc(THEME_NAMES[c.theme])}</th>"
            f"<td>{c.before['strength']}/{c.before['weakness']}/{c.before['recommendation']}</td>"
            f"<td>{c.after['strength']}/{c.after['weakness']}/{c.after['recommendation']}</td>"
            f"<td>{c.status}</td><td><ul>{ex}</ul></td></tr>"
        )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>compare: {esc(name_a)} and "
        f"{esc(name_b)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
        ".new-weakness,.declined{background:#f9d6d5}"
        ".resolved-weakness,.new-strength,.improved{background:#d7f0d2}.lost-strength{background:#fdebc8}</style></head>"
        f"<body><main><h1>{esc(name_a)} &rarr; {esc(name_b)}</h1>"
        "<p>Counts are strengths / weaknesses / recommendations per theme; the change is written in words, "
        "the row colour only repeats it.</p><table><tr><th scope='col'>theme</th><th scope='col'>before</th>"
        f"<th scope='col'>after</th><th scope='col'>change</th><th scope='col'>examples</th></tr>{''.join(rows)}"
        "</table></main></body></html>"
    )


# --------------------------------------------------------------------------- #
# Outputs
# --------------------------------------------------------------------------- #
def _heatmap_png(nat: Sequence[dict], path: Path) -> None:
    import matplotlib  # lazy: matplotlib costs start-up time and only draws the archive's charts

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["strength", "weakness", "recommendation"]
    m = np.array([[r[c] for c in cols] for r in nat], dtype=float)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    cmaps = [plt.get_cmap("Greens"), plt.get_cmap("Reds"), plt.get_cmap("Oranges")]
    rgb = np.stack([np.array([cmaps[j](0.1 + 0.8 * share[i, j]) for j in range(3)]) for i in range(len(nat))])
    fig, ax = plt.subplots(figsize=(7.5, 7))
    ax.imshow(rgb, aspect="auto")
    ax.set_xticks(range(3), cols)
    ax.set_yticks(range(len(nat)), [THEME_NAMES[r["theme"]] for r in nat])
    for i in range(len(nat)):
        for j in range(3):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=8)
    ax.set_title("themes x type, all reports\n(shade: share of the theme's tagged sentences)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


_TIMELINE_THEMES = ("front_door", "workforce", "children_in_care", "care_leavers", "leadership_governance")
_TIMELINE_COLOURS = ("#1f77b4", "#d95f02", "#2ca02c", "#7b3294", "#8c564b")
# each series also has its own dash pattern and marker, so the colour is never the only cue
_TIMELINE_DASHES = ("6 3", "2 2", "8 2 2 2", "1 3", "10 4")
_TIMELINE_DASH_NAMES = ("dashed", "dotted", "dash-dot", "sparse dots", "long dashes")
_TIMELINE_MARKS = ("square", "diamond", "triangle", "cross", "bar")


def _mark(shape: str, x: float, y: float, colour: str, tip: str) -> str:
    pts = {"square": f"{x - 3},{y - 3} {x + 3},{y - 3} {x + 3},{y + 3} {x - 3},{y + 3}",
           "diamond": f"{x},{y - 4} {x + 4},{y} {x},{y + 4} {x - 4},{y}",
           "triangle": f"{x},{y - 4} {x + 4},{y + 3} {x - 4},{y + 3}",
           "cross": f"{x - 4},{y - 1} {x + 4},{y - 1} {x + 4},{y + 1} {x - 4},{y + 1}",
           "bar": f"{x - 1},{y - 4} {x + 1},{y - 4} {x + 1},{y + 4} {x - 1},{y + 4}"}
    if shape == "circle":
        return f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{colour}'><title>{tip}</title></circle>"
    return f"<polygon points='{pts[shape]}' fill='{colour}'><title>{tip}</title></polygon>"


def timeline_svg(rows: Sequence[dict], council: str) -> str:
    """Net score by theme between inspections of one council, as inline SVG (no files, no scripts), with the
    same figures in a table below it."""
    mine = [r for r in rows if r["council"] == council and r["date"]]
    w, h, left, top = 560, 190, 40, 22
    xs = [left + (w - left - 20) * (i / max(1, len(mine) - 1)) for i in range(len(mine))]

    def y(v: float) -> float:
        return top + (1 - v) / 2 * (h - top - 28)

    label = f"net score over time, {esc(council)}: the same figures are in the table below"
    parts = [f"<svg width='{w}' height='{h + 16}' role='img' aria-label='{label}'>",
             f"<text x='{left}' y='14' font-weight='bold'>{esc(council)}</text>",
             f"<line x1='{left}' x2='{w - 10}' y1='{y(0):.1f}' y2='{y(0):.1f}' stroke='#767676'/>",
             f"<text x='2' y='{y(1) + 4:.1f}' font-size='10'>+1</text><text x='2' y='{y(-1) + 4:.1f}' font-size='10'>-1</text>"]
    series = [("Whole report", "net_score", "#000", 2.5, "", "circle")] + [
        (THEME_NAMES[th], f"{th}__net", c, 1.5, d, m)
        for th, c, d, m in zip(_TIMELINE_THEMES, _TIMELINE_COLOURS, _TIMELINE_DASHES, _TIMELINE_MARKS)]
    for name, col, colour, width, dash, mark in series:
        pts = [(x, r[col]) for x, r in zip(xs, mine) if r[col] is not None]
        if len(pts) >= 1:
            path = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in pts)
            dasharray = f" stroke-dasharray='{dash}'" if dash else ""
            parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='{width}'{dasharray} points='{path}'>"
                         f"<title>{esc(name)}</title></polyline>")
            parts.extend(_mark(mark, x, y(v), colour, f"{esc(name)}: {v:+.2f}") for x, v in pts)
    for x, r in zip(xs, mine):
        parts.append(f"<text x='{x:.1f}' y='{h + 10}' font-size='10' text-anchor='middle'>{esc(r['date'][:7])}</text>")
    parts.append("</svg>")
    head = "".join(f"<th scope='col'>{esc(r['date'])}</th>" for r in mine)
    body = "".join(f"<tr><th scope='row'>{esc(name)}</th>"
                   + "".join(f"<td>{_fmt_net_score(r[col])}</td>" for r in mine) + "</tr>"
                   for name, col, *_ in series)
    table = (f"<details><summary>{esc(council)}: the figures</summary><table><caption>Net score of "
             f"{esc(council)} by theme</caption><tr><th scope='col'>series</th>{head}</tr>{body}</table></details>")
    return "".join(parts) + table


def timeline_legend() -> str:
    """Colour, dash and marker of each series, written out."""
    items = [("Whole report", "#000", "", "solid", "circle", 2.5)] + [
        (THEME_NAMES[th], c, d, dn, m, 1.5) for th, c, d, dn, m in
        zip(_TIMELINE_THEMES, _TIMELINE_COLOURS, _TIMELINE_DASHES, _TIMELINE_DASH_NAMES, _TIMELINE_MARKS)]
    out = []
    for name, colour, dash, dash_name, mark, width in items:
        dasharray = f" stroke-dasharray='{dash}'" if dash else ""
        out.append(f"<li><svg width='34' height='12' aria-hidden='true'><line x1='1' x2='33' y1='6' y2='6' "
                   f"stroke='{colour}' stroke-width='{width}'{dasharray}/>{_mark(mark, 17, 6, colour, '')}</svg> "
                   f"{esc(name)} ({mark}, {dash_name} line)</li>")
    return "<ul class='legend'>" + "".join(out) + "</ul>"


def _theme_bars_png(nat: Sequence[dict], path: Path) -> None:
    import matplotlib  # lazy, as above

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked = sorted((r for r in nat if r["net_score"] is not None), key=lambda r: r["net_score"])
    fig, ax = plt.subplots(figsize=(8, 5.5))
    ax.barh([THEME_NAMES[r["theme"]] for r in ranked], [r["net_score"] for r in ranked],
            color=["#c9423f" if r["net_score"] < 0 else "#3c9a3c" for r in ranked])
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("net score (strengths - weaknesses) / (strengths + weaknesses)")
    ax.set_title("themes from weakest to strongest, all reports")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_") or "x"


def page_names(reports: Iterable[str]) -> dict[str, str]:
    """A file name per report under reports/, never two alike: lower-case ASCII slugs, and where
    two reports share one (ids differing in case, punctuation or accents) '-2', '-3'... in id order."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for rep in sorted(set(reports)):
        base = _slug(rep)
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        names[rep] = name + ".html"
    return names


ANALYSE_OUTPUTS = ("sentences.parquet", "reports.csv", "summary.xlsx", "index.html", "charts", "reports")


@dataclass(frozen=True)
class Benchmarks:
    """The councils joined with the lookup, and each against its neighbours and region."""

    lookup: Path | None
    matched: dict[str, LA]
    unmatched: list[str]
    councils: list[CouncilBench]


def write_outputs(records: list[dict[str, Any]], metas: dict[str, ReportMeta], out: Path,
                  corrs: Sequence[Correlation], tracking: Tracking | None = None,
                  bench: Benchmarks | None = None, pdfs: dict[str, Path] | None = None,
                  final: Path | None = None) -> dict[str, Path]:
    """All files of ``analyse`` into ``out`` (analyse_archive passes a directory that is swapped in whole;
    ``final`` is where it ends up). ``pdfs``: report -> its PDF, which the per-report pages link each
    sentence to, at its page (relative to where the pages end up)."""
    import pandas as pd  # lazy: pandas costs start-up time and is needed only for these files

    bench = bench or Benchmarks(None, {}, [], [])
    out.mkdir(parents=True, exist_ok=True)
    (out / "charts").mkdir(exist_ok=True)
    (out / "reports").mkdir(exist_ok=True)
    rows = join_rows(report_table(records, metas), bench.matched)
    nat = national_table(records)
    # sentences.parquet
    flat = []
    for r in records:
        m = metas.get(r["report"]) or ReportMeta(r["report"])
        row = flat_record(r, archive=True)
        flat.append({"report": row.pop("report"), "council": m.council, "date": m.date,
                     **{f"grade_{k}": m.grades.get(k) for k in JUDGEMENTS}, **row})
    paths = {}
    with atomic_write(out / "sentences.parquet", "wb", encoding=None) as fh:
        pd.DataFrame(flat).to_parquet(fh, index=False)
    paths["sentences"] = out / "sentences.parquet"
    write_records(rows, "csv", out / "reports.csv", list(rows[0]) if rows else [])
    paths["reports"] = out / "reports.csv"
    councils = sorted({r["council"] for r in rows})
    ranks = {b.council: b for b in bench.councils}
    per_council = []
    for c in councils:
        mine = [r for r in rows if r["council"] == c]
        b = ranks.get(c)
        per_council.append({"council": c, **{k: mine[0][k] for k in ("la_code", "la_code_new", "region", "la_type")},
                            "reports": len(mine), "first": mine[0]["date"], "last": mine[-1]["date"],
                            "net_first": mine[0]["net_score"], "net_last": mine[-1]["net_score"],
                            "grade_last": mine[-1]["grade_overall_effectiveness"],
                            "neighbours_net_score": b.neighbours_net if b else None,
                            "region_net_score": b.region_net if b else None,
                            "rank_among_neighbours": b.rank if b else None, "ranked": b.ranked if b else None})
    tables = {"reports": rows, "themes x type": nat, "per council": per_council,
              "neighbours": benchmark_rows(bench.councils),
              "unmatched councils": [{"council": c} for c in bench.unmatched]}
    if tracking is not None:
        tables["recurring by theme"] = rollup_rows(tracking)
        tables["recurring concerns"] = concern_rows(tracking)
    write_tables_xlsx(tables, out / "summary.xlsx", columns={"unmatched councils": ["council"]})
    paths["summary"] = out / "summary.xlsx"
    _heatmap_png(nat, out / "charts" / "national_heatmap.png")
    by_report = group_by_report(records)
    pages = page_names(by_report)
    for rep, recs in by_report.items():
        with atomic_write(out / "reports" / pages[rep]) as fh:
            links = {rep: pdf_href(pdfs[rep], (final or out) / "reports")} if pdfs and rep in pdfs else None
            fh.write(render_html(recs, summarise(recs), title=rep, links=links))
    _theme_bars_png(nat, out / "charts" / "themes_net.png")
    multi = [c for c in councils if sum(r["council"] == c for r in rows) > 1]
    with atomic_write(out / "index.html") as fh:
        fh.write(_dashboard(rows, nat, multi, corrs, tracking, bench, pages))
    paths["index"] = out / "index.html"
    return paths


def _fmt_net_score(v: float | None) -> str:
    return "" if v is None else f"{v:+.2f}"


_DASHBOARD_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}th[scope=row]{font-weight:normal}figure{display:inline-block;margin:.4em}
img{max-width:100%}caption{text-align:left;font-weight:bold;padding:.2em 0}ul.legend{list-style:none;padding:0}
a:focus-visible,summary:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
nav ul{display:flex;flex-wrap:wrap;gap:.4em 1.2em;list-style:none;padding:0}"""


def _dashboard(rows: Sequence[dict], nat: Sequence[dict], multi: Sequence[str], corrs: Sequence[Correlation],
               tracking: Tracking | None = None, bench: Benchmarks | None = None,
               pages: dict[str, str] | None = None) -> str:
    bench = bench or Benchmarks(None, {}, [], [])
    ranked = sorted((r for r in nat if r["net_score"] is not None), key=lambda r: r["net_score"])
    weakest, strongest = ranked[:5], ranked[-5:][::-1]

    def theme_list(items):
        return "".join(f"<li><b>{esc(THEME_NAMES[r['theme']])}</b>: net {_fmt_net_score(r['net_score'])} "
                       f"({r['strength']} strengths, {r['weakness']} weaknesses)</li>" for r in items)

    heat_rows = []
    for r in nat:
        total = max(1, r["strength"] + r["weakness"] + r["recommendation"])
        cells = []
        for t, colour in (("strength", "60,154,60"), ("weakness", "201,66,63"), ("recommendation", "224,160,48")):
            a = 0.6 * r[t] / total  # at most 60% of a mid colour under black text keeps a 4.5:1 contrast
            cells.append(f"<td style='background:rgba({colour},{a:.2f})'>{esc(r[t])}</td>")
        heat_rows.append(f"<tr><th scope='row'>{esc(THEME_NAMES[r['theme']])}</th>{''.join(cells)}</tr>")
    corr_rows = "".join(
        f"<tr><td>{esc(c.scope)}</td><td>{esc(c.judgement)}</td><td>{esc(c.n)}</td>"
        f"<td>{'n/a' if c.rho is None else f'{c.rho:+.3f}'}</td></tr>"
        for c in corrs)
    pages = pages or page_names(r["report"] for r in rows)
    report_rows = "".join(
        f"<tr><td>{esc(r['council'])}</td><td>{esc(r.get('region') or '')}</td><td>{esc(r['date'])}</td>"
        f"<td>{esc(r.get('kind') or '')}</td>"
        f"<td><a href='reports/{esc(urllib.parse.quote(pages[r['report']]))}'>{esc(r['report'])}</a></td>"
        f"<td>{esc(r['grade_overall_effectiveness'])}</td><td>{esc(r['n_strength'])}</td><td>{esc(r['n_weakness'])}</td>"
        f"<td>{esc(r['n_recommendation'])}</td><td>{_fmt_net_score(r['net_score'])}</td></tr>"
        for r in rows)
    timelines = "".join(f"<figure>{timeline_svg(rows, c)}</figure>" for c in multi)
    recurring = track_section(tracking, resolved_quotes=False) if tracking is not None else "<p>Not computed.</p>"
    sections = [("themes", "Themes nationally"), ("check", "Check against Ofsted's grades"),
                ("over-time", "Councils over time"), ("recurring", "Recurring weaknesses"),
                ("neighbours", "Neighbours and region"), ("reports", "Reports")]
    nav = "".join(f"<li><a href='#{i}'>{t}</a></li>" for i, t in sections)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>ofsted-tagger: the archive</title>
<style>{_DASHBOARD_CSS}{TRACK_CSS}</style>
</head><body><header><h1>The archive: {len(rows)} reports, {len({r['council'] for r in rows})} councils</h1>
<nav aria-label="sections"><ul>{nav}</ul></nav></header><main>
<h2 id="themes">Themes nationally</h2><table><caption>Sentences per theme and type (cell shade: share of the theme's
tagged sentences; the count is written)</caption><tr><th scope="col">theme</th><th scope="col">strengths</th>
<th scope="col">weaknesses</th><th scope="col">recommendations</th></tr>
{''.join(heat_rows)}</table><img src="charts/national_heatmap.png" alt="Heat map of the same counts: themes by type, all reports">
<h3>Weakest themes</h3><ol>{theme_list(weakest)}</ol><h3>Strongest themes</h3><ol>{theme_list(strongest)}</ol>
<img src="charts/themes_net.png" alt="Bar chart: themes ranked by net score, from weakest to strongest; the five weakest and five strongest are listed above">
<h2 id="check">Check against Ofsted's grades</h2><table><caption>Spearman's rho of net score against Ofsted's grade</caption>
<tr><th scope="col">scope</th><th scope="col">judgement</th><th scope="col">n</th><th scope="col">Spearman rho</th></tr>{corr_rows}</table>
<h2 id="over-time">Councils over time</h2><p>Net score between inspections, per series:</p>{timeline_legend()}
{timelines or '<p>No council has two reports in this input.</p>'}
<h2 id="recurring">Recurring weaknesses</h2>{recurring}
<h2 id="neighbours">Neighbours and region</h2>{neighbours_section(bench.councils, bench.unmatched, bench.lookup)}
<h2 id="reports">Reports</h2><table><caption>Every report, by council and date</caption><tr><th scope="col">council</th>
<th scope="col">region</th><th scope="col">date</th><th scope="col">kind</th><th scope="col">report</th>
<th scope="col">overall grade</th><th scope="col">strengths</th><th scope="col">weaknesses</th>
<th scope="col">recommendations</th><th scope="col">net score</th></tr>{report_rows}</table></main>
<footer><p>Report texts: Ofsted, Crown copyright, Open Government Licence v3.0.</p></footer></body></html>"""


_TAGGED_REQUIRED = ("report", "text", "type", "themes", "type_scores", "theme_scores")


def _tagged_problem(r: Any) -> str | None:
    """What is wrong with one line of predict's JSONL, or None."""
    if not isinstance(r, dict):
        return f"a JSON {type(r).__name__}, not an object"
    missing = [k for k in _TAGGED_REQUIRED if k not in r]
    if missing:
        return f"missing {', '.join(missing)}"
    if not isinstance(r["report"], str) or not isinstance(r["text"], str):
        return "'report' and 'text' must be strings"
    if r["type"] not in TYPES:
        return f"'type' must be one of {', '.join(TYPES)}"
    if not isinstance(r["themes"], list) or any(t not in THEMES for t in r["themes"]):
        return "'themes' must be a list of the codebook's themes"
    for key, labels in (("type_scores", TYPES), ("theme_scores", THEMES)):
        sc = r[key]
        if not isinstance(sc, dict) or any(not isinstance(sc.get(k), (int, float)) or isinstance(sc.get(k), bool)
                                           for k in labels):
            return f"'{key}' must map every label to a number"
    for key, typ in (("index", int), ("confidence", (int, float)), ("section", str), ("kind", str)):
        if key in r and (not isinstance(r[key], typ) or isinstance(r[key], bool)):
            return f"'{key}' has the wrong type"
    if "grade" in r and r["grade"] is not None and not isinstance(r["grade"], str):
        return "'grade' must be a string or null"
    if "evidence" in r and (not isinstance(r["evidence"], list) or not all(isinstance(w, str) for w in r["evidence"])):
        return "'evidence' must be a list of strings"
    return None


def read_tagged_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records written by ``predict --format jsonl``, each line checked (one-line UserError naming the line)."""
    out = []
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    raise UserError(f"{path}:{n}: not valid JSON; give a JSONL written by 'ofsted-tagger predict'.")
                problem = _tagged_problem(r)
                if problem:
                    raise UserError(f"{path}:{n}: {problem}; give predict's JSONL output.")
                r.setdefault("confidence", max(r["type_scores"].values()))
                out.append(fill_defaults(r))
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); give predict's JSONL output.")
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror}); check the file.")
    return out


def is_tagged_jsonl(path: Path) -> bool:
    """Does ``path`` look like predict's JSONL (a .jsonl whose first line has type_scores)?"""
    if path.suffix.lower() != ".jsonl" or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            first = fh.readline(1 << 20)
        head = json.loads(first)
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(head, dict) and "type_scores" in head


# --------------------------------------------------------------------------- #
# The analyse and compare commands
# --------------------------------------------------------------------------- #
def tagged_inputs(paths: Iterable[str], params: Params, model: Callable[[], TaggerModel],
                  errors: list[str]) -> tuple[list[dict[str, Any]], dict[str, ReportMeta]]:
    """Records and text-derived metadata for report files (tagged by ``model()``, called only if
    there are any), or records read back from predict's JSONL."""
    records: list[dict[str, Any]] = []
    metas: dict[str, ReportMeta] = {}
    files = []
    ids = ReportIds()  # a report id in two inputs would merge two reports into one
    for raw in paths:
        if is_tagged_jsonl(Path(raw)):
            for rep, rr in group_by_report(read_tagged_jsonl(Path(raw))).items():
                if ids.claim(rep, f"{raw} (report '{rep}')", errors):
                    records.extend(rr)
                    metas[rep] = report_metadata_from_text(rep, "", rr)
        else:
            files.append(raw)
    if files:
        tagger = model()
        for doc in iter_documents(files, params, errors, ids):
            recs = tag_document(tagger, doc, params)
            records.extend(recs)
            metas[doc.report_id] = report_metadata_from_text(doc.report_id, doc.title, recs)
    return records, metas


def tag_archive(paths: Iterable[str], params: Params, model_uri: str | None, errors: list[str],
                engine: str = "local", spark_master: str = "local[2]") -> tuple[list[dict[str, Any]], dict[str, ReportMeta]]:
    """Records and text-derived metadata of every input, on the local engine or on Spark."""
    if engine == "spark":
        records, titles = tag_with_spark(paths, params, model_uri, spark_master, errors)
        metas = {rep: report_metadata_from_text(rep, titles.get(rep, ""), recs)
                 for rep, recs in group_by_report(records).items()}
        return records, metas
    return tagged_inputs(paths, params, lambda: load_model(model_uri, params), errors)


def held_out_reports(params: Params, reports: Iterable[str]) -> set[str] | None:
    """Reports whose council is outside the model's training split (dev, test, or unknown to it)."""
    try:
        split = read_split(split_path(params))
        meta = read_metadata(params.paths.corpus_metadata)
    except UserError:
        return None
    return {r for r in reports if split.get(council_of(r, meta)) != "train"}


@dataclass(frozen=True)
class Analysis:
    reports: list[dict[str, Any]]  # report_table rows, joined with the lookup
    sentences: int
    written: dict[str, Path]
    correlations: list[Correlation]
    unmatched: list[str]  # councils not found in the lookup
    lookup: Path | None


def lookup_path(params: Params, lookup: Path | None) -> Path | None:
    """--lookup, else paths.la_lookup of params.yaml (None: no join)."""
    return lookup or params.paths.la_lookup


def apply_metadata(metas: dict[str, ReportMeta], given: dict[str, ReportMeta] | None) -> None:
    """Council, date, grades and URN from the metadata CSV where it has the report; the kind stays the report's own."""
    for k, v in (given or {}).items():
        if k in metas:
            v.kind = v.kind or metas[k].kind
            metas[k] = v


def join_lookup(metas: dict[str, ReportMeta], lookup: Path | None) -> tuple[dict[str, LA], list[str]]:
    """Match every council with the lookup and name each matched council by the lookup's (normalised) name,
    so that one council's reports share one name whatever their source wrote; unmatched councils listed."""
    if lookup is None:
        return {}, []
    matched, unmatched = match_councils(metas, read_lookup(lookup))
    for m in metas.values():
        if m.council in matched:
            m.council = normalise_council(matched[m.council].name)
    return {normalise_council(la.name): la for la in matched.values()}, unmatched


def analyse_archive(paths: Iterable[str], outdir: Path, params: Params, errors: list[str], metadata: Path | None = None,
                    model_uri: str | None = None, engine: str = "local", spark_master: str = "local[2]",
                    lookup: Path | None = None) -> Analysis | None:
    """The ``analyse`` command: tag, tabulate, correlate with grades, join the council lookup, track recurring
    weaknesses, compare councils with their neighbours, write every file; None if nothing to analyse.

    The files are written into a temporary directory that replaces ``outdir`` as a whole at the end."""
    paths = list(paths)
    target = check_output_dir(outdir, ANALYSE_OUTPUTS)  # output directory, metadata and lookup: checked before tagging
    given = read_metadata(metadata) if metadata else None
    lookup = lookup_path(params, lookup)
    if lookup is not None:
        read_lookup(lookup)
    records, metas = tag_archive(paths, params, model_uri, errors, engine, spark_master)
    if not records:
        errors.append("nothing to analyse: no readable reports or tagged sentences in the input.")
        return None
    apply_metadata(metas, given)
    matched, unmatched = join_lookup(metas, lookup)
    rows = join_rows(report_table(records, metas), matched)
    corrs = grade_correlations(rows, held_out_reports(params, [r["report"] for r in rows]))
    tracking = track_councils(records, metas, params.track)
    bench = Benchmarks(lookup, matched, unmatched, benchmark(rows, matched))
    with atomic_directory(outdir, ANALYSE_OUTPUTS) as staging:
        staged = write_outputs(records, metas, staging, corrs, tracking, bench, pdf_sources(paths), final=target)
    written = {k: target / p.relative_to(staging) for k, p in staged.items()}
    return Analysis(rows, len(records), written, corrs, unmatched, lookup)


def track_archive(paths: Iterable[str], params: Params, errors: list[str], council: str | None = None,
                  metadata: Path | None = None, model_uri: str | None = None, output: Path | None = None,
                  lookup: Path | None = None) -> Tracking | None:
    """The ``track`` command: tag the reports (or read predict's JSONL), put each council's reports in date
    order, find recurring, new and resolved concerns theme by theme, and write ``output`` (.html, .xlsx, .csv).
    Council names are matched through the lookup when there is one, so --council accepts any of its names."""
    if output is not None and output.suffix.lower() not in (".html", ".xlsx", ".csv"):
        raise UserError(f"{output}: unknown output format '{output.suffix.lstrip('.')}'; give a .html, .xlsx or "
                        ".csv file.")
    if output is not None:
        check_output_file(output)  # before any tagging
    given = read_metadata(metadata) if metadata else None
    lookup = lookup_path(params, lookup)
    table = read_lookup(lookup) if lookup is not None else None
    records, metas = tagged_inputs(paths, params, lambda: load_model(model_uri, params), errors)
    if not records:
        errors.append("nothing to track: no readable reports or tagged sentences in the input.")
        return None
    apply_metadata(metas, given)
    join_lookup(metas, lookup)
    name = None
    if council is not None:
        la = table.match(council) if table else None
        name = normalise_council(la.name) if la else normalise_council(council)
        known = {normalise_council(m.council): m.council for m in metas.values()}
        if name not in known:
            raise UserError(f"{council}: no report of this council in the input; councils found: "
                            f"{', '.join(sorted(set(known.values())))}.")
        name = known[name]
    tracking = track_councils(records, metas, params.track, name)
    if output is not None:
        write_track(tracking, output)
    return tracking


def compare_paths(report_a: str, report_b: str, params: Params, model_uri: str | None,
                  errors: list[str]) -> list[ThemeChange] | None:
    """The ``compare`` command: both reports tagged with one model load; None if either could not be read."""
    model = functools.cache(lambda: load_model(model_uri, params))
    ra, _ = tagged_inputs([report_a], params, model, errors)
    rb, _ = tagged_inputs([report_b], params, model, errors)
    return None if errors else compare_reports(ra, rb)
