"""Report: tagged records written out — JSONL and CSV for programs, xlsx and HTML for people.

:func:`write_records` writes JSONL or CSV to a file (atomically) or a stream, with
columns from :mod:`pipeline.schema`; :func:`write_xlsx` a workbook of sentences and
summaries; :func:`write_html` a self-contained page.  The HTML page colours each sentence by type, shows theme chips and evidence
words on hover, and ends each report with its summary table and a bar chart of
strengths, weaknesses and recommendations per theme (inline SVG: no scripts,
no network, opens anywhere).  Where a report's PDF is known (``pdfs``: report ->
path), each sentence links to its page (``file.pdf#page=N``, :func:`pdf_href`), and
a page marker stands where a new page begins.

What reaches a person is made safe here, for every writer (``analyse`` and ``plan`` use the
same helpers): :func:`esc` is the one HTML escape (every value put in a page or attribute
goes through it); :func:`csv_cell` prefixes a text cell that a spreadsheet would run as a
formula (starting ``= + - @``, tab or carriage return) with ``'``; :func:`write_tables_xlsx`
writes such cells as text, never formulas, and strips the control characters XML cannot
hold (which made openpyxl fail and lose every row).
"""

from __future__ import annotations

import csv
import html
import json
import os
import sys
import urllib.parse
from pathlib import Path
from typing import IO, Any, Iterable, Mapping, Sequence

from pipeline.errors import atomic_write
from pipeline.schema import THEME_NAMES, THEMES, TYPES, flat_columns, flat_record
from pipeline.summary import Summary, group_by_report

TYPE_COLOURS = {"strength": "#d7f0d2", "weakness": "#f9d6d5", "recommendation": "#fdebc8", "neutral": "#eeeeee"}
BAR_COLOURS = {"strength": "#3c9a3c", "weakness": "#c9423f", "recommendation": "#e0a030"}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def esc(value: Any) -> str:
    """The one HTML escape: any value as text safe in an element or a quoted attribute ('' for None)."""
    return "" if value is None else html.escape(str(value), quote=True)


def csv_cell(value: Any) -> Any:
    """A CSV value that a spreadsheet shows as text: ``'`` before a string starting ``= + - @`` (or tab, CR)."""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _xlsx_cell(ws: Any, value: Any) -> Any:
    """An openpyxl cell holding ``value``: strings without XML-illegal characters and always as text."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell

    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = Cell(ws, value=value)
    if cell.data_type == "f":  # openpyxl takes a string starting '=' for a formula
        cell.data_type = "s"
    return cell


def xml_text(value: Any) -> str:
    """Text an XML document (xlsx, docx) can hold: the control characters XML forbids removed."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", "" if value is None else str(value))


def append_row(ws: Any, values: Iterable[Any]) -> None:
    """One worksheet row, every value through the xlsx cell rules above."""
    ws.append([_xlsx_cell(ws, v) for v in values])


def write_tables_xlsx(tables: dict[str, Sequence[dict[str, Any]]], path: Path | str,
                      columns: dict[str, Sequence[str]] | None = None) -> None:
    """A workbook with one sheet per table (rows as dicts; columns from the first row, or ``columns[name]``
    for a table that may be empty), written atomically."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in tables.items():
        ws = wb.create_sheet(name[:31])
        header = list(rows[0]) if rows else list((columns or {}).get(name, []))
        append_row(ws, header)
        for c in ws[1]:
            c.font = Font(bold=True)
        for r in rows:
            append_row(ws, [r.get(h) for h in header])
    with atomic_write(path, "wb", encoding=None) as fh:
        wb.save(fh)


def pdf_href(source: str | Path, from_dir: Path | None = None) -> str:
    """A link to a PDF from a page written in ``from_dir``: relative when it can be, else a file: URI."""
    path = Path(source).resolve()
    if from_dir is not None:
        try:
            return urllib.parse.quote(Path(os.path.relpath(path, Path(from_dir).resolve())).as_posix())
        except ValueError:  # another drive (Windows)
            pass
    return path.as_uri()


def _dump(records: Sequence[dict[str, Any]], fmt: str, fields: Sequence[str], fh: IO[str]) -> None:
    if fmt == "jsonl":
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    else:
        w = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in records:
            w.writerow({k: csv_cell(v) for k, v in r.items()})


def write_records(records: Sequence[dict[str, Any]], fmt: str, output: str | Path | None,
                  fields: Sequence[str] = ()) -> None:
    """Records as ``jsonl`` (as they are) or ``csv`` (``fields`` as columns, lists ';'-joined, cells a
    spreadsheet would run as formulas prefixed with ``'``), to a file written atomically, or to
    stdout when ``output`` is None or '-'."""
    if output is not None and str(output) != "-":
        with atomic_write(output) as fh:
            _dump(records, fmt, fields, fh)
    else:
        _dump(records, fmt, fields, sys.stdout)
        sys.stdout.flush()


def write_tagged_csv(records: Sequence[dict[str, Any]], output: str | Path | None) -> None:
    """Tagged records as flat CSV rows (scores in p_<label> columns)."""
    write_records([flat_record(r) for r in records], "csv", output, flat_columns())


def write_xlsx(records: Sequence[dict[str, Any]], summaries: Sequence[Summary], path: Path) -> None:
    """Sheets: 'sentences' (one row per sentence) and 'summary' (per report x theme x type)."""
    from openpyxl import Workbook  # lazy: openpyxl is needed only for xlsx output
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "sentences"
    rows = [flat_record(r) for r in records]
    header = flat_columns()
    append_row(ws, header)
    for c in ws[1]:
        c.font = Font(bold=True)
    for r in rows:
        append_row(ws, [r[h] for h in header])
        fill = TYPE_COLOURS.get(r["type"], "#ffffff").lstrip("#")
        ws.cell(row=ws.max_row, column=header.index("type") + 1).fill = PatternFill("solid", fgColor=fill)
    ws.freeze_panes = "A2"
    ws.column_dimensions["E"].width = 90
    ss = wb.create_sheet("summary")
    append_row(ss, ["report", "theme", "theme name", *TYPES])
    for c in ss[1]:
        c.font = Font(bold=True)
    for s in summaries:
        append_row(ss, [s.report, "(all)", "All sentences", *[s.by_type[t] for t in TYPES]])
        for th in THEMES:
            append_row(ss, [s.report, th, THEME_NAMES[th], *[s.by_theme[th][t] for t in TYPES]])
    with atomic_write(path, "wb", encoding=None) as fh:
        wb.save(fh)


def _bar_chart(s: Summary) -> str:
    """Horizontal stacked bars per theme: strengths, weaknesses, recommendations (SVG)."""
    themes = [th for th in THEMES if any(s.by_theme[th][t] for t in BAR_COLOURS)]
    if not themes:
        return ""
    top = max(sum(s.by_theme[th][t] for t in BAR_COLOURS) for th in themes)
    scale = 380 / max(1, top)
    row_h, left = 20, 210
    parts = [f'<svg class="chart" width="{left + 420}" height="{row_h * len(themes) + 30}" role="img" '
             f'aria-label="Bar chart of strengths, weaknesses and recommendations by theme; the figures are in '
             f'the table above">']
    for i, th in enumerate(themes):
        y = 10 + i * row_h
        name = esc(THEME_NAMES.get(th, th))
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{name}</text>')
        x = left
        for t, colour in BAR_COLOURS.items():
            n = s.by_theme[th][t]
            if n:
                w = n * scale
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 4}" fill="{colour}">'
                             f"<title>{name}: {esc(n)} {esc(t)}</title></rect>")
                if w >= 16:  # the count written on the bar: the colour is not the only cue
                    parts.append(f'<text x="{x + w / 2:.1f}" y="{y + 12}" text-anchor="middle" class="n">{esc(n)}</text>')
                x += w
    legend_y = 10 + len(themes) * row_h + 12
    lx = left
    for t, colour in BAR_COLOURS.items():
        parts.append(f'<rect x="{lx}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{legend_y}">{esc(t)}</text>')
        lx += 120
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{margin-top:2em;border-bottom:1px solid #ccc} h3{font-size:1em;color:#555;margin:1.2em 0 .3em}
.s{padding:2px 4px;border-radius:3px;line-height:1.9}
.strength{background:#d7f0d2}.weakness{background:#f9d6d5}.recommendation{background:#fdebc8}.neutral{background:#f3f3f3;color:#555}
.t{font-size:.7em;font-weight:bold;text-transform:uppercase;letter-spacing:.04em;padding:0 4px;margin-left:3px;border:1px solid;border-radius:3px}
.t.strength{color:#1e5e1e}.t.weakness{color:#8a1f1c}.t.recommendation{color:#6b4500}
.chip{display:inline-block;font-size:.72em;padding:0 6px;margin-left:3px;border-radius:9px;background:#e3e8f4;color:#234}
.legend span{margin-right:1em} a.src{color:inherit;text-decoration:none} a.src:hover,a.src:focus{text-decoration:underline}
.pg{font-size:.75em;color:#505a5f;margin:0 .3em} table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left} th[scope=row]{font-weight:normal} .chart text{font-size:12px} .chart text.n{font-size:10px}
"""


def type_label(t: str) -> str:
    """The type written beside a sentence (neutral sentences carry none): colour is never the only cue."""
    return "" if t == "neutral" else f"<span class='t {esc(t)}'>{esc(t)}</span>"


def render_html(records: Sequence[dict[str, Any]], summaries: Sequence[Summary], title: str = "Tagged reports",
                links: Mapping[str, str] | None = None) -> str:
    """The page; ``links`` maps a report to the href of its PDF, so sentences link to their page."""
    by_report = group_by_report(records)
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
           f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
           f"<style>{_CSS}</style></head><body><main><h1>{esc(title)}</h1>",
           "<p class='legend'>Each sentence is shaded and labelled by its type: "
           + "".join(f"<span class='s {esc(t)}'>sentence{type_label(t)}</span> " for t in TYPES[:3])
           + "<span class='s neutral'>neutral (no label)</span>. Theme names follow in blue.</p>"]
    for s in summaries:
        rows = by_report.get(s.report, [])
        out.append(f"<section class='report' id='{esc(s.report)}'><h2>{esc(s.report)}</h2>")
        section = None
        base = (links or {}).get(s.report)
        page = None
        for r in rows:
            if r["section"] != section:
                section = r["section"]
                if section:
                    out.append(f"<h3>{esc(section)}</h3>")
            text = esc(r["text"])
            if r.get("page") and r["page"] != page:
                page = r["page"]
                out.append(f"<span class='pg'>[page {esc(page)}]</span>")
            if base and r.get("page"):
                text = f"<a class='src' href='{esc(base)}#page={esc(r['page'])}'>{text}</a>"
            tip = (f"{r['type']} {float(r['confidence']):.2f}" + (f", page {r['page']}" if r.get("page") else "")
                   + (f" — evidence: {', '.join(map(str, r['evidence']))}" if r["evidence"] else ""))
            chips = "".join(f"<span class='chip'>{esc(THEME_NAMES.get(t, t))}</span>" for t in r["themes"])
            out.append(f"<span class='s {esc(r['type'])}' data-type='{esc(r['type'])}' title='{esc(tip)}'>"
                       f"{text}{type_label(r['type'])}</span>{chips} ")
        out.append("<h3>Summary</h3><table><tr><th scope='col'>theme</th>"
                   + "".join(f"<th scope='col'>{esc(t)}</th>" for t in TYPES) + "</tr>")
        out.append("<tr><th scope='row'><b>All sentences</b></th>" + "".join(f"<td>{esc(s.by_type[t])}</td>" for t in TYPES)
                   + "</tr>")
        for th in THEMES:
            c = s.by_theme[th]
            if any(c.values()):
                out.append(f"<tr><th scope='row'>{esc(THEME_NAMES[th])}</th>"
                           + "".join(f"<td>{esc(c[t])}</td>" for t in TYPES) + "</tr>")
        out.append("</table>" + _bar_chart(s) + "</section>")
    out.append("</main><footer><p>Tagged by ofsted-tagger. Report text: Ofsted, Crown copyright, "
               "reused under the Open Government Licence v3.0.</p></footer></body></html>")
    return "\n".join(out)


def write_html(records: Sequence[dict[str, Any]], summaries: Sequence[Summary], path: Path,
               pdfs: Mapping[str, str | Path] | None = None) -> None:
    """The page, written atomically; ``pdfs`` (report -> PDF path) links sentences to their pages."""
    links = {rep: pdf_href(src, Path(path).parent) for rep, src in (pdfs or {}).items()}
    with atomic_write(path) as fh:
        fh.write(render_html(records, summaries, links=links))


def write_output(records: Sequence[dict[str, Any]], summaries: Sequence[Summary], fmt: str,
                 output: str | Path | None, pdfs: Mapping[str, str | Path] | None = None) -> None:
    """``predict``'s output: jsonl or csv (to a file or stdout), xlsx or html (to a file)."""
    if fmt == "xlsx":
        write_xlsx(records, summaries, Path(output))
    elif fmt == "html":
        write_html(records, summaries, Path(output), pdfs)
    elif fmt == "csv":
        write_tagged_csv(records, output)
    else:
        write_records(records, "jsonl", output)
