"""Accessibility: axe-core (WCAG 2.2 A/AA, serious and critical) on the web page and a tagged HTML report, and
the web page used with the keyboard alone. The analyse dashboard and the track page are checked in
test_analyse.py; the ``axe_violations`` fixture (tests/e2e/conftest.py) serves any other page."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, describe_violations
from tests.e2e.test_browser import browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow  # a server, a browser and a corpus model


def _focused(page) -> str:
    return page.evaluate("() => document.activeElement.id || document.activeElement.className || "
                         "document.activeElement.tagName")


def test_web_page_passes_axe_empty_and_with_a_tagged_report(browser, server, seeds, axe_violations):  # noqa: F811
    import httpx

    from pipeline.schema import THEME_NAMES

    assert httpx.get(server + "/v1/themes").json() == THEME_NAMES  # the names the page shows
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_function("() => document.readyState === 'complete'")
    found = axe_violations(page)
    assert not found, describe_violations(found)
    page.fill("#text", seeds[0].read_text(encoding="utf-8"))
    page.click("#tag")
    page.wait_for_selector("#sentences .sentence", timeout=30000)
    found = axe_violations(page)
    assert not found, describe_violations(found)
    # the type is written beside every coloured non-neutral sentence; themes by their names
    labelled = page.locator("#sentences .s:not(.neutral)")
    assert labelled.count() == page.locator("#sentences .s .t").count() > 5
    assert page.locator("#theme-filter option", has_text="Front door / MASH").count() == 1
    assert page.locator("#summary-table th[scope=row]", has_text="Front door / MASH").count() == 1


def test_web_page_by_keyboard_alone(browser, server, seeds, tmp_path):  # noqa: F811
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_function("() => document.readyState === 'complete'")
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(_focused(page))
    # skip link, text box, the file chooser (a real input, only visually hidden), the Tag button
    assert order[:4] == ["skip", "text", "file", "tag"], order
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"  # focus visible
    # a file chosen with the keyboard: Enter on the focused file input activates it (the click that opens the
    # chooser). Headless Chromium raises the "filechooser" event for a keyboard activation only now and then
    # (measured: 2-8 of 10 tries missed it, while the click fired 10 of 10), so the activation is what is
    # asserted and the file is then set as the chooser would set it.
    page.focus("#file")
    page.evaluate("() => { window.fileActivations = 0;"
                  " document.getElementById('file').addEventListener('click', () => window.fileActivations++); }")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.fileActivations === 1", timeout=5000)
    page.set_input_files("#file", str(seeds[1]))
    page.wait_for_selector("#sentences .sentence", timeout=30000)
    assert _focused(page) == "report-title"  # focus moves to the result
    # text typed and tagged with Ctrl+Enter
    page.focus("#text")
    page.keyboard.insert_text(seeds[0].read_text(encoding="utf-8"))
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelector('#report-title').textContent === 'pasted text'",
                           timeout=30000)
    assert _focused(page) == "report-title"
    # the view tabs are one Tab stop (arrow keys move between them), then the filters
    page.keyboard.press("Tab")
    assert _focused(page) == "tab-sentences"
    # filters with Tab, Space and the arrow keys
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.value") == "strength"
    page.keyboard.press("Space")
    assert page.locator("#sentences .sentence[data-type=strength]:not(.hidden)").count() == 0
    assert page.locator("#sentences .sentence[data-type=weakness]:not(.hidden)").count() > 0
    for _ in range(4):
        page.keyboard.press("Tab")
    assert _focused(page) == "theme-filter"
    page.keyboard.press("ArrowDown")
    chosen = page.evaluate("() => document.activeElement.value")
    assert chosen and all(chosen in t.split() for t in page.locator("#sentences .sentence:not(.hidden)").evaluate_all(
        "els => els.map(e => e.dataset.themes)"))
    page.keyboard.press("Tab")
    assert _focused(page) == "download"
    with page.expect_download() as dl:
        page.keyboard.press("Enter")
    dl.value.save_as(tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text(encoding="utf-8").startswith("report,index,section,text,type")


def test_tagged_html_report_passes_axe(trained, browser, axe_violations, params, tmp_path):  # noqa: F811
    out = tmp_path / "tagged.html"
    r = subprocess.run([sys.executable, "-m", "pipeline", "--params", str(trained["params_file"]), "predict",
                        str(params.paths.corpus_text / "bury_2021-12-17.txt"), "-o", str(out), "--no-summary"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    page = browser.new_page()
    page.goto(out.as_uri())
    found = axe_violations(page)
    assert not found, describe_violations(found)
    assert page.locator(".chip", has_text="Care leavers").count() > 0 and "care_leavers" not in page.content()
    assert page.locator(".s.weakness .t").count() == page.locator(".s.weakness").count() > 5
