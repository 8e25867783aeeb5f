"""Every sentence of a PDF knows its page: checked against the PDF's own page text."""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from pipeline.ingest import clean_pages, clean_pages_mapped, document_from_text, page_at, read_document
from pipeline.segment import segment
from tests.hostile._helpers import within

# reports of every framework: 2014 (footnotes, run-ons over page breaks), 2016, 2019, 2023, 2025
SAMPLE = ("barnsley_2014-08-08", "milton_keynes_2016-11-25", "surrey_2015-06-03", "birmingham_2023-04-18",
          "bath_and_north_east_somerset_2025-08-05")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _page_texts(path: Path) -> list[str]:
    """Each page's text as pypdfium2 gives it, the page number line dropped, letters and digits only."""
    pdf = pdfium.PdfDocument(str(path))
    out = []
    for page in pdf:
        lines = page.get_textpage().get_text_range().splitlines()
        if lines and re.fullmatch(r"\s*\d+\s*", lines[0]):
            lines = lines[1:]
        out.append(_norm("\n".join(lines)))
    pdf.close()
    return out


def _misplaced(path: Path) -> tuple[int, list[str]]:
    """(sentences checked, those whose first words are not on their page): a sentence may
    start at the foot of its page and run on to the next."""
    pages = _page_texts(path) + [""]
    checked, wrong = 0, []
    for s in segment(read_document(path)):
        key = _norm(" ".join(s.text.split()[:6]))
        if len(key) < 12:
            continue
        if not any(key in p for p in pages):  # a sentence cut by a footnote block or a table: not checkable
            continue
        checked += 1
        here = pages[s.page - 1]
        at = (here + pages[s.page]).find(key)
        if not (key in here or 0 <= at < len(here)):
            wrong.append(f"{path.stem} #{s.index} p.{s.page}: {s.text[:60]}")
    return checked, wrong


@pytest.mark.parametrize("report", SAMPLE)
def test_each_sentence_starts_on_its_page(params, report):
    checked, wrong = _misplaced(params.paths.corpus_pdf / f"{report}.pdf")
    assert checked > 100 and not wrong, wrong[:5]


@pytest.mark.slow  # reads all 108 corpus PDFs twice
def test_every_sentence_of_the_corpus_pdfs_starts_on_its_page(corpus_pdfs):
    total, wrong = 0, []
    for path in corpus_pdfs:
        n, bad = _misplaced(path)
        total += n
        wrong += bad
    assert total > 40_000 and not wrong, wrong[:10]


def test_pages_run_from_one_to_the_last_and_only_pdfs_have_them(params):
    doc = read_document(params.paths.corpus_pdf / "barnsley_2014-08-08.pdf")
    pdf = pdfium.PdfDocument(doc.source)
    n = len(pdf)
    pdf.close()
    pages = [s.page for s in segment(doc)]
    assert len(doc.page_starts) == n and list(doc.page_starts) == sorted(doc.page_starts)
    assert pages == sorted(pages) and pages[0] == 1 and 20 < pages[-1] <= n
    txt = sorted(params.paths.corpus_text.glob("*.txt"))[0]
    assert all(s.page is None for s in segment(read_document(txt)))
    assert all(s.page is None for s in segment(document_from_text("Plans are clear. Caseloads are high.")))


def test_a_paragraph_running_over_a_page_break_changes_page_where_the_next_page_begins():
    pages = ["Inspection of Somewhere children's services\nLeaders know their services well. Managers have\n1",
             "",  # a blank page: it starts where the next one does
             "2\nimproved supervision this year. Caseloads are now manageable.\n"]
    text, starts = clean_pages_mapped(pages, layout=True)
    assert text == clean_pages(pages, layout=True)
    assert text == "Leaders know their services well. Managers have improved supervision this year. " \
                   "Caseloads are now manageable."
    assert starts == (0, text.index("improved"), text.index("improved"))
    page = {s.text: s.page for s in segment_text_with(text, starts)}
    assert page == {"Leaders know their services well.": 1,
                    "Managers have improved supervision this year.": 1,
                    "Caseloads are now manageable.": 3}


def test_page_starts_follow_footnote_markers_out_of_the_text():
    pages = ["The Board1 meets often. It is chaired well.\n\n1 The Board is the LSCB.",
             "Second page text starts here and Board1 again.\n"]
    text, starts = clean_pages_mapped(pages, layout=True)
    assert "Board1" not in text
    assert text[starts[1]:].startswith("Second page")


def test_page_at():
    assert page_at((), 5) is None
    assert [page_at((0, 10, 10, 30), x) for x in (0, 9, 10, 29, 30, 99)] == [1, 1, 3, 3, 4, 4]


def test_the_page_map_is_linear_in_a_run_on_over_many_pages():
    # every page continues the paragraph of the one before: one paragraph, one page start per page
    for n in (20_000, 40_000):
        with within(4, f"clean_pages_mapped of {n} run-on pages"):
            text, starts = clean_pages_mapped(["lower case  words\n"] * n, layout=True)
        assert len(starts) == n and text[starts[-1]:] == "lower case words"


def segment_text_with(text: str, starts: tuple[int, ...]):
    from pipeline.segment import segment_text

    return segment_text(text, "t", page_starts=starts)
