"""analyse and compare end to end on a slice of the corpus."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.analyse import (
    compare_reports,
    council_from_title,
    grade_correlations,
    report_metadata_from_text,
    report_table,
)

pytestmark = pytest.mark.slow  # real processes, servers, a browser or Spark, and a corpus model

ROOT = Path(__file__).resolve().parents[2]
SLICE = ["barnet_2017-07-07", "barnet_2019-07-01", "barnet_2024-07-23", "bury_2021-12-17", "bromley_2019-01-07",
         "birmingham_2023-04-18", "barnsley_2014-08-08", "barnsley_2018-11-19", "barnsley_2023-10-27",
         "croydon_2024-12-03", "ealing_2024-07-12"]  # two of Barnet's statistical neighbours


def run(*args: str, params: Path):
    return subprocess.run([sys.executable, "-m", "pipeline", "--params", str(params), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def analysed(trained, params, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analyse")
    inputs = tmp / "in"
    inputs.mkdir()
    for rid in SLICE:
        shutil.copy(params.paths.corpus_text / f"{rid}.txt", inputs / f"{rid}.txt")
    out = tmp / "out"
    r = run("analyse", str(inputs), "--output", str(out), params=trained["params_file"])
    assert r.returncode == 0, r.stderr[-2000:]
    return out, r


def test_files_and_columns(analysed):
    out, r = analysed
    for name in ("sentences.parquet", "reports.csv", "summary.xlsx", "index.html", "charts/national_heatmap.png",
                 "charts/themes_net.png"):
        assert (out / name).is_file(), name
    sents = pd.read_parquet(out / "sentences.parquet")
    assert {"report", "council", "date", "grade_overall_effectiveness", "section", "text", "type", "confidence",
            "themes", "p_strength", "p_front_door"} <= set(sents.columns)
    reps = pd.read_csv(out / "reports.csv")
    assert len(reps) == len(SLICE)
    assert {"report", "council", "date", "kind", "sentences", "n_strength", "share_weakness", "net_score",
            "front_door__weakness", "front_door__net", "net_help_and_protection"} <= set(reps.columns)
    assert list(reps.columns[1:7]) == ["council", "la_code", "la_code_new", "region", "la_type", "date"]
    row = reps[reps.report == "barnet_2024-07-23"].iloc[0]
    assert row.council == "barnet" and row.date == "2024-06-14" and row.grade_overall_effectiveness == "good"
    assert (row.la_code, row.la_code_new, row.region, row.la_type) == (302, "E09000003", "London", "London Borough")
    assert row.kind == "full inspection"
    assert abs(row.net_score - (row.n_strength - row.n_weakness) / (row.n_strength + row.n_weakness)) < 1e-9
    xl = pd.ExcelFile(out / "summary.xlsx")
    assert xl.sheet_names == ["reports", "themes x type", "per council", "neighbours", "unmatched councils",
                              "recurring by theme", "recurring concerns"]
    per = pd.read_excel(xl, "per council").set_index("council")
    # Croydon (306) and Ealing (307) are two of Barnet's ten statistical neighbours; four London councils in all
    assert per.loc["barnet", "region"] == "London" and per.loc["barnet", "ranked"] == 3
    assert per.loc["barnet", "rank_among_neighbours"] in (1, 2, 3)
    nets = per.loc[["croydon", "ealing"], "net_last"]
    assert per.loc["barnet", "neighbours_net_score"] == pytest.approx(nets.mean(), abs=1e-4)
    assert per.loc["barnet", "region_net_score"] == pytest.approx(per.loc[["croydon", "ealing", "bromley"],
                                                                          "net_last"].mean(), abs=1e-4)
    nb = pd.read_excel(xl, "neighbours")
    assert len(nb) == 18 * per.la_code.notna().sum() and set(nb.theme_name) >= {"Front door / MASH"}
    assert pd.read_excel(xl, "unmatched councils").empty and "note:" not in r.stderr
    rec = pd.read_excel(xl, "recurring concerns")
    # every council's first report has only new concerns; only barnet and barnsley have reports to compare
    assert set(rec[rec.status != "new"].council) == {"barnet", "barnsley"} and set(rec.council) == set(per.index)
    assert {"recurring", "new", "resolved"} <= set(rec.status)
    assert (rec[rec.status == "recurring"].similarity >= 0.35).all()
    assert len(list((out / "reports").glob("*.html"))) == len(SLICE)
    assert "Spearman's rho" in r.stdout and "overall_effectiveness" in r.stdout


def test_dashboard_opens_in_chromium_without_console_errors(analysed, axe_violations):
    from tests.e2e.test_browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed (scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    out, _ = analysed
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = b.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((out / "index.html").as_uri())
        assert page.locator("h1").inner_text().startswith(f"The archive: {len(SLICE)} reports")
        assert page.locator("figure > svg").count() == 2  # barnet and barnsley have several inspections
        for section in ("Recurring weaknesses", "Neighbours and region"):
            assert page.locator("h2", has_text=section).count() == 1
        assert page.locator("#recurring ~ div.track details summary", has_text="barnsley (3 reports)").count() == 1
        assert "front_door" not in page.inner_text("body")  # themes by their names wherever a person reads
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        found = axe_violations(page)
        from tests.e2e.conftest import describe_violations

        assert not found, describe_violations(found)
        imgs = page.locator("img")
        assert all(page.evaluate("i => i.naturalWidth > 0", imgs.nth(i).element_handle()) for i in range(imgs.count()))
        page.click("a[href='reports/barnet_2024_07_23.html']")
        assert page.locator(".s.recommendation").count() >= 4
        b.close()
    assert not errors, errors


def test_metadata_from_text(model, params):
    from pipeline.ingest import read_document
    from pipeline.predict import tag_document

    doc = read_document(params.paths.corpus_pdf / "bury_2021-12-17.pdf")
    recs = tag_document(model, doc, params)
    meta = report_metadata_from_text(doc.report_id, doc.title, recs)
    assert meta.council == "bury" and meta.date == "2021-11-05"
    assert meta.grades["overall_effectiveness"] == "inadequate"
    assert meta.grades["impact_of_leaders"] == "inadequate"
    assert meta.grades["help_and_protection"] == "inadequate"
    assert meta.grades["children_in_care"] == "requires_improvement"
    assert council_from_title("Inspection of London Borough of Barking and Dagenham local authority children’s services",
                              "x") == "barking and dagenham"
    assert council_from_title("", "wokingham_2019-01-01") == "wokingham"


def test_net_score_tracks_ofsted_grades_better_than_a_lexicon(model, params):
    """On a sample of graded reports the whole-report net score correlates with the overall grade."""
    from pipeline.data import read_metadata
    from pipeline.ingest import read_document
    from pipeline.predict import tag_document

    metas = read_metadata(params.paths.corpus_metadata)
    graded = [k for k, m in sorted(metas.items()) if m.grades["overall_effectiveness"]][::8]
    records = []
    for rid in graded:
        records += tag_document(model, read_document(params.paths.corpus_text / f"{rid}.txt"), params)
    rows = report_table(records, metas)
    rho = {c.judgement: c.rho for c in grade_correlations(rows) if c.scope == "all reports"}
    assert len(graded) >= 30
    assert rho["overall_effectiveness"] > 0.75  # TextBlob polarity reaches 0.69 on the whole corpus


def test_compare_two_inspections(trained, params, tmp_path):
    a = params.paths.corpus_text / "barnsley_2014-08-08.txt"
    b = params.paths.corpus_text / "barnsley_2023-10-27.txt"
    html = tmp_path / "cmp.html"
    r = run("compare", str(a), str(b), "--output", str(html), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("barnsley_2014-08-08  ->  barnsley_2023-10-27")
    assert "Front door / MASH" in r.stdout and "front_door" not in r.stdout and html.read_text(encoding="utf-8").count("<tr") == 19
    statuses = {line.split()[-1] for line in r.stdout.splitlines()[2:]}
    assert statuses <= {"weakness", "strength", "unchanged", "improved", "declined"}


def test_compare_logic():
    def rec(t, th):
        return {"type": t, "themes": [th], "text": f"{t} {th}"}

    a = [rec("weakness", "front_door"), rec("strength", "workforce")]
    b = [rec("strength", "front_door"), rec("weakness", "care_leavers"), rec("strength", "workforce")]
    ch = {c.theme: c.status for c in compare_reports(a, b)}
    assert ch["front_door"] == "resolved weakness" and ch["care_leavers"] == "new weakness"
    assert ch["workforce"] == "unchanged"


def test_analyse_reads_predict_jsonl(trained, params, tmp_path):
    jl = tmp_path / "tagged.jsonl"
    r = run("predict", str(params.paths.corpus_text / "bury_2021-12-17.txt"), "--output", str(jl), "--no-summary",
            params=trained["params_file"])
    assert r.returncode == 0
    out = tmp_path / "o"
    r = run("analyse", str(jl), "--output", str(out), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    reps = pd.read_csv(out / "reports.csv")
    assert list(reps.report) == ["bury_2021-12-17"] and reps.grade_overall_effectiveness[0] == "inadequate"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"report": "x", "text": "a", "type_scores": {}}) + "\n")
    r = run("analyse", str(bad), "--output", str(tmp_path / "o2"), params=trained["params_file"])
    assert r.returncode == 1 and "bad.jsonl:1: missing" in r.stderr


def test_track_a_council_with_five_reports(trained, params, tmp_path, axe_violations):
    """Sandwell: five inspections in the corpus (2013 looked after children, 2015, 2017 re-inspection, 2022, 2025)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import describe_violations
    from tests.e2e.test_browser import ARGS, CHROMIUM

    files = sorted(str(p) for p in params.paths.corpus_text.glob("sandwell_*.txt"))
    others = [str(params.paths.corpus_text / f"{rid}.txt") for rid in ("surrey_2022-03-09", "surrey_2025-05-09")]
    assert len(files) == 5
    page_out, xlsx = tmp_path / "sandwell.html", tmp_path / "t.xlsx"
    r = run("track", *files, *others, "--council", "Sandwell", "--metadata", str(params.paths.corpus_metadata),
            "-o", str(page_out), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("sandwell: 2013-") and first.count(",") == 4 and "surrey" not in r.stdout
    assert "looked after children inspection" in first and "re-inspection" in first
    dates = [d.split()[0] for d in first.split(": ", 1)[1].split(", ")]
    assert dates == sorted(dates)
    r = run("track", *files, *others, "-o", str(xlsx), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    import openpyxl

    wb = openpyxl.load_workbook(xlsx)
    rows = list(wb["concerns"].values)
    head = rows[0]
    got = [dict(zip(head, row)) for row in rows[1:]]
    assert {g["council"] for g in got} == {"sandwell", "surrey"}
    rec = [g for g in got if g["status"] == "recurring"]
    assert len(rec) > 10 and all(g["earlier"] and g["later"] and g["similarity"] >= 0.35 for g in rec)
    assert all(g["previous_report"] and g["previous_report"] != g["report"] for g in rec)
    national = [dict(zip(list(wb["themes nationally"].values)[0], row)) for row in list(wb["themes nationally"].values)[1:]]
    assert national[0]["councils_recurring"] >= national[-1]["councils_recurring"] and national[0]["recurring_pairs"] > 0
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = b.new_page()
        page.goto(page_out.as_uri())
        assert page.locator("h1").inner_text() == "Recurring weaknesses: sandwell"
        assert page.locator("table caption", has_text="raised again at").count() >= 3
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        found = axe_violations(page)
        b.close()
    assert not found, describe_violations(found)
