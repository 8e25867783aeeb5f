"""Track: recurring weaknesses across a council's inspections and visits.

Pure functions over tagged records (dicts shaped by :data:`pipeline.schema.RECORD`) and
report metadata (:class:`pipeline.data.ReportMeta`); the writers are at the end.

- :func:`report_kind` says what a report is (full inspection, re-inspection, focused or
  monitoring visit...) from its title and first lines.
- :func:`track_councils` puts each council's reports in date order and, theme by theme,
  compares every report with the one before it. A *concern* is a sentence of a type in
  ``track.types`` (weaknesses, and by default recommendations: "which recommendations
  repeat without being fixed") at or above ``track.min_confidence``. A concern of the
  later report is paired with the most similar concern on the same theme in the earlier
  report (TF-IDF cosine over words, fitted on every concern and strength of the input);
  at ``track.similarity_threshold`` or above it is **recurring** (both quotes kept side by
  side), below it **new**. A concern of the earlier report that no later concern pairs
  with is **resolved**, shown with the strengths on its theme in the later report and the
  number of strengths on that theme since. Every concern of a council's first report in
  the input is new.
- :func:`national_rollup`: per theme, how many councils have a recurring concern on it,
  which, how many pairs, and the share of concerns raised again at the next report.
- :func:`render_track_html`, :func:`write_track`: a self-contained page, a workbook or CSV.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from pipeline.config import TrackParams
from pipeline.data import ReportMeta
from pipeline.errors import UserError, atomic_write, check_output_file
from pipeline.report import csv_cell, esc, write_tables_xlsx
from pipeline.schema import THEME_NAMES, THEMES
from pipeline.summary import group_by_report

# What a report is, from its title and first lines: the first pattern found wins.
REPORT_KINDS: tuple[tuple[str, str], ...] = (
    ("focused visit", r"focused visit"),
    ("monitoring visit", r"monitoring visit"),
    ("joint targeted area inspection", r"joint targeted area inspection"),
    ("re-inspection", r"re-?inspection"),
    ("looked after children inspection", r"inspection of (?:services for )?looked after children"),
)
FULL_INSPECTION = "full inspection"
_KIND_RES = tuple((k, re.compile(p, re.I)) for k, p in REPORT_KINDS)
# how much of the report's start is read for its kind (later text mentions earlier visits)
_KIND_HEAD_CHARS = 400

STATUSES = ("recurring", "new", "resolved")


def report_kind(title: str, records: Sequence[dict[str, Any]] = ()) -> str:
    """'full inspection', 're-inspection', 'focused visit', 'monitoring visit', ... from the title and first lines."""
    head = (title + " " + " ".join(r["text"] for r in records[:8]))[:_KIND_HEAD_CHARS]
    return next((k for k, rx in _KIND_RES if rx.search(head)), FULL_INSPECTION)


# --------------------------------------------------------------------------- #
# The typed surface
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Visit:
    """One report of a council: an inspection or a visit."""

    report: str
    council: str
    date: str
    kind: str


@dataclass(frozen=True)
class Quote:
    """A sentence of a report, as quoted evidence."""

    report: str
    date: str
    index: int
    type: str
    text: str
    confidence: float


@dataclass(frozen=True)
class Pair:
    """A concern raised at one report (``earlier``) and raised again at the next (``later``)."""

    earlier: Quote
    later: Quote
    similarity: float


@dataclass(frozen=True)
class ThemeStep:
    """One theme at one report, against the council's report before it (None for its first)."""

    theme: str
    report: str
    previous: str | None
    recurring: tuple[Pair, ...] = ()
    new: tuple[Quote, ...] = ()
    resolved: tuple[Quote, ...] = ()  # concerns of the previous report not raised again here
    strengths: tuple[Quote, ...] = ()  # strengths on the theme in this report, most confident first
    strengths_since: int = 0  # strengths on the theme in this report and every later one

    @property
    def status(self) -> str:
        """The headline: recurring if anything recurs, else new, else resolved, else ''."""
        return "recurring" if self.recurring else "new" if self.new else "resolved" if self.resolved else ""

    def counts(self) -> dict[str, int]:
        return {"recurring": len(self.recurring), "new": len(self.new), "resolved": len(self.resolved)}


@dataclass(frozen=True)
class CouncilTrack:
    """A council's reports in date order and, per report, its themes' steps."""

    council: str
    visits: tuple[Visit, ...]
    steps: dict[str, dict[str, ThemeStep]] = field(default_factory=dict)  # report -> theme -> step

    def pairs(self) -> list[tuple[str, Pair]]:
        """(theme, pair) for every recurring concern, in date order."""
        return [(th, p) for v in self.visits for th, st in self.steps[v.report].items() for p in st.recurring]


@dataclass(frozen=True)
class ThemeRollup:
    """One theme nationally: where its concerns recur."""

    theme: str
    councils: tuple[str, ...]  # councils with a recurring concern on the theme
    pairs: int  # recurring pairs
    raised: int  # concerns in a report that has a later one
    raised_again: int  # of those, concerns paired at the next report

    @property
    def recurrence(self) -> float | None:
        return round(self.raised_again / self.raised, 4) if self.raised else None


@dataclass(frozen=True)
class Tracking:
    """What ``track`` found: each council's track and the national roll-up."""

    councils: tuple[CouncilTrack, ...]
    rollup: tuple[ThemeRollup, ...]
    threshold: float


# --------------------------------------------------------------------------- #
# Pure functions
# --------------------------------------------------------------------------- #
def _quote(r: dict[str, Any], date: str) -> Quote:
    return Quote(r["report"], date, int(r["index"]), r["type"], r["text"], round(float(r["confidence"]), 4))


def _sort_key(v: Visit) -> tuple[str, str]:
    return (v.date or "9999", v.report)


def visits_of(records: Sequence[dict[str, Any]], metas: dict[str, ReportMeta]) -> dict[str, list[Visit]]:
    """Councils -> their reports in date order (undated reports last)."""
    out: dict[str, list[Visit]] = {}
    for rep in group_by_report(records):
        m = metas.get(rep) or ReportMeta(rep)
        out.setdefault(m.council or rep, []).append(Visit(rep, m.council or rep, m.date, m.kind or FULL_INSPECTION))
    return {c: sorted(vs, key=_sort_key) for c, vs in sorted(out.items())}


class _Similarity:
    """TF-IDF cosine between sentences, fitted once on every text it may be asked about."""

    def __init__(self, texts: Iterable[str], ngram_max: int, names: Iterable[str] = ()):
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer  # lazy: only tracking

        self.texts = sorted(set(texts))
        self.row = {t: i for i, t in enumerate(self.texts)}
        # a council's own name is in all its reports: it is no evidence that two sentences say the same
        stop = ENGLISH_STOP_WORDS | {w for n in names for w in re.findall(r"[a-z]{2,}", n.lower())}
        self.vec = TfidfVectorizer(stop_words=sorted(stop), ngram_range=(1, ngram_max), sublinear_tf=True,
                                   token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
        self.m = self.vec.fit_transform(self.texts) if self.texts else None

    def matrix(self, later: Sequence[str], earlier: Sequence[str]):
        """Cosine similarity, rows ``later``, columns ``earlier`` (TF-IDF rows are L2-normalised)."""
        a = self.m[[self.row[t] for t in later]]
        b = self.m[[self.row[t] for t in earlier]]
        return (a @ b.T).toarray()


def _by_theme(recs: Sequence[dict[str, Any]], types: Sequence[str], min_conf: float) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {th: [] for th in THEMES}
    for r in recs:
        if r["type"] in types and float(r["confidence"]) >= min_conf:
            for th in r["themes"]:
                out[th].append(r)
    return out


def track_councils(records: Sequence[dict[str, Any]], metas: dict[str, ReportMeta], params: TrackParams,
                   council: str | None = None) -> Tracking:
    """Every council's reports in date order, and per report and theme its recurring, new and resolved
    concerns (see the module's docstring). ``council``: keep only the councils with this name."""
    by_report = group_by_report(records)
    visits = visits_of(records, metas)
    if council is not None:
        visits = {c: v for c, v in visits.items() if c == council}
    types = tuple(params.types)
    concerns = {rep: _by_theme(recs, types, params.min_confidence) for rep, recs in by_report.items()}
    strengths = {rep: _by_theme(recs, ("strength",), params.min_confidence) for rep, recs in by_report.items()}
    texts = [r["text"] for rep in concerns for th in THEMES for r in concerns[rep][th]]
    sim = _Similarity(texts, params.ngram_max, visits)
    tracks = []
    for name, vs in visits.items():
        steps: dict[str, dict[str, ThemeStep]] = {}
        for i, v in enumerate(vs):
            prev = vs[i - 1] if i else None
            steps[v.report] = {}
            for th in THEMES:
                later = concerns[v.report][th]
                earlier = concerns[prev.report][th] if prev else []
                pairs, new, paired_earlier = [], [], set()
                if later and earlier:
                    s = sim.matrix([r["text"] for r in later], [r["text"] for r in earlier])
                    for j, r in enumerate(later):
                        k = int(s[j].argmax())
                        if s[j, k] >= params.similarity_threshold:
                            pairs.append(Pair(_quote(earlier[k], prev.date), _quote(r, v.date), round(float(s[j, k]), 4)))
                            paired_earlier.add(k)
                        else:
                            new.append(_quote(r, v.date))
                else:
                    new = [_quote(r, v.date) for r in later]
                resolved = [_quote(r, prev.date) for k, r in enumerate(earlier) if k not in paired_earlier]
                st = sorted(strengths[v.report][th], key=lambda r: -float(r["confidence"]))
                since = sum(len(strengths[w.report][th]) for w in vs[i:])
                if pairs or new or resolved or st:
                    steps[v.report][th] = ThemeStep(th, v.report, prev.report if prev else None, tuple(pairs),
                                                    tuple(new), tuple(resolved),
                                                    tuple(_quote(r, v.date) for r in st[:params.max_quotes]), since)
        tracks.append(CouncilTrack(name, tuple(vs), steps))
    return Tracking(tuple(tracks), tuple(national_rollup(tracks)), params.similarity_threshold)


def national_rollup(tracks: Sequence[CouncilTrack]) -> list[ThemeRollup]:
    """Per theme: councils with a recurring concern, pairs, and the share of concerns raised again at the
    next report; themes that recur in most councils first."""
    out = []
    for th in THEMES:
        councils, pairs, raised, again = [], 0, 0, 0
        for t in tracks:
            n = sum(len(t.steps[v.report][th].recurring) for v in t.visits if th in t.steps[v.report])
            if n:
                councils.append(t.council)
                pairs += n
            for v, nxt in zip(t.visits, t.visits[1:]):
                here = t.steps[v.report].get(th)
                there = t.steps[nxt.report].get(th)
                raised += len(here.recurring) + len(here.new) if here else 0
                again += len({p.earlier.index for p in there.recurring}) if there else 0
        out.append(ThemeRollup(th, tuple(councils), pairs, raised, again))
    return sorted(out, key=lambda r: (-len(r.councils), -r.pairs, THEMES.index(r.theme)))


# --------------------------------------------------------------------------- #
# Tables (the rows of the CSV and workbook, and of analyse's summary.xlsx)
# --------------------------------------------------------------------------- #
def rollup_rows(tracking: Tracking) -> list[dict[str, Any]]:
    return [{"theme": r.theme, "theme_name": THEME_NAMES[r.theme], "councils_recurring": len(r.councils),
             "recurring_pairs": r.pairs, "concerns_with_a_later_report": r.raised,
             "raised_again_at_next_report": r.raised_again, "recurrence_rate": r.recurrence,
             "councils": "; ".join(r.councils)} for r in tracking.rollup]


def concern_rows(tracking: Tracking) -> list[dict[str, Any]]:
    """One row per concern and step: recurring (both quotes), new, or resolved (with a strength since)."""
    rows = []
    for t in tracking.councils:
        kinds = {v.report: v.kind for v in t.visits}
        for v in t.visits:
            for th, st in t.steps[v.report].items():
                base = {"council": t.council, "report": v.report, "date": v.date, "kind": kinds[v.report],
                        "previous_report": st.previous or "", "theme": th, "theme_name": THEME_NAMES[th]}
                for p in st.recurring:
                    rows.append({**base, "status": "recurring", "earlier": p.earlier.text, "earlier_type": p.earlier.type,
                                 "later": p.later.text, "later_type": p.later.type, "similarity": p.similarity,
                                 "strength_since": ""})
                for q in st.new:
                    rows.append({**base, "status": "new", "earlier": "", "earlier_type": "", "later": q.text,
                                 "later_type": q.type, "similarity": None, "strength_since": ""})
                for q in st.resolved:
                    rows.append({**base, "status": "resolved", "earlier": q.text, "earlier_type": q.type, "later": "",
                                 "later_type": "", "similarity": None,
                                 "strength_since": st.strengths[0].text if st.strengths else ""})
    return rows


CONCERN_COLUMNS = ("council", "report", "date", "kind", "previous_report", "theme", "theme_name", "status",
                   "earlier_type", "earlier", "later_type", "later", "similarity", "strength_since")


def track_text(tracking: Tracking) -> str:
    """The terminal summary: each council's reports (with counts of distinct sentences), then the national roll-up."""
    lines = []
    for t in tracking.councils:
        lines.append(f"{t.council}: " + ", ".join(f"{v.date or '?'} {v.kind}" for v in t.visits))
        for v in t.visits[1:]:
            steps = t.steps[v.report].values()
            c = {"recurring": len({p.later.index for st in steps for p in st.recurring}),
                 "new": len({q.index for st in steps for q in st.new}),
                 "resolved": len({q.index for st in steps for q in st.resolved})}
            rec = sorted({THEME_NAMES[th] for th, st in t.steps[v.report].items() if st.recurring})
            lines.append(f"  {v.date or '?'}: {c['recurring']} recurring, {c['new']} new, {c['resolved']} resolved"
                         + (f" — recurring: {', '.join(rec)}" if rec else ""))
    lines.append("themes that recur most (councils with a recurring concern, pairs, share raised again):")
    for r in tracking.rollup:
        if r.pairs:
            rate = "n/a" if r.recurrence is None else f"{r.recurrence:.0%}"
            lines.append(f"  {THEME_NAMES[r.theme]:36s} {len(r.councils):4d} {r.pairs:5d}  {rate:>4s}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# HTML (also the section of analyse's dashboard)
# --------------------------------------------------------------------------- #
TRACK_CSS = """
.track table{border-collapse:collapse;margin:.6em 0}.track td,.track th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}.track .quote{max-width:32em}.track .st{font-weight:bold}
.track .st-recurring{background:#f9d6d5}.track .st-new{background:#fdebc8}.track .st-resolved{background:#d7f0d2}
.track details{margin:.4em 0}.track summary{cursor:pointer;font-weight:bold}
"""


def _q(q: Quote) -> str:
    return f"<span class='quote'>{esc(q.text)}</span> <small>({esc(q.type)}, {q.confidence:.2f})</small>"


def _cell(st: ThemeStep | None) -> str:
    if st is None or not st.status:
        return "<td></td>"
    c = st.counts()
    words = ", ".join(f"{c[s]} {s}" for s in STATUSES if c[s])
    return f"<td class='st-{st.status}'>{words}</td>"


def council_html(t: CouncilTrack, h: int = 3, resolved_quotes: bool = True) -> str:
    """One council: its reports, a theme x report grid of statuses, then the recurring concerns side by side
    and (with ``resolved_quotes``) the resolved ones."""
    vs = t.visits
    head = "".join(f"<th scope='col'>{esc(v.date or '?')}<br><small>{esc(v.kind)}</small></th>"
                   for v in vs)
    rows = []
    for th in THEMES:
        cells = [t.steps[v.report].get(th) for v in vs]
        if any(c is not None and c.status for c in cells):
            rows.append(f"<tr><th scope='row'>{esc(THEME_NAMES[th])}</th>{''.join(map(_cell, cells))}</tr>")
    steps = []
    for prev, v in zip(vs, vs[1:]):
        here = [(th, st) for th, st in t.steps[v.report].items() if st.recurring or st.resolved]
        if not here:
            continue
        recurring = "".join(
            f"<tr><th scope='row'>{esc(THEME_NAMES[th])}</th><td>{_q(p.earlier)}</td><td>{_q(p.later)}</td>"
            f"<td>{p.similarity:.2f}</td></tr>" for th, st in here for p in st.recurring)
        resolved = "".join(
            f"<tr><th scope='row'>{esc(THEME_NAMES[th])}</th><td>{_q(q)}</td><td>"
            + (f"strength at {esc(v.date or v.report)}: {esc(st.strengths[0].text)}"
               if st.strengths else "not raised again; no strength on this theme")
            + f" <small>({st.strengths_since} strengths on this theme since)</small></td></tr>"
            for th, st in here for q in st.resolved)
        n_rec = sum(len(st.recurring) for _, st in here)
        n_res = sum(len(st.resolved) for _, st in here)
        span = f"{esc(prev.date or prev.report)} &rarr; {esc(v.date or v.report)}"
        part = [f"<h{h + 1}>{span}: {n_rec} recurring, {n_res} resolved</h{h + 1}>"]
        if recurring:
            part.append(f"<table><caption>Raised at {esc(prev.report)} and raised again at "
                        f"{esc(v.report)}</caption><tr><th scope='col'>theme</th><th scope='col'>earlier "
                        "report</th><th scope='col'>later report</th><th scope='col'>similarity</th></tr>"
                        f"{recurring}</table>")
        if resolved and resolved_quotes:
            part.append(f"<details><summary>{n_res} concerns of {esc(prev.report)} not raised again at "
                        f"{esc(v.report)} (resolved), with a strength on the theme since</summary><table>"
                        f"<caption>Resolved concerns</caption><tr><th scope='col'>theme</th><th scope='col'>concern"
                        f"</th><th scope='col'>since</th></tr>{resolved}</table></details>")
        steps.append("".join(part))
    grid = (f"<table><caption>Concerns per theme at each report, against the report before (sentences "
            f"with several themes count once per theme)</caption>"
            f"<tr><th scope='col'>theme</th>{head}</tr>{''.join(rows)}</table>") if rows else "<p>No concerns.</p>"
    return f"<h{h}>{esc(t.council)}</h{h}>{grid}{''.join(steps)}"


def rollup_html(tracking: Tracking) -> str:
    rows = "".join(
        f"<tr><th scope='row'>{esc(THEME_NAMES[r.theme])}</th><td>{len(r.councils)}</td><td>{r.pairs}</td>"
        f"<td>{'' if r.recurrence is None else f'{r.recurrence:.0%}'}</td>"
        f"<td>{esc(', '.join(r.councils))}</td></tr>" for r in tracking.rollup)
    return ("<table><caption>Themes whose concerns recur most</caption><tr><th scope='col'>theme</th>"
            "<th scope='col'>councils with a recurring concern</th><th scope='col'>recurring pairs</th>"
            "<th scope='col'>share raised again at the next report</th><th scope='col'>councils</th></tr>"
            f"{rows}</table>")


def track_section(tracking: Tracking, h: int = 2, resolved_quotes: bool = True) -> str:
    """The roll-up and each council with two or more reports (councils in collapsible blocks); without
    ``resolved_quotes`` resolved concerns are counted but not quoted (the archive's dashboard: they are in
    its workbook)."""
    multi = [t for t in tracking.councils if len(t.visits) > 1]
    blocks = "".join(f"<details><summary>{esc(t.council)} ({len(t.visits)} reports)</summary>"
                     f"{council_html(t, h + 1, resolved_quotes)}</details>" for t in multi)
    where = "" if resolved_quotes else (" Resolved concerns are quoted in summary.xlsx (sheet 'recurring concerns') "
                                        "and by <code>ofsted-tagger track -o</code>.")
    return (f"<div class='track'><p>A concern (a weakness or recommendation) is <b>recurring</b> when the next report "
            f"raises it again (TF-IDF cosine similarity of at least {tracking.threshold:.2f} with a concern on the same "
            "theme), <b>new</b> when the report before did not, and <b>resolved</b> when the next report does not "
            f"raise it again.{where}</p>"
            f"<h{h + 1}>National roll-up</h{h + 1}>{rollup_html(tracking)}"
            f"<h{h + 1}>Councils with several reports</h{h + 1}>"
            f"{blocks or '<p>No council has two reports in this input.</p>'}</div>")


def render_track_html(tracking: Tracking) -> str:
    if len(tracking.councils) == 1:
        body = track_section(tracking, 1).replace("<details>", "<details open>", 1)
        title = f"Recurring weaknesses: {tracking.councils[0].council}"
    else:
        body = track_section(tracking, 1)
        title = "Recurring weaknesses"
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;"
            f"color:#222}}{TRACK_CSS}</style></head><body><main><h1>{esc(title)}</h1>{body}</main>"
            "<footer><p>Report texts: Ofsted, Crown copyright, Open Government Licence v3.0.</p></footer>"
            "</body></html>")


# --------------------------------------------------------------------------- #
# Writers (I/O at the edge)
# --------------------------------------------------------------------------- #
TRACK_FORMATS = ("html", "xlsx", "csv")


def write_track(tracking: Tracking, output: Path) -> None:
    """``track -o``: an HTML page, a workbook (concerns, roll-up) or a CSV of concerns, written atomically."""
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in TRACK_FORMATS:
        raise UserError(f"{output}: unknown output format '{fmt}'; give a .html, .xlsx or .csv file.")
    check_output_file(output)
    if fmt == "html":
        with atomic_write(output) as fh:
            fh.write(render_track_html(tracking))
    elif fmt == "csv":
        with atomic_write(output) as fh:
            w = csv.DictWriter(fh, fieldnames=list(CONCERN_COLUMNS), lineterminator="\n")
            w.writeheader()
            w.writerows({k: csv_cell(v) for k, v in r.items()} for r in concern_rows(tracking))
    else:
        write_tables_xlsx({"concerns": [{c: r.get(c) for c in CONCERN_COLUMNS} for r in concern_rows(tracking)],
                           "themes nationally": rollup_rows(tracking)},
                          output, columns={"concerns": CONCERN_COLUMNS})
