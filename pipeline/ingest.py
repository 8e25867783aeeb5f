"""Ingest: a report file (PDF, text, HTML, DOCX) -> clean report prose.

Output is a :class:`Document` whose ``text`` holds one logical line per
paragraph, heading or bullet item: lines broken by the PDF layout are re-joined,
words hyphenated across lines are mended, and what is not report prose is gone
(running page headers, page numbers, footnote markers and blocks, Ofsted's
address and copyright boilerplate, web navigation and comment rules).

Public surface: :class:`Document` (with the PDF page of every offset: :func:`page_at`),
:func:`read_document`, :func:`clean_pages` / :func:`clean_pages_mapped`,
:func:`iter_input_files`, :data:`SUPPORTED_SUFFIXES`.

Everything here runs on untrusted text in time linear in its length: every
pattern is anchored and written so that no two quantifiers can share the same
characters (possessive ``*+``/``++`` and atomic groups where they could), lines
are dropped by index and paragraphs joined through lists, never by front-of-list
removal or repeated string concatenation; tests/hostile/ holds the inputs that
once took minutes.  What a file may inflate to is capped before it is inflated
(ingest.max_text_mb, ingest.max_inflated_mb, ingest.max_zip_ratio in params.yaml).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from pipeline.errors import InputError
from pipeline.schema import HEADING_RE
from pipeline.schema import HEADING_START_RE as _HEADING_START_RE

SUPPORTED_SUFFIXES = {".pdf", ".txt", ".text", ".md", ".html", ".htm", ".docx"}

BULLET_CHARS = "◼•●▪■◾►▶‣⁃∙\uf000-\uf0ff"  # the last: Symbol/Wingdings glyphs in private use
_BULLET_START = re.compile(rf"^\s*+(?:[{BULLET_CHARS}]|[-–*](?=\s))")
# a run of blanks is tried once, from its start (a search from every blank of a long run is quadratic)
_INLINE_BULLET = re.compile(rf"(?<![ \t])[ \t]++(?=[{BULLET_CHARS}][ \t])")
_NUMBERED_START = re.compile(r"^\s*+\d{1,3}\.\s++\S")


@dataclass(frozen=True)
class Document:
    """A report reduced to clean prose, one logical line per paragraph."""

    report_id: str
    text: str
    source: str = ""
    kind: str = "text"
    title: str = ""  # the report's own title line, e.g. "Inspection of Barnet local authority children's services"
    # PDFs: the offset in ``text`` where each page's prose starts (page N starts at page_starts[N - 1];
    # a page with no prose starts where the next one does); empty for other inputs
    page_starts: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding the character at ``offset`` of ``text`` (None if not a PDF)."""
        return page_at(self.page_starts, offset)


def page_at(page_starts: Sequence[int], offset: int) -> int | None:
    """The 1-based page of ``offset`` given sorted page start offsets (None when there are none)."""
    return bisect_right(page_starts, offset) or (1 if page_starts else None)


# --------------------------------------------------------------------------- #
# Line patterns for what is not report prose
# --------------------------------------------------------------------------- #
_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_PAGE_NUMBER = re.compile(r"^\s*+(?:page\s++)?\d{1,3}(?:\s++of\s++\d{1,3})?\s*+$", re.I)
# "Inspection of Barnet local authority children's services", with or without the
# inspection dates and page number after it, and older running titles
# Linear form: the optional place-name prefix "[A-Z][\w’'&,. -]+\s+" becomes "[A-Z](?:[class]*[class
# but space]|[ ])\s+" (the same strings, but the blank run before "Inspection" is read once, not once per
# blank); the date's runs of digits and blanks are possessive (what follows each starts with a letter or
# a dash, so no run ever has to give characters back).
_RUNNING_TITLE = re.compile(
    r"^\s*+(?:[A-Z](?:[\w’'&,. -]*[\w’'&,.\-]|[ ])\s+)?Inspection of\s.{0,120}?"
    r"(?:children[’']s\s+services|children\s+board(?::.*)?|children\s+services|care\s+services|looked after children)"
    rf"(?:\s*+\(?[\d\s]*+(?:{_MONTHS})?[\d\s]*+(?:to|–|-)?[\d\s]*+(?:{_MONTHS})\s++\d{{4}}\)?)?"
    r"\s*+(?:\d{1,3})?\s*+$",
    re.I,
)
_RUNNING_TITLE_START = re.compile(r"^\s*+Inspection of\s++(?:the\s++)?[A-Z].{0,80}$")
# a line of nothing but dates and a page number: "10 to 14 June 2024 2",
# "5 to 9 December 2022 and 14 to 15 February 2023 2", "(2 to 6 March 2020) 4"
# "(?:\d{1,4}\s*)+" could split a run of digits in exponentially many ways (40 digits and a letter
# never finished); a digit run of any length is what it matched, so: "\d++", every token atomic.
_DATE_TOKENS = re.compile(rf"^\s*+(?:(?:\d++|{_MONTHS}|to|and|[–\-,().])\s*+)++$")
_HAS_MONTH_YEAR = re.compile(rf"{_MONTHS}\.?,?\s++\d{{4}}")




def _is_date_line(line: str) -> bool:
    return bool(_DATE_TOKENS.match(line) and _HAS_MONTH_YEAR.search(line))

_FOOTNOTE_LINE = re.compile(r"^\s*(\d{1,2})(?:\s+\S.*)?$")
_FOOTNOTE_START = re.compile(r"^\s*+(\d{1,2})\s++[A-Z‘“'\"(]|^\s*+(\d{1,2})\s*+$")
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
    # Lines are dropped by moving two indices and slicing once: removing from the front
    # of a list one line at a time is quadratic (200,000 leading blank lines took 44 s).
    top, end = 0, len(lines)
    changed = True
    while changed and top < end:
        changed = False
        while top < end and not lines[top].strip():
            top += 1
            changed = True
        if top == end:
            break
        first = lines[top]
        if _PAGE_NUMBER.match(first) or _is_date_line(first) or _RUNNING_TITLE.match(first):
            top += 1
            changed = True
        elif _RUNNING_TITLE_START.match(first) and end - top > 1:
            # a running title wrapped over two or three lines
            for n in (2, 3):
                joined = " ".join(x.strip() for x in lines[top : top + n])
                if _RUNNING_TITLE.match(joined):
                    top = min(top + n, end)
                    changed = True
                    break
    # bottom of page
    while end > top and (not lines[end - 1].strip() or _PAGE_NUMBER.match(lines[end - 1]) or _is_date_line(lines[end - 1])):
        end -= 1
    return list(lines[top:end])


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


_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class _Joined:
    """A paragraph grown by :func:`_join` line after line, in time linear in its length.

    ``_join(_join(a, b), c)...`` copies the whole paragraph at every line (a file of
    a million short lowercase lines is one paragraph); this keeps the pieces in a list
    and looks only at the paragraph's last characters, with the same result.
    """

    __slots__ = ("parts", "size")

    def __init__(self, first: str) -> None:
        self.parts = [first]
        self.size = len(first)  # the length of text(), kept up to date

    def _rstrip(self) -> None:
        parts = self.parts
        while parts:
            last = parts[-1]
            kept = last.rstrip()
            if kept:
                if len(kept) != len(last):
                    parts[-1] = kept
                    self.size -= len(last) - len(kept)
                return
            self.size -= len(last)
            parts.pop()

    def _tail(self, n: int) -> str:
        out = ""
        for part in reversed(self.parts):
            out = part[-(n - len(out)) :] + out
            if len(out) >= n:
                break
        return out

    def last_char(self) -> str:
        """The last character that is not white space ("" if none)."""
        for part in reversed(self.parts):
            i = len(part)
            while i and part[i - 1].isspace():
                i -= 1
            if i:
                return part[i - 1]
        return ""

    def add(self, line: str) -> None:
        """``self = _join(self, line)``."""
        self._rstrip()
        s = line.strip()
        tail = self._tail(2)
        if tail.endswith((_SOFT_BREAK, "\u00ad")):
            hyphen = "-" if tail.endswith(_SOFT_BREAK) else ""
            self.parts[-1] = self.parts[-1][:-1] + hyphen
            self.parts.append(s)
            self.size += len(hyphen) - 1 + len(s)
        elif len(tail) == 2 and tail[0] in _ASCII_LETTERS and tail[1] == "-" and s[:1].islower():
            self.parts.append(s)  # keep the hyphen of a compound split at the line end
            self.size += len(s)
        else:
            self.parts.append(" ")
            self.parts.append(s)
            self.size += 1 + len(s)

    def text(self) -> str:
        return "".join(self.parts)


def _remove_markers(text: str, numbers: set[str], offsets: list[int] | None = None) -> str:
    """Drop footnote reference numbers glued to words ("Board1", "improve?1").

    ``offsets`` (sorted offsets into ``text``) are moved in place to the same characters
    of the result.
    """
    for num in sorted(numbers, key=len, reverse=True):
        pattern = rf"(?:(?<=[A-Za-z’'”\")?:])|(?<=[a-z]\.)){num}(?=[\s.,;:]|$)"
        if offsets is None:
            text = re.sub(pattern, "", text)
            continue
        cuts = [m.span() for m in re.finditer(pattern, text)]
        if cuts:
            text = re.sub(pattern, "", text)
            _shift(offsets, cuts)
    return text


def _shift(offsets: list[int], cuts: list[tuple[int, int]]) -> None:
    """Move sorted ``offsets`` as if the sorted, disjoint spans ``cuts`` were deleted (one merge pass)."""
    removed, j = 0, 0
    for i, off in enumerate(offsets):
        while j < len(cuts) and cuts[j][1] <= off:
            removed += cuts[j][1] - cuts[j][0]
            j += 1
        inside = cuts[j][0] if j < len(cuts) and cuts[j][0] < off else off  # an offset inside a cut: its start
        offsets[i] = inside - removed


_LAYOUT_MAX_LINE = 160  # PDF layout lines are shorter; many longer lines mean one paragraph per line


def clean_pages(pages: Iterable[str], layout: bool | None = None) -> str:
    """Raw page texts -> clean prose, one logical line per paragraph / heading / bullet.

    ``layout``: True when lines were wrapped by a page layout (PDF text) and must
    be re-joined; False when every line is already a paragraph (news articles,
    HTML, DOCX); None decides from the longest line.
    """
    return clean_pages_mapped(pages, layout)[0]


def clean_pages_mapped(pages: Iterable[str], layout: bool | None = None) -> tuple[str, tuple[int, ...]]:
    """:func:`clean_pages`, and the offset in the clean text where each page's prose starts.

    A page with no prose left (a cover, a page of boilerplate) starts where the next
    page's prose does, so the offsets are sorted and :func:`page_at` finds a page by
    bisection.  A paragraph running on over a page break is one paragraph; the page
    start falls inside it, where the next page's words begin.
    """
    pages = list(pages)
    if layout is None:
        lengths = [len(ln) for p in pages for ln in p.splitlines() if ln.strip()]
        layout = sum(n > _LAYOUT_MAX_LINE for n in lengths) <= 0.05 * len(lengths)
    blocks: list[str] = []
    block_pages: list[int] = []  # the page (0-based) each block comes from (a block never spans pages here)
    footnotes: set[str] = set()
    in_boilerplate = False
    for page_no, page in enumerate(pages):
        page = page.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
        page = page.replace(_SOFT_BREAK + "\n", _SOFT_BREAK)
        page = _INLINE_BULLET.sub("\n", page)
        lines = [ln.rstrip() for ln in page.split("\n")]
        lines = _strip_page_edges(lines)
        lines, notes = _split_footnotes(lines)
        footnotes |= notes
        current: _Joined | None = None
        last = ""
        first_block = len(blocks)
        for raw in lines:
            line = raw.strip()
            if in_boilerplate:
                continue
            if _BOILERPLATE_START.match(line):
                in_boilerplate = True
                continue
            if not line or _SEPARATOR.match(line):
                if current:
                    blocks.append(current.text())
                current = None
                continue
            if _BOILERPLATE_LINE.match(line) or _PAGE_NUMBER.match(line) or _RUNNING_TITLE.match(line):
                continue
            if current is None:
                current = _Joined(line)
            elif not layout or _is_new_block(last, line):
                blocks.append(current.text())
                current = _Joined(line)
            else:
                current.add(line)
            last = line
        if current:
            # a paragraph may run on over the page break: keep it open only if it
            # plainly continues (no end punctuation), else close it.
            blocks.append(current.text())
        block_pages.extend([page_no] * (len(blocks) - first_block))
    blocks, marks = _merge_page_runons(blocks, block_pages)
    # page starts: where each page's first block (or the first words it adds to a run-on) lands in the text
    starts: list[int] = []
    page_of_start: list[int] = []
    parts: list[str] = []
    pos = 0
    for b, block_marks in zip(blocks, marks):
        if not b.strip():
            continue
        cleaned = re.sub(r"[ \t]+", " ", b).strip()
        for off, page_no in _collapsed_offsets(b, block_marks):
            starts.append(pos + off)
            page_of_start.append(page_no)
        parts.append(cleaned)
        pos += len(cleaned) + 1
    text = "\n".join(parts)
    text = text.replace(_SOFT_BREAK, "-")
    if footnotes:
        text = _remove_markers(text, footnotes, starts)
    return text, _page_starts(starts, page_of_start, len(pages), len(text))


def _collapsed_offsets(block: str, marks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``marks`` ((offset in ``block`` of a non-blank character, page)) moved to the same characters of
    ``re.sub(r"[ \t]+", " ", block).strip()``, in one pass over the block's blank runs."""
    if len(marks) == 1 and marks[0][0] == 0:
        return marks  # the usual case: the block starts its page's prose; its first character is kept
    lead = len(block) - len(block.lstrip())
    out = []
    runs = re.finditer(r"[ \t]{2,}", block)
    removed = 0
    run = next(runs, None)
    for off, page_no in marks:
        while run is not None and run.end() <= off:
            if run.start() >= lead:  # leading blanks are counted by ``lead`` instead
                removed += run.end() - run.start() - 1
            run = next(runs, None)
        out.append((max(0, off - removed - lead), page_no))
    return out


def _page_starts(starts: list[int], page_of_start: list[int], n_pages: int, end: int) -> tuple[int, ...]:
    """One start offset per page (0-based page i at index i), a page without prose taking the next page's start."""
    first: dict[int, int] = {}
    for off, page_no in zip(starts, page_of_start):
        first.setdefault(page_no, off)
    out = [end] * n_pages
    nxt = end
    for page_no in range(n_pages - 1, -1, -1):
        nxt = first.get(page_no, nxt)
        out[page_no] = nxt
    if out:
        out[0] = 0
    return tuple(out)


def _merge_page_runons(blocks: list[str], block_pages: list[int] | None = None) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """Join a paragraph cut by a page break: previous block ends mid-sentence, next starts lowercase.

    Also returns, per joined block, (offset in the block, page) where a page's words begin in it.
    """
    pages = block_pages if block_pages is not None else [0] * len(blocks)
    out: list[str] = []
    marks: list[list[tuple[int, int]]] = []
    open_: _Joined | None = None  # out[-1] while it may still grow (joined as a list, not copied per block)
    open_marks: list[tuple[int, int]] = []
    for b, page_no in zip(blocks, pages):
        s = b.lstrip()
        if open_ is not None and s and s[0].islower() and open_.last_char() not in (".", "?", "!", ":"):
            open_.add(s)
            if page_no != open_marks[-1][1]:
                open_marks.append((open_.size - len(s.strip()), page_no))
        else:
            if open_ is not None:
                out.append(open_.text())
                marks.append(open_marks)
            open_ = _Joined(b)
            open_marks = [(0, page_no)]
    if open_ is not None:
        out.append(open_.text())
        marks.append(open_marks)
    return out, marks


_TITLE = re.compile(
    r"(?:[A-Z](?:[\w’'&,. -]*[\w’'&,.\-]|[ ])\s+)?(?:Inspection|Monitoring visit|Focused visit) (?:of|to) .{3,160}?"
    r"(?:children[’']s services|children services|looked after children|care leavers)",
    re.S,
)
# The title is looked for in the first 60 words; a search from every capital letter of a
# long run of word characters costs the square of the run, so the head is cut to this many
# characters (the corpus's longest 60-word head is about 500).
_TITLE_HEAD_CHARS = 2000


def find_title(first_page: str) -> str:
    """The report title on its first page (running headers repeat it), whitespace-normalised."""
    words: list[str] = []
    size = 0
    for m in re.finditer(r"\S+", first_page):  # not split(): a page may be megabytes long
        words.append(m.group())
        size += len(words[-1]) + 1
        if len(words) == 60 or size > _TITLE_HEAD_CHARS:
            break
    head = " ".join(words)[:_TITLE_HEAD_CHARS]
    m = _TITLE.search(head)
    return m.group(0).strip() if m else ""


# --------------------------------------------------------------------------- #
# Readers (I/O at the edge)
# --------------------------------------------------------------------------- #
# A page of pasted text starts at a running header "Inspection of ... children's services".
# (Once one split pattern "(?m)^(?=\s*Inspection of ...)": its "\s*" read every run of blank
# lines again from each of its lines, quadratic in the run.)
_RUNNING_HEADER_LINE = re.compile(r"(?m)^[^\S\n]*+(?=Inspection of .{0,120}children[’']s\s+services\s*$)")

_MB = 1024 * 1024
# Limits on what a file may inflate to; the defaults are params.yaml's ingest block
# (callers pass params.ingest through :func:`ingest_limits`).
DEFAULT_MAX_TEXT_MB = 50.0
DEFAULT_MAX_INFLATED_MB = 200.0
DEFAULT_MAX_ZIP_RATIO = 100.0
_RATIO_MIN_BYTES = _MB  # an entry that inflates to less than this is harmless whatever its ratio


def ingest_limits(ingest: object) -> dict[str, float]:
    """The keyword limits of :func:`read_document` from params' ``ingest`` block."""
    return {
        "max_text_mb": ingest.max_text_mb,  # type: ignore[attr-defined]
        "max_inflated_mb": ingest.max_inflated_mb,  # type: ignore[attr-defined]
        "max_zip_ratio": ingest.max_zip_ratio,  # type: ignore[attr-defined]
    }


def text_too_long(path: Path | str, max_text_mb: float, where: str = "") -> InputError:
    return InputError(
        f"{path}: its text{where} runs past the {max_text_mb:g} MB limit (ingest.max_text_mb in params.yaml); "
        "split the document and retry."
    )


def _read_pdf_pages(path: Path, max_text_mb: float = DEFAULT_MAX_TEXT_MB) -> list[str]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        if "password" in msg:
            raise InputError(f"{path}: the PDF is encrypted; save an unprotected copy and retry.")
        raise InputError(f"{path}: not a readable PDF ({exc}); check the file is a complete PDF.")
    limit = int(max_text_mb * _MB)
    total = 0
    try:
        pages = []
        for i, page in enumerate(pdf):
            textpage = page.get_textpage()
            try:
                # counted before it is copied out: a small PDF can hold hundreds of MB of text
                total += textpage.count_chars()
                if total > limit:
                    raise text_too_long(path, max_text_mb, f" (by page {i + 1})")
                pages.append(textpage.get_text_range())
            finally:
                textpage.close()
                page.close()
    finally:
        pdf.close()
    if sum(len(p.strip()) for p in pages) < 20:
        raise InputError(
            f"{path}: the PDF has no text layer (a scanned image?); run OCR on it first, then retry."
        )
    return pages


def decode_text(path: Path, data: bytes) -> str:
    """Bytes of a text input as str: refused (InputError) if empty, binary or not UTF-8."""
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
    # Each header line starts a page; the blank lines just before it belong to no page
    # (as when every line start of that blank run was a split point).
    cuts: list[int] = []
    for m in _RUNNING_HEADER_LINE.finditer(text):
        q = m.end()  # the header's first character
        r = q
        while r > 0 and text[r - 1].isspace():
            r -= 1
        first_blank_line = 0 if r == 0 else text.index("\n", r, q) + 1
        cuts += [first_blank_line, m.start()]
    bounds = [0, *cuts, len(text)]
    return [p for p in (text[a:b] for a, b in zip(bounds, bounds[1:])) if p.strip()]


_WEB_NOISE = re.compile(
    r"^\s*(?:READ MORE\b.*|Read more\b.*|Related\b.*|Share this\b.*|Comments?\b.*|Leave a comment.*|"
    r"Sign up\b.*|Subscribe\b.*|Advertisement|Cookie.*|We use cookies.*|Accept all.*|Skip to .*|Menu|Search|"
    r"Watch:.*|Most read.*|Please (?:keep|read|note) .{0,30}comment.*|Comments are .*|Posting rules.*|"
    r"Tags?:.*|Print this.*|Email this.*|Follow us.*|Back to top)\s*$",
)


_HTML_UNITS = frozenset(["h1", "h2", "h3", "h4", "p", "li", "blockquote"])


def _html_units(root: object, path: Path, max_text_mb: float) -> list[str]:
    """``el.get_text(" ")`` of every h1-h4/p/li/blockquote under ``root`` that holds no p or li,
    in document order, computed in one walk of the tree.

    (Asking bs4 ``el.find(["p", "li"])`` and ``el.get_text()`` element by element costs the
    depth of the tree each time: 20,000 nested lists took 45 s.)  Elements nested in one
    another repeat each other's text; the total is checked against ``max_text_mb`` before
    any of it is built.
    """
    from bs4 import NavigableString, Tag

    strings: list[NavigableString] = []
    lengths = [0]  # running total of string lengths, to size a unit before building it
    units: list[list] = []  # [tag, first string, end string, holds a p/li]
    n_pli = 0
    stack: list[tuple[Iterator, list | None, int]] = [(iter(root.contents), None, 0)]  # type: ignore[attr-defined]
    while stack:
        children, unit, pli_at_entry = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if unit is not None:
                unit[2] = len(strings)
                unit[3] = n_pli > pli_at_entry
            continue
        if isinstance(child, NavigableString):
            strings.append(child)
            lengths.append(lengths[-1] + len(child) + 1)
        elif isinstance(child, Tag):
            rec = None
            if child.name in _HTML_UNITS:
                rec = [child, len(strings), len(strings), False]
                units.append(rec)
            if child.name in ("p", "li"):
                n_pli += 1  # counted before entering it: only p/li inside it count for it
            stack.append((iter(child.contents), rec, n_pli))
    keep = [u for u in units if not u[3]]
    if sum(lengths[b] - lengths[a] for _, a, b, _ in keep) > max_text_mb * _MB:
        raise text_too_long(path, max_text_mb)
    parts = []
    for el, a, b, _ in keep:
        types = el.interesting_string_types  # what bs4's get_text() keeps
        if types is None:
            types = Tag.MAIN_CONTENT_STRING_TYPES
        if isinstance(types, type):
            types = (types,)
        txt = " ".join(w for s in strings[a:b] if type(s) in types for w in s.split())
        if txt:
            parts.append(("- " + txt) if el.name == "li" else txt)
    return parts


def _read_html(path: Path, data: bytes, max_text_mb: float = DEFAULT_MAX_TEXT_MB) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "iframe", "svg"]):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    parts = _html_units(root, path, max_text_mb)
    if not parts:
        parts = [ln for ln in root.get_text("\n").split("\n") if ln.strip()]
    return "\n\n".join(p for p in parts if not _WEB_NOISE.match(p))


def _docx_refusal(path: Path, max_inflated_mb: float, max_zip_ratio: float) -> str | None:
    """Why the DOCX at ``path`` must not be opened (zip bomb, DTD, bad XML), else None.

    Sizes are the ones the zip declares, checked before anything is inflated; zipfile
    never inflates an entry past its declared size (it fails the CRC check instead).
    """
    import zipfile

    from lxml import etree

    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total > max_inflated_mb * _MB:
            return (
                f"{path}: the DOCX would inflate to {total / _MB:,.0f} MB, over the {max_inflated_mb:g} MB limit "
                "(ingest.max_inflated_mb in params.yaml); refused as a possible zip bomb."
            )
        for i in infos:
            if i.file_size > _RATIO_MIN_BYTES and i.file_size > max_zip_ratio * max(i.compress_size, 1):
                return (
                    f"{path}: '{i.filename}' in the DOCX inflates {i.file_size / max(i.compress_size, 1):,.0f} times, "
                    f"over the {max_zip_ratio:g} limit (ingest.max_zip_ratio in params.yaml); refused as a possible zip bomb."
                )
        if "word/document.xml" not in {i.filename for i in infos}:
            return f"{path}: not a Word document (it has no word/document.xml); save it from Word as .docx and retry."
        # Defused XML: no DTD (so no entities to expand), no network, no huge trees.
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
        for i in infos:
            if not i.filename.endswith((".xml", ".rels")):
                continue
            blob = zf.read(i)
            dtd = any(marker in blob for marker in _DOCTYPE_MARKERS)
            if not dtd:
                try:
                    tree = etree.fromstring(blob, parser).getroottree()
                except etree.XMLSyntaxError:
                    return f"{path}: '{i.filename}' in the DOCX is not well-formed XML; re-save it from Word and retry."
                dtd = bool(tree.docinfo.doctype) or tree.docinfo.internalDTD is not None
            if dtd:
                return (
                    f"{path}: '{i.filename}' in the DOCX declares a DTD (entities), which Word never writes; "
                    "refused: re-save it from Word and retry."
                )
    return None


_DOCTYPE_MARKERS = tuple(m.encode(enc) for m in ("<!DOCTYPE", "<!doctype") for enc in ("utf-8", "utf-16-le", "utf-16-be"))


def _read_docx(
    path: Path,
    max_text_mb: float = DEFAULT_MAX_TEXT_MB,
    max_inflated_mb: float = DEFAULT_MAX_INFLATED_MB,
    max_zip_ratio: float = DEFAULT_MAX_ZIP_RATIO,
) -> str:
    import docx

    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; nothing to tag.")
    try:
        refusal = _docx_refusal(path, max_inflated_mb, max_zip_ratio)
        if refusal is None:
            d = docx.Document(str(path))
    except MemoryError:
        raise
    except Exception as exc:  # not a zip, truncated, damaged entries, encrypted, ...: python-docx and zipfile raise many kinds
        raise InputError(
            f"{path}: not a readable DOCX file ({exc.__class__.__name__}); re-save it from Word as .docx and retry."
        ) from None
    if refusal is not None:
        raise InputError(refusal)
    limit = max_text_mb * _MB
    texts, size = [], 0
    for p in d.paragraphs:
        t = p.text
        if t.strip():
            size += len(t) + 2
            if size > limit:
                raise text_too_long(path, max_text_mb)
            texts.append(t)
    return "\n\n".join(texts)


def _pdf_document(path: Path, report_id: str, max_text_mb: float) -> Document:
    pages = _read_pdf_pages(path, max_text_mb)
    text, page_starts = clean_pages_mapped(pages, layout=True)
    return Document(report_id, text, str(path), "pdf", find_title(pages[0]), page_starts)


def read_document(
    path: Path | str,
    max_mb: float = 50.0,
    report_id: str | None = None,
    *,
    max_text_mb: float = DEFAULT_MAX_TEXT_MB,
    max_inflated_mb: float = DEFAULT_MAX_INFLATED_MB,
    max_zip_ratio: float = DEFAULT_MAX_ZIP_RATIO,
) -> Document:
    """Read one file of any supported kind into a clean :class:`Document`.

    Raises :class:`InputError` with a one-sentence message for unreadable input, and
    for input whose text would run past ``max_text_mb`` or, for a DOCX, whose zip
    entries would inflate past ``max_inflated_mb`` or by more than ``max_zip_ratio``
    (params.yaml's ingest block: pass ``**ingest_limits(params.ingest)``).
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
        return _pdf_document(path, rid, max_text_mb)
    if suffix == ".docx":
        return Document(rid, clean_text(_read_docx(path, max_text_mb, max_inflated_mb, max_zip_ratio)), str(path), "docx")
    data = path.read_bytes()
    if data[:5] == b"%PDF-":
        return _pdf_document(path, rid, max_text_mb)
    text = decode_text(path, data)
    if len(text) > max_text_mb * _MB:
        raise text_too_long(path, max_text_mb)
    if suffix in (".html", ".htm") or re.match(r"\s*(?:<!doctype html|<html)", text[:200], re.I):
        return Document(rid, clean_text(_read_html(path, data, max_text_mb)), str(path), "html")
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{path}: unsupported file type '{suffix}'; give a PDF, text, HTML or DOCX file.")
    pages = _text_pages(text)
    return Document(rid, clean_pages(pages), str(path), "text", find_title(pages[0] if pages else ""))


def clean_text(text: str) -> str:
    """Clean text that has no page structure (pasted text, HTML, DOCX, news articles)."""
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if not _WEB_NOISE.match(ln)]
    return clean_pages(["\n".join(lines)], layout=False)


def document_from_text(text: str, report_id: str = "text", *, max_text_mb: float = DEFAULT_MAX_TEXT_MB) -> Document:
    """A pasted text (stdin, HTTP body) as a :class:`Document`; pages split at running headers."""
    if len(text) > max_text_mb * _MB:
        raise text_too_long(f"<{report_id}>", max_text_mb)
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
