"""Plan: an improvement plan per report, built from its tagged sentences.

A council answers an inspection with an action plan. Here each of the report's
recommendations becomes an action row: its themes, its words, a priority, the
weaknesses the report gives for it (quoted, with page and the model's confidence),
the strengths to build on, and empty owner / due date / RAG status columns for the
council to fill. Weaknesses that no recommendation addresses get "also found" rows.

Pure part (no I/O): :func:`build_plan` turns one report's tagged records (shaped by
:data:`pipeline.schema.RECORD`) and what is known of the report (:class:`PlanMeta`)
into a :class:`Plan` of typed :class:`ActionRow` rows; :func:`plan_dict` is a plan as
JSON (the API's answer). The rules, all tunable in params.yaml's ``plan:`` block:

- **actions**: one per recommendation, in report order; a recommendation restated word
  for word (or nearly: TF-IDF cosine >= ``duplicate_similarity``) is one action, and a
  sentence that only goes on with the one before ("This should include ...") is part of it.
- **evidence**: the weaknesses sharing at least one of the recommendation's themes,
  most similar first (TF-IDF cosine between sentences of the same report), at most
  ``evidence_per_action``; a recommendation with no theme cites the weaknesses at least
  ``min_similarity`` similar. **Build on**: the strengths sharing a theme, chosen the
  same way, at most ``strengths_per_action``.
- **priority** (:func:`priority`), from the grade of the judgement behind the row and
  the number of the report's weaknesses on its themes (``many_weaknesses``):
  High = inadequate, or requires improvement with many weaknesses;
  Medium = requires improvement, or many weaknesses whatever the grade;
  Low = the rest. The judgement behind a row is that of its own section when the
  section is a graded judgement; else the worst graded judgement among the sections of
  its weaknesses; else overall effectiveness; monitoring and focused visits have none.
- **also found**: weaknesses sharing no theme with any recommendation (and not cited by
  a recommendation with no theme), one row per theme (the weakness's first theme),
  quoting every such weakness.
- **check**: a recommendation or quote the model gave less than ``review_confidence``
  is marked for review; an also-found row is marked when all its quotes are.

Edges: :func:`plan_document` / :func:`plan_paths` tag reports and build their plans;
:func:`render_plans` gives docx, xlsx, html, md or json bytes and :func:`write_plans`
writes them atomically.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from pipeline.config import Params, PlanParams
from pipeline.errors import UserError, atomic_write, check_output_file
from pipeline.report import append_row, esc, xml_text
from pipeline.schema import GRADE_NAMES, GRADE_SCORE, JUDGEMENT_NAMES, MAX_THEMES, judgement_of_section, theme_name

PRIORITIES: tuple[str, ...] = ("High", "Medium", "Low")
PLAN_FORMATS: tuple[str, ...] = ("docx", "xlsx", "html", "md", "json")
ACTION, ALSO_FOUND = "action", "also found"
NO_RECOMMENDATION = "No recommendation in the report: action to be agreed."
RAG_CHOICES = ("Red", "Amber", "Green")


# --------------------------------------------------------------------------- #
# The plan (typed rows)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Quote:
    """A sentence of the report quoted as evidence."""

    text: str
    page: int | None
    confidence: float
    index: int  # position in the report (the record's index)
    section: str
    themes: tuple[str, ...]
    similarity: float | None  # TF-IDF cosine to the row's recommendation (None on also-found rows)
    review: bool  # the model's confidence is under plan.review_confidence


@dataclass(frozen=True)
class ActionRow:
    """One row of the plan: an action (a recommendation) or an "also found" group of weaknesses."""

    number: int
    kind: str  # ACTION | ALSO_FOUND
    themes: tuple[str, ...]
    recommendation: str  # the recommendation's words ("" on also-found rows)
    page: int | None
    confidence: float | None
    section: str
    priority: str  # one of PRIORITIES
    judgement: str | None  # the judgement whose grade set the priority (a JUDGEMENTS key)
    grade: str | None  # its grade (a GRADE_SCORE key)
    weaknesses_on_themes: int
    priority_reason: str
    evidence: tuple[Quote, ...]  # weaknesses behind it
    build_on: tuple[Quote, ...]  # strengths on the same themes
    review: bool
    owner: str = ""  # for the council to fill
    due_date: str = ""
    rag_status: str = ""


@dataclass(frozen=True)
class PlanMeta:
    """What is known of the report besides its sentences."""

    report: str
    title: str = ""
    council: str = ""
    date: str = ""
    grades: Mapping[str, str | None] = field(default_factory=dict)  # JUDGEMENTS key -> GRADE_SCORE key
    source: str = ""  # the PDF's path, when the report is a PDF (quotes link to its pages)


@dataclass(frozen=True)
class Plan:
    meta: PlanMeta
    rows: tuple[ActionRow, ...]
    review_confidence: float

    @property
    def actions(self) -> tuple[ActionRow, ...]:
        return tuple(r for r in self.rows if r.kind == ACTION)

    @property
    def also_found(self) -> tuple[ActionRow, ...]:
        return tuple(r for r in self.rows if r.kind == ALSO_FOUND)


# --------------------------------------------------------------------------- #
# Rules (pure)
# --------------------------------------------------------------------------- #
def priority(grade: str | None, weaknesses: int, many: int) -> str:
    """High / Medium / Low from the judgement's grade and the weaknesses on the row's themes (module doc)."""
    many_weak = weaknesses >= many
    if grade == "inadequate" or (grade == "requires_improvement" and many_weak):
        return "High"
    if grade == "requires_improvement" or many_weak:
        return "Medium"
    return "Low"


def _priority_reason(judgement: str | None, grade: str | None, weaknesses: int) -> str:
    graded = (f"{JUDGEMENT_NAMES.get(judgement or '', 'the report')} graded {GRADE_NAMES[grade].lower()}"
              if grade else "no graded judgement")
    return f"{graded}; {weaknesses} weakness{'es' if weaknesses != 1 else ''} on its themes"


def _section_grade(record: Mapping[str, Any], grades: Mapping[str, str | None]) -> tuple[str, str] | None:
    """(judgement, grade) of the graded judgement a record's section is, if it is one."""
    j = judgement_of_section(record.get("section", ""))
    if not j:
        return None
    g = grades.get(j) or record.get("grade")
    return (j, g) if g in GRADE_SCORE else None


def _judgement_behind(record: Mapping[str, Any] | None, weaknesses: Sequence[Mapping[str, Any]],
                      grades: Mapping[str, str | None]) -> tuple[str | None, str | None]:
    """The judgement (and grade) behind a row: its own section's, else the worst of its weaknesses'
    sections', else overall effectiveness."""
    own = _section_grade(record, grades) if record is not None else None
    if own:
        return own
    found = [jg for w in weaknesses if (jg := _section_grade(w, grades))]
    if found:
        return min(found, key=lambda jg: GRADE_SCORE[jg[1]])
    overall = grades.get("overall_effectiveness")
    return ("overall_effectiveness", overall) if overall in GRADE_SCORE else (None, None)


def _similarities(texts: Sequence[str]) -> np.ndarray:
    """Pairwise TF-IDF cosine similarity of a report's sentences (zeros when no word is left)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not texts:
        return np.zeros((0, 0))
    try:
        x = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    except ValueError:  # nothing but stop words
        return np.zeros((len(texts), len(texts)))
    return (x @ x.T).toarray()


def _norm_text(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def _quote(r: Mapping[str, Any], similarity: float | None, threshold: float) -> Quote:
    conf = float(r["confidence"])
    return Quote(r["text"], r.get("page"), round(conf, 4), int(r["index"]), r.get("section", ""),
                 tuple(r["themes"]), None if similarity is None else round(float(similarity), 4), conf < threshold)


# a sentence that only goes on with the recommendation before it ("This should include ...")
_CONTINUES = re.compile(r"^(?:This|These|That|It|They|Such|In particular|Including|In addition|Also)\b")


def _recommendation_items(units: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The recommendations, a sentence that goes straight on with the one before it ("This should
    include ...") joined to it, as Ofsted writes one recommendation over several sentences."""
    items: list[dict[str, Any]] = []
    prev_index = None
    for r in units:
        if r["type"] != "recommendation":
            continue
        if items and prev_index == r["index"] - 1 and r.get("kind") != "bullet" and _CONTINUES.match(r["text"]):
            last = items[-1]
            last["text"] = f"{last['text']} {r['text']}"
            last["themes"] = list(dict.fromkeys([*last["themes"], *r["themes"]]))[:MAX_THEMES]
            last["confidence"] = min(last["confidence"], r["confidence"])
        else:
            items.append({**r, "themes": list(r["themes"])})
        prev_index = r["index"]
    return items


def build_plan(records: Sequence[Mapping[str, Any]], meta: PlanMeta, settings: PlanParams) -> Plan:
    """The improvement plan of one report from its tagged records (rules in the module doc)."""
    units = [r for r in records if r.get("kind") != "heading"]
    recs = _recommendation_items(units)
    weak = [r for r in units if r["type"] == "weakness"]
    strong = [r for r in units if r["type"] == "strength"]
    sim = _similarities([r["text"] for r in (*recs, *weak, *strong)])
    nr, nw = len(recs), len(weak)
    rec_rec, rec_weak, rec_strong = sim[:nr, :nr], sim[:nr, nr:nr + nw], sim[:nr, nr + nw:]
    thr = settings.review_confidence

    kept: list[int] = []
    seen: set[str] = set()
    for i, r in enumerate(recs):
        key = _norm_text(r["text"])
        if key in seen or any(rec_rec[i, j] >= settings.duplicate_similarity for j in kept):
            continue
        seen.add(key)
        kept.append(i)

    rows: list[ActionRow] = []
    covered: set[int] = set()
    for i in kept:
        r = recs[i]
        themes = set(r["themes"])
        if themes:
            cand = [j for j, w in enumerate(weak) if themes & set(w["themes"])]
            strengths = [j for j, s in enumerate(strong) if themes & set(s["themes"])]
        else:
            cand = [j for j in range(nw) if rec_weak[i, j] >= settings.min_similarity]
            strengths = [j for j in range(len(strong)) if rec_strong[i, j] >= settings.min_similarity]
        cand.sort(key=lambda j: (-rec_weak[i, j], -weak[j]["confidence"], j))
        strengths.sort(key=lambda j: (-rec_strong[i, j], -strong[j]["confidence"], j))
        evidence = cand[: settings.evidence_per_action]
        covered.update(cand if themes else evidence)
        judgement, grade = _judgement_behind(r, [weak[j] for j in cand], meta.grades)
        rows.append(ActionRow(
            number=len(rows) + 1, kind=ACTION, themes=tuple(r["themes"]), recommendation=r["text"],
            page=r.get("page"), confidence=round(float(r["confidence"]), 4), section=r.get("section", ""),
            priority=priority(grade, len(cand), settings.many_weaknesses), judgement=judgement, grade=grade,
            weaknesses_on_themes=len(cand), priority_reason=_priority_reason(judgement, grade, len(cand)),
            evidence=tuple(_quote(weak[j], rec_weak[i, j], thr) for j in evidence),
            build_on=tuple(_quote(strong[j], rec_strong[i, j], thr)
                           for j in strengths[: settings.strengths_per_action]),
            review=float(r["confidence"]) < thr,
        ))

    # weaknesses no recommendation addresses, one row per (first) theme
    groups: dict[str, list[int]] = {}
    for j, w in enumerate(weak):
        if j not in covered:
            groups.setdefault(w["themes"][0] if w["themes"] else "", []).append(j)
    also: list[ActionRow] = []
    for theme, members in groups.items():
        on_theme = [w for w in weak if theme in w["themes"]] if theme else [weak[j] for j in members]
        judgement, grade = _judgement_behind(None, [weak[j] for j in members], meta.grades)
        quotes = tuple(_quote(weak[j], None, thr) for j in members)
        also.append(ActionRow(
            number=0, kind=ALSO_FOUND, themes=(theme,) if theme else (), recommendation="", page=quotes[0].page,
            confidence=None, section=weak[members[0]].get("section", ""),
            priority=priority(grade, len(on_theme), settings.many_weaknesses), judgement=judgement, grade=grade,
            weaknesses_on_themes=len(on_theme), priority_reason=_priority_reason(judgement, grade, len(on_theme)),
            evidence=quotes, build_on=(), review=all(q.review for q in quotes),
        ))
    also.sort(key=lambda a: (PRIORITIES.index(a.priority), -len(a.evidence), a.evidence[0].index))
    first = len(rows) + 1
    rows.extend(replace(a, number=first + k) for k, a in enumerate(also))
    return Plan(meta, tuple(rows), thr)


def plan_dict(plan: Plan) -> dict[str, Any]:
    """A plan as JSON: the report, then its rows with theme display names beside the keys."""
    rows = []
    for r in plan.rows:
        d = asdict(r)
        d["theme_names"] = [theme_name(t) for t in r.themes]
        rows.append(d)
    m = plan.meta
    return {"report": m.report, "title": m.title, "council": m.council, "date": m.date, "grades": dict(m.grades),
            "judgements": _judgement_lines(m),
            "source": m.source, "review_confidence": plan.review_confidence, "rows": rows}


# --------------------------------------------------------------------------- #
# Tagging reports into plans (I/O)
# --------------------------------------------------------------------------- #
def plan_document(model: Any, doc: Any, params: Params) -> Plan | None:
    """Tag a :class:`~pipeline.ingest.Document` and build its plan (None if it has no sentences)."""
    from pipeline.predict import tag_document

    return plan_from_records(tag_document(model, doc, params), doc, params)


def plan_from_records(records: Sequence[Mapping[str, Any]], doc: Any, params: Params) -> Plan | None:
    """The plan of a tagged document: council, date and grades read from its own text (None if no sentences)."""
    from pipeline.analyse import report_metadata_from_text  # lazy: council, date and grades from the text

    if not records:
        return None
    m = report_metadata_from_text(doc.report_id, doc.title, records)
    meta = PlanMeta(doc.report_id, doc.title, m.council, m.date, dict(m.grades),
                    doc.source if doc.kind == "pdf" else "")
    return build_plan(records, meta, params.plan)


def plan_paths(paths: Iterable[str], params: Params, model_uri: str | None, errors: list[str]) -> list[Plan]:
    """The plan of every readable report (one message in ``errors`` per bad input)."""
    from pipeline.inputs import iter_documents
    from pipeline.predict import load_model

    model = load_model(model_uri, params)
    plans = []
    for doc in iter_documents(paths, params, errors):
        plan = plan_document(model, doc, params)
        if plan is None:
            errors.append(f"{doc.source or doc.report_id}: no sentences to plan from; give a report with text.")
        else:
            plans.append(plan)
    return plans


# --------------------------------------------------------------------------- #
# Writers (the edge): what a council circulates
# --------------------------------------------------------------------------- #
def _themes_text(themes: Sequence[str]) -> str:
    return ", ".join(theme_name(t) for t in themes) or "General"


def _title(meta: PlanMeta) -> str:
    name = meta.council.title() if meta.council else meta.report
    return f"Improvement plan: {name}"


def _about(meta: PlanMeta) -> list[tuple[str, str]]:
    """(label, value) lines describing the report."""
    out = [("Report", meta.title or meta.report)]
    if meta.date:
        out.append(("Inspection date", _long_date(meta.date)))
    graded = _judgement_lines(meta)
    if graded:
        out.append(("Judgements", "; ".join(graded)))
    if meta.source:
        out.append(("Source", Path(meta.source).name))
    out.append(("Prepared", f"{_long_date(dt.date.today().isoformat())} by ofsted-tagger from the report's own words"))
    return out


def _judgement_lines(meta: PlanMeta) -> list[str]:
    return [f"{JUDGEMENT_NAMES[j]}: {GRADE_NAMES[g]}" for j, g in meta.grades.items() if g in GRADE_NAMES]


def _long_date(iso: str) -> str:
    try:
        d = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{d.day} {d.strftime('%B %Y')}"


def _quote_text(q: Quote) -> str:
    """“…” (page 4, confidence 0.93) — the plain-text form of a quote."""
    where = [f"page {q.page}"] if q.page else []
    where.append(f"confidence {q.confidence:.2f}")
    return f"“{q.text}” ({', '.join(where)})" + (" CHECK" if q.review else "")


def _how_to_read(plan: Plan) -> list[str]:
    return [
        "Each recommendation of the report is an action. Evidence quotes the report's weaknesses on the same "
        "themes, most similar first; 'build on' quotes its strengths on those themes. Page numbers refer to "
        "the inspection report.",
        "Priority: High when the judgement behind the action is inadequate, or requires improvement with "
        "many weaknesses on its themes; Medium when it requires improvement, or when many weaknesses share "
        "its themes; Low otherwise.",
        f"CHECK marks a sentence the tagger was less than {plan.review_confidence:.0%} sure of: read it "
        "in the report before relying on it. Owner, due date and RAG status (Red, Amber, Green) are for the "
        "council to fill in.",
    ]


def _by_priority(rows: Sequence[ActionRow]) -> list[tuple[str, list[ActionRow]]]:
    return [(p, [r for r in rows if r.priority == p]) for p in PRIORITIES if any(r.priority == p for r in rows)]


def render_markdown(plans: Sequence[Plan], links: Mapping[str, str] | None = None) -> str:
    """The plans as Markdown (quotes link to ``links[report]#page=N`` where the PDF is known)."""
    out: list[str] = []
    for plan in plans:
        base = (links or {}).get(plan.meta.report)
        out += [f"# {_title(plan.meta)}", ""]
        out += [f"- **{k}:** {v}" for k, v in _about(plan.meta)] + [""]
        out += ["> " + "\n>\n> ".join(_how_to_read(plan)), ""]

        def quote(q: Quote) -> str:
            page = f"[page {q.page}]({base}#page={q.page})" if (q.page and base) else (f"page {q.page}" if q.page else "")
            where = ", ".join(x for x in (page, f"confidence {q.confidence:.2f}") if x)
            return f"  - “{_md(q.text)}” ({where})" + (" **CHECK**" if q.review else "")

        for prio, rows in _by_priority(plan.actions):
            out += [f"## {prio} priority", ""]
            for r in rows:
                out += [f"### Action {r.number}: {_themes_text(r.themes)}", "",
                        f"**Recommendation:** {_md(r.recommendation)}" + (" **CHECK**" if r.review else ""), "",
                        f"*Priority {prio.lower()}: {r.priority_reason}.*", ""]
                out += ["**Evidence (weaknesses):**", ""] + ([quote(q) for q in r.evidence] or ["  - none found"]) + [""]
                if r.build_on:
                    out += ["**Strengths to build on:**", ""] + [quote(q) for q in r.build_on] + [""]
                out += ["| Owner | Due date | RAG status |", "|---|---|---|", "|  |  |  |", ""]
        if plan.also_found:
            out += ["## Also found: weaknesses with no recommendation", ""]
            for r in plan.also_found:
                out += [f"### {r.number}. {_themes_text(r.themes)} ({r.priority} priority)", "",
                        f"*{r.priority_reason}.*", ""] + [quote(q) for q in r.evidence]
                out += ["", "| Owner | Due date | RAG status |", "|---|---|---|", "|  |  |  |", ""]
        if not plan.rows:
            out += ["The report has no recommendations or weaknesses to plan for.", ""]
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]|<>#])", r"\\\1", text)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6em} h2{margin-top:1.6em;border-bottom:2px solid #1b1b1b} h3{font-size:1.05em}
dl.about{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em} dl.about dt{font-weight:bold}
.how{background:#f3f2f1;padding:.6em 1em;border-left:4px solid #505a5f}
table{border-collapse:collapse;width:100%;margin:.6em 0 1.4em} caption{text-align:left;font-weight:bold;padding:.3em 0}
th,td{border:1px solid #6f777b;padding:.4em .5em;vertical-align:top;text-align:left}
th{background:#e8e8e8} td.fill{min-width:6em;background:#fff}
ul.quotes{margin:0;padding-left:1.1em} ul.quotes li{margin:.2em 0}
.meta{color:#3d3d3d;font-size:.9em}
.check{font-weight:bold;color:#fff;background:#6d3300;padding:0 .35em;border-radius:3px;font-size:.8em}
.prio{font-weight:bold;padding:0 .4em;border-radius:3px;border:1px solid currentColor}
.prio-High{color:#8b0000} .prio-Medium{color:#6d3300} .prio-Low{color:#1d4f1d}
a{color:#1d4f91} a:focus{outline:3px solid #ffbf47;outline-offset:1px}
@media print{body{max-width:none} a{color:inherit}}
"""


def render_html(plans: Sequence[Plan], links: Mapping[str, str] | None = None) -> str:
    """The plans as one self-contained, accessible page (no scripts; quotes link to the PDF's page)."""
    e = esc
    title = _title(plans[0].meta) if len(plans) == 1 else f"Improvement plans: {len(plans)} reports"
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
           f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{e(title)}</title>"
           f"<style>{_CSS}</style></head><body><main>"]
    if len(plans) > 1:
        out.append(f"<h1>{e(title)}</h1>")
    for k, plan in enumerate(plans):
        base = (links or {}).get(plan.meta.report)
        h = "h1" if len(plans) == 1 else "h2"
        out.append(f"<article aria-labelledby='plan-{k}'><{h} id='plan-{k}'>{e(_title(plan.meta))}</{h}>")
        out.append("<dl class='about'>" + "".join(f"<dt>{e(a)}</dt><dd>{e(b)}</dd>" for a, b in _about(plan.meta))
                   + "</dl>")
        out.append("<div class='how'>" + "".join(f"<p>{e(p)}</p>" for p in _how_to_read(plan)) + "</div>")

        def quotes(qs: Sequence[Quote]) -> str:
            if not qs:
                return "<p>None found.</p>"
            items = []
            for q in qs:
                page = ""
                if q.page:
                    page = (f"<a href='{e(base)}#page={q.page}'>page {q.page}</a>" if base else f"page {q.page}")
                meta = ", ".join(x for x in (page, f"confidence {q.confidence:.2f}") if x)
                check = " <span class='check'>CHECK</span>" if q.review else ""
                items.append(f"<li><q>{e(q.text)}</q> <span class='meta'>({meta})</span>{check}</li>")
            return "<ul class='quotes'>" + "".join(items) + "</ul>"

        sub = "h2" if len(plans) == 1 else "h3"
        fill = "<td class='fill'></td>" * 3
        for prio, rows in _by_priority(plan.actions):
            out.append(f"<section><{sub}>{prio} priority</{sub}><table><caption>{prio} priority actions "
                       f"({len(rows)})</caption><thead><tr><th scope='col'>No.</th><th scope='col'>Theme</th>"
                       "<th scope='col'>Recommendation</th><th scope='col'>Evidence from the report (weaknesses)</th>"
                       "<th scope='col'>Strengths to build on</th><th scope='col'>Owner</th>"
                       "<th scope='col'>Due date</th><th scope='col'>RAG status</th></tr></thead><tbody>")
            for r in rows:
                check = " <span class='check'>CHECK</span>" if r.review else ""
                out.append(f"<tr><th scope='row'>{r.number}</th><td>{e(_themes_text(r.themes))}</td>"
                           f"<td>{e(r.recommendation)}{check}<p class='meta'><span class='prio prio-{prio}'>{prio}</span> "
                           f"{e(r.priority_reason)}</p></td><td>{quotes(r.evidence)}</td><td>{quotes(r.build_on)}</td>"
                           f"{fill}</tr>")
            out.append("</tbody></table></section>")
        if plan.also_found:
            out.append(f"<section><{sub}>Also found: weaknesses with no recommendation</{sub}><table><caption>"
                       f"Weaknesses the report raises that no recommendation addresses ({len(plan.also_found)} themes)"
                       "</caption><thead><tr><th scope='col'>No.</th><th scope='col'>Theme</th>"
                       "<th scope='col'>Priority</th><th scope='col'>Weaknesses</th><th scope='col'>Owner</th>"
                       "<th scope='col'>Due date</th><th scope='col'>RAG status</th></tr></thead><tbody>")
            for r in plan.also_found:
                out.append(f"<tr><th scope='row'>{r.number}</th><td>{e(_themes_text(r.themes))}</td>"
                           f"<td><span class='prio prio-{r.priority}'>{r.priority}</span>"
                           f"<p class='meta'>{e(r.priority_reason)}</p></td><td>{quotes(r.evidence)}</td>{fill}</tr>")
            out.append("</tbody></table></section>")
        if not plan.rows:
            out.append("<p>The report has no recommendations or weaknesses to plan for.</p>")
        out.append("</article>")
    out.append("</main><footer><p class='meta'>Prepared by ofsted-tagger. Report text: Ofsted, Crown copyright, "
               "reused under the Open Government Licence v3.0.</p></footer></body></html>")
    return "\n".join(out)


def render_docx(plans: Sequence[Plan]) -> bytes:
    """The plans as a Word document: landscape, title and report details, a table per priority, then also found."""
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    d = docx.Document()
    sec = d.sections[0]
    sec.orientation = WD_ORIENT.LANDSCAPE
    sec.page_width, sec.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Cm(1.6))
    d.styles["Normal"].font.name = "Arial"
    d.styles["Normal"].font.size = Pt(10)
    d.core_properties.title = _title(plans[0].meta) if plans else "Improvement plan"
    d.core_properties.author = "ofsted-tagger"

    def header_row(table) -> None:
        tr_pr = table.rows[0]._tr.get_or_add_trPr()
        flag = OxmlElement("w:tblHeader")  # repeat the header row on every page
        flag.set(qn("w:val"), "true")
        tr_pr.append(flag)
        for cell in table.rows[0].cells:
            for run in cell.paragraphs[0].runs:
                run.bold = True
            shading = OxmlElement("w:shd")
            shading.set(qn("w:val"), "clear")
            shading.set(qn("w:fill"), "E8E8E8")
            cell._tc.get_or_add_tcPr().append(shading)

    def quotes(cell, qs: Sequence[Quote]) -> None:
        cell.paragraphs[0].text = "" if qs else "None found."
        for n, q in enumerate(qs):
            p = cell.paragraphs[0] if n == 0 else cell.add_paragraph()
            p.add_run(f"“{xml_text(q.text)}”")
            where = ", ".join(x for x in (f"page {q.page}" if q.page else "", f"confidence {q.confidence:.2f}") if x)
            meta = p.add_run(f" ({where})")
            meta.font.size = Pt(8)
            meta.font.color.rgb = RGBColor(0x3D, 0x3D, 0x3D)
            if q.review:
                p.add_run(" CHECK").bold = True

    def table(headers: Sequence[str], widths: Sequence[float]):
        t = d.add_table(rows=1, cols=len(headers))
        t.style = "Table Grid"
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        t.autofit = False
        for cell, text in zip(t.rows[0].cells, headers):
            cell.text = text
        header_row(t)
        return t, widths

    def set_widths(t, widths) -> None:
        for row in t.rows:
            for cell, w in zip(row.cells, widths):
                cell.width = Cm(w)

    for k, plan in enumerate(plans):
        if k:
            d.add_page_break()
        d.add_heading(_title(plan.meta), level=0 if len(plans) == 1 else 1)
        for label, value in _about(plan.meta):
            p = d.add_paragraph()
            p.add_run(f"{label}: ").bold = True
            p.add_run(xml_text(value))
            p.paragraph_format.space_after = Pt(2)
        d.add_heading("How to read this plan", level=2)
        for line in _how_to_read(plan):
            d.add_paragraph(line, style="List Bullet")
        for prio, rows in _by_priority(plan.actions):
            d.add_heading(f"{prio} priority ({len(rows)} action{'s' if len(rows) != 1 else ''})", level=2)
            t, widths = table(["No.", "Theme", "Recommendation", "Evidence from the report (weaknesses)",
                               "Strengths to build on", "Owner", "Due date", "RAG status"],
                              [1.0, 2.8, 5.0, 7.0, 5.0, 2.2, 1.8, 1.6])
            for r in rows:
                cells = t.add_row().cells
                cells[0].text = str(r.number)
                cells[1].text = _themes_text(r.themes)
                cells[2].text = xml_text(r.recommendation)
                if r.review:
                    cells[2].paragraphs[0].add_run(" CHECK").bold = True
                why = cells[2].add_paragraph().add_run(xml_text(f"{prio} priority: {r.priority_reason}."))
                why.italic = True
                why.font.size = Pt(8)
                quotes(cells[3], r.evidence)
                quotes(cells[4], r.build_on)
            set_widths(t, widths)
        if plan.also_found:
            d.add_heading("Also found: weaknesses with no recommendation", level=2)
            t, widths = table(["No.", "Theme", "Priority", "Weaknesses in the report", "Action", "Owner", "Due date",
                               "RAG status"], [1.0, 2.8, 2.6, 9.4, 5.0, 2.2, 1.8, 1.6])
            for r in plan.also_found:
                cells = t.add_row().cells
                cells[0].text = str(r.number)
                cells[1].text = _themes_text(r.themes)
                cells[2].text = r.priority
                why = cells[2].add_paragraph().add_run(xml_text(r.priority_reason))
                why.italic = True
                why.font.size = Pt(8)
                quotes(cells[3], r.evidence)
            set_widths(t, widths)
        if not plan.rows:
            d.add_paragraph("The report has no recommendations or weaknesses to plan for.")
    foot = sec.footer.paragraphs[0]
    foot.text = ("Prepared by ofsted-tagger. Report text: Ofsted, Crown copyright, reused under the "
                 "Open Government Licence v3.0.")
    foot.runs[0].font.size = Pt(8)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


XLSX_COLUMNS = ("Report", "No.", "Row", "Priority", "Theme", "Recommendation", "Why this priority",
                "Evidence from the report (weaknesses)", "Strengths to build on", "Check", "Owner", "Due date",
                "RAG status")
EVIDENCE_COLUMNS = ("Report", "No.", "Role", "Theme", "Quote", "Page", "Confidence", "Similarity", "Check", "Link")


def render_xlsx(plans: Sequence[Plan], links: Mapping[str, str] | None = None) -> bytes:
    """The plans as a workbook: 'Action plan' (one row per action or also-found theme, with owner, due date
    and a Red/Amber/Green list to fill) and 'Evidence' (one row per quote, with page and a link to it)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "Action plan"
    append_row(ws, XLSX_COLUMNS)
    for plan in plans:
        for r in plan.rows:
            append_row(ws, [plan.meta.report, r.number, "Action" if r.kind == ACTION else "Also found", r.priority,
                       _themes_text(r.themes), r.recommendation or NO_RECOMMENDATION, r.priority_reason,
                       "\n".join(_quote_text(q) for q in r.evidence), "\n".join(_quote_text(q) for q in r.build_on),
                       "CHECK" if r.review or any(q.review for q in r.evidence) else "", None, None, None])
    widths = (22, 5, 11, 9, 24, 50, 30, 70, 50, 8, 16, 12, 11)
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = wrap
    head = PatternFill("solid", fgColor="E8E8E8")
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = head
        c.alignment = wrap
    ws.freeze_panes = "C2"
    last = max(ws.max_row, 2)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(XLSX_COLUMNS))}{last}"
    due = XLSX_COLUMNS.index("Due date") + 1
    rag = XLSX_COLUMNS.index("RAG status") + 1
    dv = DataValidation(type="list", formula1='"' + ",".join(RAG_CHOICES) + '"', allow_blank=True,
                        promptTitle="RAG status", prompt="Red, Amber or Green", showInputMessage=True)
    ws.add_data_validation(dv)
    dv.add(f"{get_column_letter(rag)}2:{get_column_letter(rag)}{last + 200}")
    dates = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True,
                           promptTitle="Due date", prompt="A date, e.g. 31/03/2026", showInputMessage=True)
    ws.add_data_validation(dates)
    dates.add(f"{get_column_letter(due)}2:{get_column_letter(due)}{last + 200}")
    for row in range(2, ws.max_row + 1):
        ws.cell(row=row, column=due).number_format = "DD/MM/YYYY"

    ev = wb.create_sheet("Evidence")
    append_row(ev, EVIDENCE_COLUMNS)
    for plan in plans:
        base = (links or {}).get(plan.meta.report)
        for r in plan.rows:
            roles = ([("weakness behind the action" if r.kind == ACTION else "also found", q) for q in r.evidence]
                     + [("strength to build on", q) for q in r.build_on])
            for role, q in roles:
                append_row(ev, [plan.meta.report, r.number, role, _themes_text(q.themes), q.text, q.page, q.confidence,
                           q.similarity, "CHECK" if q.review else "", None])
                if base and q.page:
                    cell = ev.cell(row=ev.max_row, column=len(EVIDENCE_COLUMNS))
                    cell.value = f"page {q.page}"
                    cell.hyperlink = f"{base}#page={q.page}"
                    cell.font = Font(color="1D4F91", underline="single")
    for i, w in enumerate((22, 5, 24, 24, 90, 6, 11, 10, 8, 10), start=1):
        ev.column_dimensions[get_column_letter(i)].width = w
    for row in ev.iter_rows(min_row=2):
        row[EVIDENCE_COLUMNS.index("Quote")].alignment = wrap
    for c in ev[1]:
        c.font = Font(bold=True)
        c.fill = head
    ev.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render_plans(plans: Sequence[Plan], fmt: str, links: Mapping[str, str] | None = None) -> bytes:
    """The plans in ``fmt`` (one of PLAN_FORMATS); ``links`` maps a report to the href of its PDF."""
    if fmt == "docx":
        return render_docx(plans)
    if fmt == "xlsx":
        return render_xlsx(plans, links)
    if fmt == "html":
        return render_html(plans, links).encode("utf-8")
    if fmt == "md":
        return render_markdown(plans, links).encode("utf-8")
    if fmt == "json":
        return (json.dumps([plan_dict(p) for p in plans], ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    raise UserError(f"unknown plan format '{fmt}'; use one of {', '.join(PLAN_FORMATS)}.")


def plan_format(output: str, fmt: str | None = None) -> str:
    """The format to write: ``fmt`` if given, else the output's suffix (.markdown counts as md)."""
    chosen = (fmt or Path(output).suffix.lstrip(".")).lower()
    chosen = {"markdown": "md", "htm": "html"}.get(chosen, chosen)
    if chosen not in PLAN_FORMATS:
        raise UserError(f"{output}: unknown plan format '{chosen or '(no suffix)'}'; name the file .docx, .xlsx, "
                        ".html or .md, or pass --format.")
    return chosen


def write_plans(plans: Sequence[Plan], output: str | Path, fmt: str) -> None:
    """Write the plans to ``output`` atomically (never half-written); quotes link to the PDFs' pages
    relative to the output's folder."""
    from pipeline.report import pdf_href

    out = check_output_file(output)
    links = {p.meta.report: pdf_href(p.meta.source, out.parent) for p in plans if p.meta.source}
    data = render_plans(plans, fmt, links)
    with atomic_write(out, "wb", encoding=None) as fh:
        fh.write(data)
