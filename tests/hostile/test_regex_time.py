"""Issue 13, item 1: lines that sent the old regular expressions into exponential or
polynomial backtracking, through every path that reaches ingest and segment."""

from __future__ import annotations

import pytest

from pipeline.ingest import clean_pages, clean_text, document_from_text, read_document
from pipeline.segment import parse_grade, segment, segment_text
from tests.hostile._helpers import make_pdf, within

YEARS = " ".join(str(y) for y in range(2019, 2028)) + " total"

LINES = {
    "digits_then_letter": "1" * 40 + "a",  # never finished
    "years_then_word": YEARS,  # ~50 s, x8 per year
    "a_century_of_years": " ".join(str(y) for y in range(1990, 2090)) + " total",
    "title_then_ones": "Inspection of children's services" + " 1" * 5000,
    "running_title_then_ones": "Inspection of Barnet local authority children’s services" + " 1" * 5000 + " x",
    "title_dates_then_digits": "Inspection of Barnet children’s services (10 to 14 June" + " 2" * 3000 + " x",
    "heading_then_spaces": "Overview" + " " * 20000 + "x",
    "grade_colon_then_spaces": "Overall effectiveness:" + " " * 20000 + "1",
    "experiences_then_spaces": "The experiences and progress of care leavers:" + " " * 20000 + "1",
    "leaders_then_spaces": "The impact of leaders on social work practice with children and families:" + " " * 20000 + "1",
    "section_then_spaces": "Section 1: abc" + " " * 20000 + "x",
    "place_then_spaces": "Barnet" + " " * 20000 + "Inspection of x",
    "capitals_then_title": "A" * 20000 + " Inspection of x",
    "grade_word_after_spaces": "Leadership" + " " * 20000 + "good x",
    "date_run": "10 to 14 June 2024 " * 2000 + "x",
    "digit_space_run": "1 " * 20000 + "x",
    "punctuation_run": "(-,.)" * 10000 + "x",
    "page_of_then_spaces": "page 1 of" + " " * 20000 + "x",
    "footnote_then_spaces": "1" + " " * 20000 + "x",
    "tabs_before_bullet": "word" + " \t" * 10000 + "x",
}
BUDGET = 2.0


@pytest.mark.parametrize("name", LINES)
def test_line_in_a_text_file(tmp_path, name):
    f = tmp_path / f"{name}.txt"
    f.write_text("The council is good.\n" + LINES[name] + "\n", encoding="utf-8")
    with within(BUDGET, f"read+segment of {name}"):
        units = segment(read_document(f))
    assert units


@pytest.mark.parametrize("name", LINES)
def test_line_at_the_top_middle_and_bottom_of_a_pdf_page(name):
    line = LINES[name]
    pages = [line + "\nThe council is good.\n" + line + "\nChildren are safe.\n" + line]
    with within(BUDGET, f"clean_pages of {name}"):
        text = clean_pages(pages, layout=True)
        segment_text(text)


@pytest.mark.parametrize("name", LINES)
def test_line_pasted_as_text_and_as_html_or_docx_prose(name):
    line = LINES[name]
    with within(BUDGET, f"pasted {name}"):
        segment(document_from_text(line + "\n" + line))
        segment_text(clean_text(line))
        segment_text(line)  # straight to segment: a heading candidate, a grade tail
        parse_grade(line)


@pytest.mark.parametrize("name", ["digits_then_letter", "years_then_word", "title_then_ones", "heading_then_spaces",
                                  "grade_colon_then_spaces", "place_then_spaces"])
def test_line_inside_a_real_pdf(tmp_path, name):
    f = tmp_path / f"{name}.pdf"
    line = LINES[name][:6000]  # a PDF line of thousands of glyphs is already absurd
    f.write_bytes(make_pdf([[line, "The council is good.", line], [line, "Children are safe."]]))
    with within(BUDGET, f"PDF with {name}"):
        units = segment(read_document(f))
    assert any("council is good" in u.text for u in units)


def test_the_68_byte_file_of_the_issue(tmp_path):
    f = tmp_path / "tiny.txt"
    f.write_bytes(b"The council is good.\n" + b"1" * 45 + b"a\n")
    assert f.stat().st_size == 68
    with within(BUDGET):
        units = segment(read_document(f))
    assert [u.text for u in units] == ["The council is good.", "1" * 45 + "a"]
