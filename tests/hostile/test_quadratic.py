"""Issue 13, item 5 (quadratic paths) and item 12's last point (a unit with no space)."""

from __future__ import annotations

from pipeline.config import default_params
from pipeline.ingest import InputError, clean_pages, document_from_text, read_document
from pipeline.segment import _split_long, segment, segment_text
from tests.hostile._helpers import within

import pytest

TEXT = "The council is good. Children are safe and well supported.\n"


def test_200k_leading_blank_lines(tmp_path):
    f = tmp_path / "blank.txt"
    f.write_text("\n" * 200_000 + TEXT, encoding="utf-8")
    with within(2.0, "200k leading blank lines"):
        units = segment(read_document(f))
    assert [u.text for u in units] == ["The council is good.", "Children are safe and well supported."]


def test_200k_blank_lines_before_a_running_header_and_at_page_edges():
    header = "Inspection of Barnet local authority children’s services\n"
    text = "\n" * 200_000 + header + TEXT + "\n" * 200_000 + header + TEXT + "\n \t\n" * 50_000
    with within(2.0, "blank lines around running headers"):
        doc = document_from_text(text)
        pages = clean_pages(["\n" * 200_000 + TEXT + "\n" * 200_000], layout=True)
    assert doc.text.count("The council is good.") == 2 and "Inspection of" not in doc.text
    assert pages == TEXT.strip()


def test_20k_nested_lists(tmp_path):
    f = tmp_path / "nested.html"
    f.write_text("<html><body>" + "<ul><li>item " * 20_000 + "</li></ul>" * 20_000 + "</body></html>")
    with within(5.0, "20k nested <ul><li>"):  # parsing alone takes about 0.3 s; it took 68 s
        doc = read_document(f)
    assert doc.text == "- item"


def test_20k_nested_quotes_are_refused_not_multiplied(tmp_path):
    # every <blockquote> repeats the text of all those inside it: 20k deep is 1 GB of text
    f = tmp_path / "quotes.html"
    f.write_text("<html><body>" + "<blockquote>item " * 20_000 + "</blockquote>" * 20_000 + "</body></html>")
    with within(5.0, "20k nested <blockquote>"), pytest.raises(InputError, match=r"quotes\.html: its text runs past the 50 MB limit \(ingest\.max_text_mb"):
        read_document(f)


def test_one_paragraph_of_200k_wrapped_lines():
    # a PDF-like page whose lines all continue one paragraph: once joined by copying it whole per line
    with within(2.0, "200k continuation lines"):
        text = clean_pages(["word\n" * 200_000], layout=True)
    assert text == " ".join(["word"] * 200_000)


def test_100k_blocks_running_on_over_page_breaks():
    with within(2.0, "100k run-on blocks"):
        text = clean_pages(["and so on\n\n" * 100_000], layout=True)
    assert text == " ".join(["and so on"] * 100_000)


def test_200k_sentence_fragments_rejoined():
    # blingfire cuts at every ". "; every piece starts lower case so each is joined to the last
    with within(2.0, "200k fragments"):
        units = segment_text("a. " * 200_000, max_sentence_chars=1200)
    assert all(len(u.text) <= 1200 for u in units) and sum(u.text.count("a.") for u in units) == 200_000


def test_19_mb_without_a_space_is_cut_to_size(tmp_path):
    limit = default_params().segment.max_sentence_chars
    f = tmp_path / "nospace.txt"
    raw = "A" + "x" * (19 * 1024 * 1024)
    f.write_text(raw, encoding="utf-8")
    with within(15.0, "19 MB without a space"):  # about 3 s here
        doc = read_document(f)
        units = segment(doc, max_sentence_chars=limit)
    assert len(units) > 16_000 and max(len(u.text) for u in units) <= limit
    assert "".join(u.text for u in units) == raw  # nothing lost, nothing invented
    assert {u.kind for u in units} == {"sentence"}


def test_a_long_line_is_never_a_heading():
    # a capitalised word of 5,000 characters with no end punctuation looked like a heading
    units = segment_text("Overall effectiveness: " + "a" * 5000, max_sentence_chars=1200)
    assert {u.kind for u in units} == {"sentence"} and max(len(u.text) for u in units) <= 1200


def test_split_long_hard_cut_covers_the_text():
    spans = _split_long("x" * 5000, 100, 1200)
    assert spans == [(100, 1300), (1300, 2500), (2500, 3700), (3700, 4900), (4900, 5100)]
