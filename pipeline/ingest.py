"""Ingest: a report file (PDF, text, HTML, DOCX) -> clean report prose.

Output is a :class:`Document` whose ``text`` holds one logical line per
paragraph, heading or bullet item: lines broken by the PDF layout are re-joined,
words hyphenated across lines are mended, and what is not report prose is gone
(running page headers, page numbers, footnote markers and blocks, Ofsted's
address and copyright boilerplate, web navigation and comment rules).

Public surface: :class:`Document`, :func:`read_document`, :func:`clean_pages`,
:func:`iter_input_files`, :data:`SUPPORTED_SUFFIXES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.errors import InputError
from pipeline.schema import HEADING_RE
from pipeline.schema import HEADING_START_RE as _HEADING_START_RE

SUPPORTED_SUFFIXES = {".pdf", ".txt", ".text", ".md", ".html", ".htm", ".docx"}

BULLET_CHARS = "◼•●▪■◾►▶‣⁃∙\uf000-\uf0ff"  # the last: Symbol/Wingdings glyphs in private use
_BULLET_START = re.compile(rf"^\s*(?:[{BULLET_CHARS}]|[-–*](?=\s))")
_INLINE_BULLET = re.compile(rf"[ \t]+(?=[{BULLET_CHARS}][ \t])")
_NUMBERED_START = re.compile(r"^\s*\d{1,3}\.\s+\S")


@dataclass(frozen=True)
class Document:
    """A report reduced to clean prose, one logical line per paragraph."""

    report_id: str
    text: str
    source: str = ""
    kind: str = "text"
    title: str = ""  # the report's own title line, e.g. "Inspection of Barnet local authority children's services"


# --------------------------------------------------------------------------- #
# Line patterns for what is not report prose
# --------------------------------------------------------------------------- #
_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,3}(?:\s+of\s+\d{1,3})?\s*$", re.I)
# "Inspection of Barnet local authority children's services", with or without the
# inspection dates and page number after it, and older running titles
_RUNNING_TITLE = re.compile(
    r"^\s*(?:[A-Z][\w’'&,. -]+\s+)?Inspection of\s.{0,120}?(?:children[’']s\s+services|children\s+board(?::.*)?"
    r"|children\s+services|care\s+services|looked after children)"
    rf"(?:\s*\(?[\d\s]*(?:{_MONTHS})?[\d\s]*(?:to|–|-)?[\d\s]*(?:{_MONTHS})\s+\d{{4}}\)?)?\s*(?:\d{{1,3}})?\s*$",
    re.I,
)
_RUNNING_TITLE_START = re.compile(r"^\s*Inspection of\s+(?:the\s+)?[A-Z].{0,80}$")
# a line of nothing but dates and a page number: "10 to 14 June 2024 2",
# "5 to 9 December 2022 and 14 to 15 February 2023 2", "(2 to 6 March 2020) 4"
_DATE_TOKENS = re.compile(rf"^\s*(?:(?:\d{{1,4}}|{_MONTHS}|to|and|[–\-,().])\s*)+$")
_HAS_MONTH_YEAR = re.compile(rf"{_MONTHS}\.?,?\s+\d{{4}}")




def _is_date_line(line: str) -> bool:
    return bool(_DATE_TOKENS.match(line) and _HAS_MONTH_YEAR.search(line))

_FOOTNOTE_LINE = re.compile(r"^\s*(\d{1,2})(?:\s+\S.*)?$")
_FOOTNOTE_START = re.compile(r"^\s*(\d{1,2})\s+[A-Z‘“'\"(]|^\s*(\d{1,2})\s*$")
_BOILERPLATE_START = re.compile(
    r"^\s*(?:The Office for Standards in Education, Children[’']s Services and Skills\b"
    r"|Any complaints about the inspection or the report should be made"
    r"|Ofsted (?:has|regulates) .{0,40}inspects to achieve excellence"
    r"|If you would like a copy of this document in a different format)",
    re.I,
)
_BOILERPLATE_LINE = re.compile(
    r"^\s*(?:©\s*Crown copyright.*|Piccadilly Gate|Store Street|Manchester|M1 2WD|Agora|6 Cumberland Place|"
    r"Nottingham|NG1 6HJ|T:\s*0300 123 1231|Textphone:.*|E:\s*enquiries@ofsted\.gov\.uk|W:\s*www\.gov\.uk/ofsted|"
    r"www\.gov\.uk/ofsted|Crown copyright \d{4}|Reference no:.*|No\. \d{6}|Interested in our work\?.*)\s*$",
    re.I,
)
# Section headings (HEADING_RE, HEADING_START_RE) are in pipeline.schema, the one section table.
_SEPARATOR = re.compile(r"^[\s_\-–—]{3,}$")
_SOFT_BREAK = "\ufffe"  # pdfium marks a hyphen at a line break with U+FFFE


# --------------------------------------------------------------------------- #
# Cleaning (pure): pages of raw lines -> paragraphs
# --------------------------------------------------------------------------- #
def _strip_page_edges(lines: list[str]) -> list[str]:
    """Remove running headers, page numbers and date lines at the top and bottom of a page."""
    lines = list(lines)
    # top of page
    changed = True
    while changed and lines:
        changed = False
        while lines and not lines[0].strip():
            lines.pop(0)
            changed = True
        if not lines:
            break
        first = lines[0]
        if _PAGE_NUMBER.match(first) or _is_date_line(first) or _RUNNING_TITLE.match(first):
            lines.pop(0)
            changed = True
        elif _RUNNING_TITLE_START.match(first) and len(lines) > 1:
            # a running title wrapped over two or three lines
            for n in (2, 3):
                joined = " ".join(x.strip() for x in lines[:n])
                if _RUNNING_TITLE.match(joined):
                    del lines[:n]
                    changed = True
                    break
    # bottom of page
    while lines and (not lines[-1].strip() or _PAGE_NUMBER.match(lines[-1]) or _is_date_line(lines[-1])):
        lines.pop()
    return lines


def _split_footnotes(lines: list[str]) -> tuple[list[str], set[str]]:
    """Cut a footnote block off the bottom of a page; return body and footnote numbers."""
    n = len(lines)
    for i in range(max(0, n - 12), n):
        m = _FOOTNOTE_START.match(lines[i])
        if not m:
            continue
        num = m.group(1) or m.group(2)
        if int(num) == 0 or int(num) > 40:
            continue
        prev = lines[i - 1].strip() if i else ""
        after = lines[i:]
        separated = i > 0 and (not prev or _SEPARATOR.match(lines[i - 1]) is not None)
        ends_sentence = prev.endswith((".", ":", "?", "!", "’", "”", '"', ")")) or not prev
        tail_chars = sum(len(x) for x in after)
        if (separated or ends_sentence) and tail_chars < 900 and len(after) <= 10:
            # A bare number followed by nothing is a page number, not a footnote.
            if m.group(2) and len(after) == 1:
                continue
            body = lines[:i]
            while body and (not body[-1].strip() or _SEPARATOR.match(body[-1])):
                body.pop()
            return body, {num}
    return lines, set()


def _is_new_block(prev: str, line: str) -> bool:
    """Does ``line`` start a new paragraph rather than continue the physical line ``prev``?"""
    if _BULLET_START.match(line) or _NUMBERED_START.match(line) or _HEADING_START_RE.match(line):
        return True
    if HEADING_RE.match(prev):
        return True
    p = prev.rstrip()
    s = line.lstrip()
    if not s:
        return True
    starts_upper = s[0].isupper() or s[0].isdigit() or s[0] in "‘“'\"(["
    if p.endswith((".", "?", "!", ":", ".’", ".”", '."', "?’", "?”")) and starts_upper:
        return True
    # A short line without end punctuation followed by a capital: a heading or table cell.
    if starts_upper and len(p) < 60 and not p.endswith((",", ";", "-", "–", "and", "of", "the", "to", "for", "in")):
        return True
    return False


def _join(prev: str, line: str) -> str:
    p = prev.rstrip()
    s = line.strip()
    if p.endswith(_SOFT_BREAK):
        return p[:-1] + "-" + s
    if p.endswith("\u00ad"):
        return p[:-1] + s
    if re.search(r"[A-Za-z]-$", p) and s[:1].islower():
        return p + s  # keep the hyphen of a compound split at the line end
    return p + " " + s


def _remove_markers(text: str, numbers: set[str]) -> str:
    """Drop footnote reference numbers glued to words ("Board1", "improve?1")."""
    for num in sorted(numbers, key=len, reverse=True):
        text = re.sub(rf"(?:(?<=[A-Za-z’'”\")?:])|(?<=[a-z]\.)){num}(?=[\s.,;:]|$)", "", text)
    return text


_LAYOUT_MAX_LINE = 160  # PDF layout lines are shorter; many longer lines mean one paragraph per line


def clean_pages(pages: Iterable[str], layout: bool | None = None) -> str:
    """Raw page texts -> clean prose, one logical line per paragraph / heading / bullet.

    ``layout``: True when lines were wrapped by a page layout (PDF text) and must
    be re-joined; False when every line is already a paragraph (news articles,
    HTML, DOCX); None decides from the longest line.
    """
    pages = list(pages)
    if layout is None:
        lengths = [len(ln) for p in pages for ln in p.splitlines() if ln.strip()]
        layout = sum(n > _LAYOUT_MAX_LINE for n in lengths) <= 0.05 * len(lengths)
    blocks: list[str] = []
    footnotes: set[str] = set()
    in_boilerplate = False
    for page in pages:
        page = page.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
        page = page.replace(_SOFT_BREAK + "\n", _SOFT_BREAK)
        page = _INLINE_BULLET.sub("\n", page)
        lines = [ln.rstrip() for ln in page.split("\n")]
        lines = _strip_page_edges(lines)
        lines, notes = _split_footnotes(lines)
        footnotes |= notes
        current: str | None = None
        last = ""
        for raw in lines:
            line = raw.strip()
            if in_boilerplate:
                continue
            if _BOILERPLATE_START.match(line):
                in_boilerplate = True
                continue
            if not line or _SEPARATOR.match(line):
                if current:
                    blocks.append(current)
                current = None
                continue
            if _BOILERPLATE_LINE.match(line) or _PAGE_NUMBER.match(line) or _RUNNING_TITLE.match(line):
                continue
            if current is None:
                current = line
            elif not layout or _is_new_block(last, line):
                blocks.append(current)
                current = line
            else:
                current = _join(current, line)
            last = line
        if current:
            # a paragraph may run on over the page break: keep it open only if it
            # plainly continues (no end punctuation), else close it.
            blocks.append(current)
    blocks = _merge_page_runons(blocks)
    text = "\n".join(re.sub(r"[ \t]+", " ", b).strip() for b in blocks if b.strip())
    text = text.replace(_SOFT_BREAK, "-")
    return _remove_markers(text, footnotes) if footnotes else text


def _merge_page_runons(blocks: list[str]) -> list[str]:
    """Join a paragraph cut by a page break: previous block ends mid-sentence, next starts lowercase."""
    out: list[str] = []
    for b in blocks:
        s = b.lstrip()
        if out and s and s[0].islower() and not out[-1].rstrip().endswith((".", "?", "!", ":")):
            out[-1] = _join(out[-1], s)
        else:
            out.append(b)
    return out


_TITLE = re.compile(
    r"(?:[A-Z][\w’'&,. -]+\s+)?(?:Inspection|Monitoring visit|Focused visit) (?:of|to) .{3,160}?"
    r"(?:children[’']s services|children services|looked after children|care leavers)",
    re.S,
)


def find_title(first_page: str) -> str:
    """The report title on its first page (running headers repeat it), whitespace-normalised."""
    head = " ".join(first_page.split()[:60])
    m = _TITLE.search(head)
    return m.group(0).strip() if m else ""


# --------------------------------------------------------------------------- #
# Readers (I/O at the edge)
# --------------------------------------------------------------------------- #
_RUNNING_HEADER_SPLIT = re.compile(r"(?m)^(?=\s*Inspection of .{0,120}children[’']s\s+services\s*$)")


def _read_pdf_pages(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        if "password" in msg:
            raise InputError(f"{path}: the PDF is encrypted; save an unprotected copy and retry.")
        raise InputError(f"{path}: not a readable PDF ({exc}); check the file is a complete PDF.")
    try:
        pages = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        pdf.close()
    if sum(len(p.strip()) for p in pages) < 20:
        raise InputError(
            f"{path}: the PDF has no text layer (a scanned image?); run OCR on it first, then retry."
        )
    return pages


def _decode_text(path: Path, data: bytes) -> str:
    if not data.strip():
        raise InputError(f"{path}: the file is empty; nothing to tag.")
    if b"\x00" in data[:8192]:
        raise InputError(f"{path}: looks like a binary file, not text; give a PDF, text, HTML or DOCX file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (bad byte at offset {exc.start}); convert it to UTF-8 and retry."
        )


def _text_pages(text: str) -> list[str]:
    """Split pypdf-style text into pages at form feeds or running headers."""
    if "\f" in text:
        return text.split("\f")
    return [p for p in _RUNNING_HEADER_SPLIT.split(text) if p.strip()]


_WEB_NOISE = re.compile(
    r"^\s*(?:READ MORE\b.*|Read more\b.*|Related\b.*|Share this\b.*|Comments?\b.*|Leave a comment.*|"
    r"Sign up\b.*|Subscribe\b.*|Advertisement|Cookie.*|We use cookies.*|Accept all.*|Skip to .*|Menu|Search|"
    r"Watch:.*|Most read.*|Please (?:keep|read|note) .{0,30}comment.*|Comments are .*|Posting rules.*|"
    r"Tags?:.*|Print this.*|Email this.*|Follow us.*|Back to top)\s*$",
)


def _read_html(path: Path, data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "iframe", "svg"]):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    parts = []
    for el in root.find_all(["h1", "h2", "h3", "h4", "p", "li", "blockquote"]):
        if el.find(["p", "li"]):
            continue
        txt = " ".join(el.get_text(" ").split())
        if txt:
            parts.append(("- " + txt) if el.name == "li" else txt)
    if not parts:
        parts = [ln for ln in root.get_text("\n").split("\n") if ln.strip()]
    return "\n\n".join(p for p in parts if not _WEB_NOISE.match(p))


def _read_docx(path: Path) -> str:
    import zipfile

    import docx

    try:
        d = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"{path}: not a readable DOCX file ({exc.__class__.__name__}); re-save it from Word.")
    return "\n\n".join(p.text for p in d.paragraphs if p.text.strip())


def read_document(path: Path | str, max_mb: float = 50.0, report_id: str | None = None) -> Document:
    """Read one file of any supported kind into a clean :class:`Document`.

    Raises :class:`InputError` with a one-sentence message for unreadable input.
    """
    path = Path(path)
    rid = report_id or path.stem
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path.")
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise InputError(
            f"{path}: {size / 1048576:.0f} MB is over the {max_mb:g} MB limit (ingest.max_file_mb in params.yaml)."
        )
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        pages = _read_pdf_pages(path)
        return Document(rid, clean_pages(pages, layout=True), str(path), "pdf", find_title(pages[0]))
    if suffix == ".docx":
        return Document(rid, clean_text(_read_docx(path)), str(path), "docx")
    data = path.read_bytes()
    if data[:5] == b"%PDF-":
        pages = _read_pdf_pages(path)
        return Document(rid, clean_pages(pages, layout=True), str(path), "pdf", find_title(pages[0]))
    text = _decode_text(path, data)
    if suffix in (".html", ".htm") or re.match(r"\s*(?:<!doctype html|<html)", text[:200], re.I):
        return Document(rid, clean_text(_read_html(path, data)), str(path), "html")
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{path}: unsupported file type '{suffix}'; give a PDF, text, HTML or DOCX file.")
    pages = _text_pages(text)
    return Document(rid, clean_pages(pages), str(path), "text", find_title(pages[0] if pages else ""))


def clean_text(text: str) -> str:
    """Clean text that has no page structure (pasted text, HTML, DOCX, news articles)."""
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if not _WEB_NOISE.match(ln)]
    return clean_pages(["\n".join(lines)], layout=False)


def document_from_text(text: str, report_id: str = "text") -> Document:
    """A pasted text (stdin, HTTP body) as a :class:`Document`; pages split at running headers."""
    pages = _text_pages(text)
    return Document(report_id, clean_pages(pages), "<text>", "text", find_title(pages[0] if pages else ""))


def iter_input_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Expand files and directories (recursively, sorted) into supported input files."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES and not f.name.startswith("."):
                    yield f
        else:
            yield p
