"""pipeline.track: recurring weaknesses across a council's reports, on real hand-labelled reports (no model).

Sandwell has five hand-labelled inspections in the corpus (2013, 2015, 2018, 2022, 2025).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import openpyxl
import pytest

from pipeline.config import TrackParams, default_params
from pipeline.ingest import read_document
from pipeline.schema import THEME_NAMES, THEMES
from pipeline.track import (
    CONCERN_COLUMNS,
    concern_rows,
    render_track_html,
    report_kind,
    track_councils,
    track_text,
    write_track,
)
from tests.conftest import ROOT, hand_records

SANDWELL = ["sandwell_2013-08-02", "sandwell_2015-06-05", "sandwell_2018-01-29", "sandwell_2022-07-05",
            "sandwell_2025-12-02"]


@pytest.fixture(scope="module")
def sandwell():
    return hand_records({"sandwell", "surrey"})


@pytest.fixture(scope="module")
def tracking(sandwell):
    records, metas = sandwell
    return track_councils(records, metas, default_params().track)


def test_report_kind_from_the_reports_own_first_lines(params):
    def kind(rid):
        doc = read_document(params.paths.corpus_text / f"{rid}.txt")
        return report_kind(doc.title, [{"text": doc.text[:400]}])

    assert kind("norfolk_2018-01-19") == "re-inspection"
    assert kind("norfolk_2013-08-16") == "looked after children inspection"
    assert kind("sandwell_2022-07-05") == "full inspection"  # later text mentions earlier focused visits
    assert kind("barnsley_2014-08-08") == "full inspection"
    assert report_kind("Focused visit to Barnet local authority children’s services") == "focused visit"
    assert report_kind("Monitoring visit to Bury local authority children’s services") == "monitoring visit"


def test_reports_in_date_order_and_every_concern_accounted_for(sandwell, tracking):
    records, _ = sandwell
    council = next(t for t in tracking.councils if t.council == "sandwell")
    assert [v.report for v in council.visits] == SANDWELL
    p = default_params().track
    concerns = {}
    for r in records:
        if r["type"] in p.types:
            for th in r["themes"]:
                concerns.setdefault((r["report"], th), set()).add(r["index"])
    first = council.steps[SANDWELL[0]]
    assert all(not st.recurring and not st.resolved and st.previous is None for st in first.values())
    for prev, rep in zip(SANDWELL, SANDWELL[1:]):
        for th in THEMES:
            st = council.steps[rep].get(th)
            here, before = concerns.get((rep, th), set()), concerns.get((prev, th), set())
            if st is None:
                assert not here and not before
                continue
            # every concern of this report is recurring or new; every one of the report before is raised again or resolved
            assert {p.later.index for p in st.recurring} | {q.index for q in st.new} == here
            assert {p.earlier.index for p in st.recurring} | {q.index for q in st.resolved} == before
            assert all(p.similarity >= tracking.threshold for p in st.recurring)
            assert all(p.earlier.report == prev and p.later.report == rep for p in st.recurring)


def test_a_recommendation_repeated_three_years_later_is_recurring(tracking):
    council = next(t for t in tracking.councils if t.council == "sandwell")
    pairs = [(th, p) for th, p in council.pairs() if th == "child_protection"]
    hit = [p for _, p in pairs if "core group meetings are held within timescales" in p.earlier.text]
    assert hit and hit[0].later.report == "sandwell_2018-01-29" and hit[0].similarity > 0.8
    assert "core groups and child in need meetings are held within timescales" in hit[0].later.text
    # frequent changes of social worker, 2013 -> 2015, also raised again
    assert any("frequent changes of social worker" in p.earlier.text and p.later.report == "sandwell_2015-06-05"
               for th, p in council.pairs() if th == "workforce")


def test_resolved_concerns_carry_the_strengths_since(tracking):
    council = next(t for t in tracking.councils if t.council == "sandwell")
    resolved = [st for v in council.visits[1:] for st in council.steps[v.report].values() if st.resolved and st.strengths]
    assert resolved
    for st in resolved:
        assert all(q.type == "strength" and q.report == st.report for q in st.strengths)
        assert st.strengths_since >= len(st.strengths)


def test_national_rollup(tracking):
    roll = tracking.rollup
    assert [r.theme for r in roll] and set(r.theme for r in roll) == set(THEMES)
    assert [len(r.councils) for r in roll] == sorted((len(r.councils) for r in roll), reverse=True)
    top = roll[0]
    assert top.pairs > 0 and set(top.councils) <= {"sandwell", "surrey"} and 0 < top.recurrence <= 1
    text = track_text(tracking)
    assert text.startswith("sandwell: 2013-08-02 full inspection, 2015-06-05 full inspection")
    assert THEME_NAMES[top.theme] in text and "_" not in text.split("themes that recur most")[1]


def test_one_council_only(sandwell):
    records, metas = sandwell
    t = track_councils(records, metas, TrackParams(), council="surrey")
    assert [c.council for c in t.councils] == ["surrey"] and len(t.councils[0].visits) == 5


def test_writers_read_back(tracking, tmp_path):
    write_track(tracking, tmp_path / "t.csv")
    rows = list(csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8")))
    assert list(rows[0]) == list(CONCERN_COLUMNS) and len(rows) == len(concern_rows(tracking))
    rec = [r for r in rows if r["status"] == "recurring"]
    assert rec and all(r["earlier"] and r["later"] and float(r["similarity"]) >= 0.35 for r in rec)
    assert {r["theme_name"] for r in rows} <= set(THEME_NAMES.values())
    write_track(tracking, tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == ["concerns", "themes nationally"]
    assert wb["concerns"].max_row == len(rows) + 1
    page = render_track_html(tracking)
    assert "<html lang='en'>" in page and "Children in care" in page
    assert "front_door" not in page and "children_in_care" not in page
    with pytest.raises(Exception, match="unknown output format 'pdf'"):
        write_track(tracking, tmp_path / "t.pdf")
    assert not (tmp_path / "t.pdf").exists()


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow  # three CLI processes
def test_track_command_on_tagged_jsonl(sandwell, tmp_path):
    """predict's JSONL in, no model: dates and councils read from the reports, --council by any of its names."""
    records, _ = sandwell
    jl = tmp_path / "tagged.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "sandwell.html"
    r = _cli("track", str(jl), "--council", "Sandwell Metropolitan Borough Council", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sandwell: ") and "surrey" not in r.stdout
    page = out.read_text(encoding="utf-8")
    assert "Recurring weaknesses: sandwell" in page and page.count("<caption>Raised at sandwell_") == 4
    assert page.count("<caption>Resolved concerns</caption>") == 4  # one block per pair of reports
    r = _cli("track", str(jl), "--council", "Atlantis", "-o", str(tmp_path / "x.html"))
    assert r.returncode == 1 and r.stderr.startswith("error: Atlantis: no report of this council in the input")
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.html").exists()
    r = _cli("track", str(jl), "-o", str(tmp_path / "x.docx"))
    assert r.returncode == 1 and "unknown output format 'docx'" in r.stderr
