"""The improvement plan on real reports, tagged by a model trained on the corpus: rows, files read back,
the CLI, /v1/plan over HTTP and the web page's Action plan view in headless Chromium."""

from __future__ import annotations

import re
import time

import docx
import httpx
import openpyxl
import pytest

from pipeline.ingest import read_document
from pipeline.plan import ACTION, plan_document
from pipeline.predict import tag_document
from tests.code.test_pages import _norm, _page_texts
from tests.e2e.test_browser import browser  # noqa: F401  (the headless Chromium fixture)
from tests.e2e.test_cli import run

pytestmark = pytest.mark.slow  # a corpus model, real processes, a server and a browser

REPORT = "bath_and_north_east_somerset_2025-08-05"  # "What needs to improve?" as bullets


@pytest.fixture(scope="module")
def pdf(params):
    return params.paths.corpus_pdf / f"{REPORT}.pdf"


@pytest.fixture(scope="module")
def tagged(model, trained, pdf):
    doc = read_document(pdf)
    return doc, tag_document(model, doc, trained["params"])


def test_plan_rows_of_a_corpus_report(model, trained, tagged, pdf):
    doc, records = tagged
    plan = plan_document(model, doc, trained["params"])
    recs = [r["text"] for r in records if r["type"] == "recommendation" and r["kind"] != "heading"]
    assert len(recs) >= 3
    actions = plan.actions
    # every recommendation appears in exactly one action row (a follow-on sentence inside the one before)
    for text in recs:
        assert sum(text in a.recommendation for a in actions) == 1, text
    assert len({a.recommendation for a in actions}) == len(actions)
    # evidence: real weaknesses of this report, with the page they are on in the PDF
    sentences = {r["text"]: r for r in records}
    pages = _page_texts(pdf) + [""]
    quotes = [q for a in actions for q in (*a.evidence, *a.build_on)] + [q for a in plan.also_found for q in a.evidence]
    assert quotes and any(a.evidence for a in actions)
    for q in quotes:
        r = sentences[q.text]
        assert r["type"] in ("weakness", "strength") and q.page == r["page"] and q.confidence == r["confidence"]
        key = _norm(" ".join(q.text.split()[:6]))  # the quote starts on its page (and may run on to the next)
        here = pages[q.page - 1]
        assert key in here or 0 <= (here + pages[q.page]).find(key) < len(here), (q.page, q.text)
    for a in actions:
        assert all(set(q.themes) & set(a.themes) for q in a.evidence) or not a.themes
        assert a.priority in ("High", "Medium", "Low") and a.owner == a.due_date == a.rag_status == ""
    assert plan.meta.grades.get("overall_effectiveness")  # read from the report's own judgement table


def test_plan_is_under_a_second_a_report(model, trained, params):
    pdfs = sorted(params.paths.corpus_pdf.glob("*.pdf"))[:12]
    plan_document(model, read_document(pdfs[0]), trained["params"])  # warm up
    times = []
    for f in pdfs:
        t0 = time.perf_counter()
        plan_document(model, read_document(f), trained["params"])
        times.append(time.perf_counter() - t0)
    assert sorted(times)[len(times) // 2] < 1.0, times


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "html", "md"])
def test_cli_plan_to_each_format(tmp_path, trained, pdf, fmt):
    out = tmp_path / f"plan.{fmt}"
    r = run("plan", str(pdf), "-o", str(out), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    assert "actions" in r.stderr and out.stat().st_size > 1000
    if fmt == "docx":
        d = docx.Document(str(out))
        assert d.paragraphs[0].text.startswith("Improvement plan: ")
        assert d.sections[0].page_width > d.sections[0].page_height  # landscape, as circulated
        texts = [c.text for t in d.tables for row in t.rows for c in row.cells]
        assert "Recommendation" in texts and "RAG status" in texts and any("page " in t for t in texts)
        assert not any("_" in t and re.search(r"\b[a-z]+_[a-z_]+\b", t) for t in texts if len(t) < 60)  # display names
    elif fmt == "xlsx":
        wb = openpyxl.load_workbook(out)
        assert wb.sheetnames == ["Action plan", "Evidence"]
        rows = list(wb["Action plan"].values)
        assert rows[0][-3:] == ("Owner", "Due date", "RAG status") and len(rows) > 3
        assert all(r[0] == REPORT for r in rows[1:]) and all(r[-1] is None for r in rows[1:])
        assert any("Red,Amber,Green" in dv.formula1 for dv in wb["Action plan"].data_validations.dataValidation)
        links = [c.hyperlink.target for row in wb["Evidence"].iter_rows(min_row=2) for c in row if c.hyperlink]
        assert links and all(re.search(rf"{REPORT}\.pdf#page=\d+$", t) for t in links)
    elif fmt == "html":
        page = out.read_text(encoding="utf-8")
        assert "<html lang='en'>" in page and "<caption>" in page and f"{REPORT}.pdf#page=" in page
    else:
        text = out.read_text(encoding="utf-8")
        assert text.startswith("# Improvement plan: ") and "**Recommendation:**" in text


def test_cli_plan_bad_input(tmp_path, trained, pdf):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7 truncated")
    out = tmp_path / "plan.docx"
    r = run("plan", str(bad), "-o", str(out), params=trained["params_file"])
    assert r.returncode == 1 and not out.exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "broken.pdf: not a readable PDF" in lines[0]
    r = run("plan", str(pdf), "-o", str(tmp_path / "plan.pdf"), params=trained["params_file"])
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "unknown plan format 'pdf'" in r.stderr
    assert not (tmp_path / "plan.pdf").exists()
    r = run("plan", str(pdf), str(bad), "-o", str(out), params=trained["params_file"])  # the good one is planned
    assert r.returncode == 1 and "broken.pdf" in r.stderr and docx.Document(str(out)).tables
    assert not list(tmp_path.glob(".plan*"))  # no temporary file left behind


def test_v1_plan_over_http(server, pdf):
    with pdf.open("rb") as fh:
        r = httpx.post(server + "/v1/plan", files={"file": (pdf.name, fh, "application/pdf")}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["report"] == REPORT and body["judgements"]
    actions = [x for x in body["rows"] if x["kind"] == ACTION]
    assert actions and all(x["theme_names"] for x in actions if x["themes"])
    assert all(q["page"] for x in actions for q in x["evidence"])
    with pdf.open("rb") as fh:
        r = httpx.post(server + "/v1/plan?format=docx", files={"file": (pdf.name, fh, "application/pdf")}, timeout=60)
    assert r.status_code == 200 and "wordprocessingml" in r.headers["content-type"]
    assert f'filename="{REPORT}-plan.docx"' in r.headers["content-disposition"]
    r = httpx.post(server + "/v1/plan?format=pdf", json={"text": "Caseloads are too high."}, timeout=30)
    assert r.status_code == 422 and "unknown format" in r.json()["error"]
    r = httpx.post(server + "/v1/plan", json={"text": ""}, timeout=30)
    assert r.status_code == 422 and "error" in r.json()


def test_plan_page_passes_axe(browser, trained, pdf, tmp_path, axe_violations):  # noqa: F811
    """The action plan as a page (plan -o x.html): no serious or critical WCAG 2.2 A/AA violation."""
    from tests.e2e.conftest import describe_violations

    out = tmp_path / "plan.html"
    r = run("plan", str(pdf), "-o", str(out), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    page = browser.new_page()
    page.goto(out.as_uri())
    found = axe_violations(page)
    assert not found, describe_violations(found)


def test_action_plan_view_in_the_browser(browser, server, pdf, tmp_path, axe_violations):  # noqa: F811
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    page.set_input_files("#file", str(pdf))
    page.wait_for_selector("#sentences .sentence", timeout=60000)
    assert page.is_hidden("#view-plan")
    page.focus("#tab-sentences")
    page.keyboard.press("ArrowRight")  # the keyboard reaches the Action plan tab
    page.wait_for_selector("#plan table.plan-table", timeout=60000)
    assert page.get_attribute("#tab-plan", "aria-selected") == "true" and page.is_hidden("#view-sentences")
    assert "actions" in page.inner_text("#plan-status")
    first = page.locator("#plan table.plan-table").first
    assert first.locator("caption").inner_text().endswith("priority actions (" + str(
        first.locator("tbody tr").count()) + ")")
    assert "page " in first.inner_text() and "_" not in first.locator("tbody td").first.inner_text()
    from tests.e2e.conftest import describe_violations

    found = axe_violations(page)  # the web page's Action plan view
    assert not found, describe_violations(found)
    page.select_option("#plan-format", "docx")
    with page.expect_download() as dl:
        page.click("#plan-download")
    path = tmp_path / "plan.docx"
    dl.value.save_as(path)
    assert dl.value.suggested_filename == f"{REPORT}-plan.docx" and docx.Document(str(path)).tables
    page.click("#tab-sentences")
    assert page.is_visible("#sentences")
    assert not errors, errors
