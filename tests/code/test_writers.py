"""pipeline.report's writers: JSONL, CSV, XLSX and HTML written and read back."""

from __future__ import annotations

import csv
import json
import re

import openpyxl
import pytest

from pipeline.report import render_html, write_output, write_records, write_tagged_csv, write_xlsx
from pipeline.predict import tag_sentences
from pipeline.schema import RECORD, SENTENCE_FIELDS, THEME_NAMES, flat_columns
from pipeline.summary import summarise

SENTENCES = ["Ensure that the early help offer improves.", "Supervision by managers is not always effective.",
             "Caseloads are manageable, say “social workers”.", "Good"]


@pytest.fixture(scope="module")
def records(tiny_model):
    return tag_sentences(tiny_model, SENTENCES, "rep")


def test_jsonl_round_trip(records, tmp_path):
    out = tmp_path / "t.jsonl"
    write_records(records, "jsonl", out)
    back = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert back == records and list(back[0]) == [c.name for c in RECORD]
    assert "“social workers”" in out.read_text(encoding="utf-8")  # not \\u-escaped


def test_jsonl_to_stdout(records, capsys):
    write_records(records[:1], "jsonl", "-")
    assert json.loads(capsys.readouterr().out) == records[0]


def test_csv_round_trip(records, tmp_path):
    out = tmp_path / "t.csv"
    write_tagged_csv(records, out)
    with out.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == flat_columns()
    assert [r["text"] for r in rows] == SENTENCES
    assert rows[0]["themes"] == ";".join(records[0]["themes"])
    assert float(rows[1]["p_weakness"]) == records[1]["type_scores"]["weakness"]


def test_sentence_csv_has_the_sentence_columns(tmp_path):
    out = tmp_path / "s.csv"
    write_records([{"report": "r", "index": 0, "start": 0, "end": 4, "section": "", "grade": None, "text": "Text",
                    "kind": "sentence", "page": 3}], "csv", out, SENTENCE_FIELDS)
    assert out.read_text(encoding="utf-8") == "report,index,start,end,page,section,grade,kind,text\nr,0,0,4,3,,,sentence,Text\n"


def test_xlsx_round_trip(records, tmp_path):
    out = tmp_path / "t.xlsx"
    write_xlsx(records, summarise(records), out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["sentences", "summary"]
    rows = list(wb["sentences"].values)
    assert list(rows[0]) == flat_columns() and [r[flat_columns().index("text")] for r in rows[1:]] == SENTENCES
    summary = list(wb["summary"].values)
    assert summary[0] == ("report", "theme", "theme name", "strength", "weakness", "recommendation", "neutral")
    assert summary[1][:3] == ("rep", "(all)", "All sentences") and sum(summary[1][3:]) == len(SENTENCES)
    assert {r[2] for r in summary[2:]} == set(THEME_NAMES.values())


def test_html_and_the_format_dispatch(records, tmp_path):
    page = render_html(records, summarise(records))
    assert page.count(" data-type=") == len(SENTENCES) and "Open Government Licence" in page
    # themes by their names, and each sentence's type written beside its colour (neutral: no label)
    assert "<span class='chip'>" in page and not re.search(r"class='chip'>[a-z_]+<", page)
    labelled = sum(r["type"] != "neutral" for r in records)
    assert page.count("<span class='t ") == labelled + 3  # + the legend
    for fmt in ("jsonl", "csv", "xlsx", "html"):
        write_output(records, summarise(records), fmt, tmp_path / f"o.{fmt}")
        assert (tmp_path / f"o.{fmt}").stat().st_size > 100


def test_a_failed_write_leaves_no_file(tmp_path):
    out = tmp_path / "t.jsonl"
    with pytest.raises(TypeError):
        write_records([{"x": object()}], "jsonl", out)
    assert not out.exists() and not list(tmp_path.iterdir())
