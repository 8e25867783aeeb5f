"""The web page in headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes, servers, a browser or Spark, and a corpus model

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: scripts/test.sh installs it with apt-get (as root)")
        pytest.skip("Chromium not installed (scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def test_paste_a_seed_article_and_see_it_tagged(browser, server, seeds, tmp_path):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    page.fill("#text", seeds[0].read_text(encoding="utf-8"))
    page.click("#tag")
    page.wait_for_selector("#sentences .sentence", timeout=30000)
    assert "sentences tagged" in page.inner_text("#status")
    weak = page.locator("#sentences .s.weakness")
    assert weak.count() >= 3
    assert any("domestic abuse notifications" in t for t in weak.all_inner_texts())
    assert page.locator("#sentences .s.recommendation").count() >= 3
    assert page.locator("#sentences .chip", has_text="Front door / MASH").count() >= 1  # themes by their names
    assert page.locator("#summary-table tr").count() > 3 and page.locator("#chart .bar").count() > 3
    # filters: only recommendations
    for t in ("strength", "weakness", "neutral"):
        page.uncheck(f"#type-filter input[value={t}]")
    visible = page.locator("#sentences .sentence:not(.hidden)")
    assert visible.count() == page.locator("#sentences .s.recommendation").count()
    page.select_option("#theme-filter", "workforce")
    assert page.locator("#sentences .sentence:not(.hidden)").count() <= visible.count()
    # CSV download
    with page.expect_download() as dl:
        page.click("#download")
    path = tmp_path / "tagged.csv"
    dl.value.save_as(path)
    assert path.read_text(encoding="utf-8").startswith("report,index,section,text,type,confidence,themes,evidence")
    page.screenshot(path=os.environ.get("SCREENSHOT", str(tmp_path / "page.png")), full_page=True)
    assert not errors, errors


def test_error_is_shown_for_a_bad_file(browser, server, tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7 not really")
    page = browser.new_page()
    page.goto(server + "/")
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#status.error", timeout=30000)
    assert "broken.pdf: not a readable PDF" in page.inner_text("#status")
