"""Ingestion on real reports: clean prose, no page furniture, clear errors on bad input."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from pipeline.errors import InputError
from pipeline.ingest import clean_pages, clean_text, document_from_text, iter_input_files, read_document
from pipeline.segment import segment

FOOTER = re.compile(
    r"©|Crown copyright|Piccadilly Gate|enquiries@ofsted|0300 123 1231|Textphone|www\.gov\.uk/ofsted"
    r"|Open Government Licence|nationalarchives"
)


def _running_lines(pdf_path: Path) -> set[str]:
    """Lines standing at the top or bottom of at least half the pages (digits folded)."""
    pdf = pdfium.PdfDocument(str(pdf_path))
    edges: collections.Counter[str] = collections.Counter()
    for page in pdf:
        lines = [ln.strip() for ln in page.get_textpage().get_text_range().splitlines() if ln.strip()]
        for ln in set(lines[:3] + lines[-2:]):
            edges[re.sub(r"\d+", "#", ln)] += 1
    n = len(pdf)
    pdf.close()
    return {ln for ln, c in edges.items() if c >= max(3, n // 2) and len(ln) > 3}


@pytest.mark.slow  # reads all 108 corpus PDFs
def test_no_page_furniture_in_any_sentence_of_the_corpus_pdfs(corpus_pdfs):
    leaks = []
    for path in corpus_pdfs:
        running = _running_lines(path)
        for s in segment(read_document(path)):
            folded = re.sub(r"\d+", "#", s.text)
            if s.text.startswith("Inspection dates"):  # the cover line, not a running header
                continue
            if any(h in folded for h in running) or FOOTER.search(s.text) or re.fullmatch(r"\d+", s.text):
                leaks.append((path.name, s.text[:120]))
    assert not leaks, leaks[:10]


def test_footnote_block_and_marker_removed(params):
    doc = read_document(params.paths.corpus_pdf / "barnsley_2014-08-08.pdf")
    assert "Ofsted produces this report under its power" not in doc.text
    assert "safeguarding children board\n" in doc.text  # "board1" lost its footnote marker
    assert "2.1 Adoption performance" in doc.text  # a numbered heading keeps its number


def test_hyphen_at_line_break_is_mended(params):
    doc = read_document(params.paths.corpus_pdf / "bath_and_north_east_somerset_2025-08-05.pdf")
    assert "good-quality support" in doc.text
    assert "\ufffe" not in doc.text


def test_layout_lines_are_rejoined_into_paragraphs(params):
    doc = read_document(params.paths.corpus_text / "barnet_2024-07-23.txt")
    assert (
        "An impressive multi-agency safeguarding hub (MASH) is overseen by a confident and experienced manager."
        in doc.text
    )


def test_ofsted_boilerplate_removed_from_text_corpus(params):
    doc = read_document(params.paths.corpus_text / "barnet_2024-07-23.txt")
    assert "Piccadilly Gate" not in doc.text
    assert "regulates and inspects to achieve excellence" not in doc.text
    assert "Inspection of Barnet local authority children’s services" not in doc.text
    assert doc.text.rstrip().endswith("it felt like ‘coming home’.")


def test_news_article_keeps_one_paragraph_per_line(seeds):
    doc = read_document(seeds[0])
    lines = doc.text.split("\n")
    assert "Tel: 01206 878178Contact Us" in lines
    assert lines[0] == "Deterioration of services at Wokingham"


def test_html_page_loses_navigation_and_comment_rules(tmp_path, seeds):
    body = seeds[0].read_text(encoding="utf-8").split("\n\n")
    paras = "".join(f"<p>{p}</p>" for p in body[1:8])
    html = (
        "<html><head><title>x</title><script>var a=1;</script></head><body>"
        "<nav><a href='/'>Home</a><a href='/news'>News</a></nav>"
        f"<article><h1>{body[0]}</h1>{paras}<p>READ MORE: Council pledges action</p></article>"
        "<div class='comments'><p>Comments are moderated. Please keep comments polite.</p></div>"
        "<footer>Cookie settings | Privacy</footer></body></html>"
    )
    f = tmp_path / "article.html"
    f.write_text(html, encoding="utf-8")
    doc = read_document(f)
    assert doc.kind == "html"
    assert "Home" not in doc.text and "READ MORE" not in doc.text and "Cookie" not in doc.text
    assert "Comments are moderated" not in doc.text
    assert "marked deterioration" in doc.text


def test_docx_is_read(tmp_path, seeds):
    import docx

    d = docx.Document()
    for para in seeds[1].read_text(encoding="utf-8").split("\n\n")[:6]:
        d.add_paragraph(para)
    f = tmp_path / "report.docx"
    d.save(str(f))
    doc = read_document(f)
    assert doc.kind == "docx"
    assert "Wakefield strengthens front door activity" in doc.text.split("\n")


def test_pasted_text_is_cleaned_like_a_file(params):
    raw = (params.paths.corpus_text / "barnet_2024-07-23.txt").read_text(encoding="utf-8")
    assert document_from_text(raw, "barnet").text == read_document(params.paths.corpus_text / "barnet_2024-07-23.txt").text


# --------------------------------------------------------------------------- #
# Bad input: one clear message naming the file
# --------------------------------------------------------------------------- #
def _pdf_bytes(params) -> bytes:
    return (params.paths.corpus_pdf / "barnsley_2014-08-08.pdf").read_bytes()


def test_corrupt_pdf(tmp_path, params):
    f = tmp_path / "corrupt.pdf"
    f.write_bytes(_pdf_bytes(params)[:4000])
    with pytest.raises(InputError, match=r"corrupt\.pdf: not a readable PDF"):
        read_document(f)


def test_encrypted_pdf(tmp_path, params):
    from pypdf import PdfReader, PdfWriter

    src = tmp_path / "plain.pdf"
    src.write_bytes(_pdf_bytes(params))
    w = PdfWriter()
    for page in PdfReader(str(src)).pages[:2]:
        w.add_page(page)
    w.encrypt(user_password="secret", owner_password="owner")
    f = tmp_path / "locked.pdf"
    with f.open("wb") as fh:
        w.write(fh)
    with pytest.raises(InputError, match=r"locked\.pdf: the PDF is encrypted"):
        read_document(f)


def test_scanned_pdf_without_text_layer(tmp_path):
    pdf = pdfium.PdfDocument.new()
    pdf.new_page(595, 842)
    f = tmp_path / "scan.pdf"
    pdf.save(str(f))
    with pytest.raises(InputError, match=r"scan\.pdf: the PDF has no text layer"):
        read_document(f)


def test_empty_file(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("")
    with pytest.raises(InputError, match=r"empty\.txt: the file is empty"):
        read_document(f)


def test_binary_file_named_txt(tmp_path):
    f = tmp_path / "image.txt"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputError, match=r"image\.txt: looks like a binary file"):
        read_document(f)


def test_non_utf8_text(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("Children’s services are good. Café".encode("cp1252"))
    with pytest.raises(InputError, match=r"latin1\.txt: not UTF-8 text"):
        read_document(f)


def test_huge_file_is_refused_without_reading_it(tmp_path):
    f = tmp_path / "huge.txt"
    with f.open("wb") as fh:
        fh.truncate(100 * 1024 * 1024)
    with pytest.raises(InputError, match=r"huge\.txt: 100 MB is over the 50 MB limit"):
        read_document(f, max_mb=50)


def test_unsupported_suffix(tmp_path):
    f = tmp_path / "sheet.xls"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"sheet\.xls: unsupported file type"):
        read_document(f)


def test_directories_expand_recursively(tmp_path, seeds):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.txt").write_text("Text.")
    (tmp_path / "a" / "ignore.png").write_bytes(b"\x89PNG")
    assert [p.name for p in iter_input_files([tmp_path])] == ["x.txt"]


def test_clean_pages_is_pure_and_idempotent_on_clean_text(seeds):
    text = clean_text(seeds[2].read_text(encoding="utf-8"))
    assert clean_text(text) == text
    assert clean_pages([""]) == ""
