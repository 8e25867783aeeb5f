"""Segment: clean report prose -> sentences that know where they sit.

Each logical line from :mod:`pipeline.ingest` is a heading, a bullet item, a
numbered paragraph or a plain paragraph.  Headings set the current section (and
the judgement grade where the heading states one); bullets and numbered
paragraphs are their own units; paragraphs are cut into sentences by blingfire
(a fast, MIT-licensed sentence-boundary library), with fragments re-joined where
it cut after an abbreviation or before a lower-case continuation.

Public surface: :func:`segment`, :func:`segment_text` (the :class:`~pipeline.schema.Sentence`
record and :func:`~pipeline.schema.parse_grade` live in :mod:`pipeline.schema`).

Time is linear in the text's length whatever the text: patterns are anchored or
possessive, a unit longer than ``segment.max_sentence_chars`` is cut even where it
has no comma or space, and fragments are re-joined without copying what came before.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Sequence

import blingfire

from pipeline.ingest import BULLET_CHARS, Document
from pipeline.schema import GRADE_ONLY as _GRADE_ONLY
from pipeline.schema import HEADING_RE, Sentence, parse_grade

_MARKER = re.compile(rf"^\s*+(?:[{BULLET_CHARS}]|[-–*](?=\s)|\d{{1,3}}\.(?=\s))\s*+")
_END_PUNCT = (".", "!", "?", ";", ",", ":", "’", "”", '"', "'")
_ABBREV_END = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|cf|vs|viz|approx|No|no|para|paras|Mr|Mrs|Ms|Dr|St|Cllr|Prof|Rev|Jan|Feb|Mar|Apr|Jun|Jul"
    r"|Aug|Sep|Sept|Oct|Nov|Dec)\.)$"
)
_ABBREV_TAIL = 10  # longer than any abbreviation above, with the character before it (for \b)


def _is_heading(line: str, max_words: int) -> bool:
    s = line.strip()
    if HEADING_RE.match(s):
        return True
    if not s or _MARKER.match(s) or s.endswith(_END_PUNCT):
        return False
    words = s.split()
    return len(words) <= max_words and (s[0].isupper() or s[0].isdigit())


def _is_section_heading(line: str) -> bool:
    """Known report headings, or title-like lines of 2+ words that are not a bare grade."""
    s = line.strip()
    if HEADING_RE.match(s):
        return True
    return len(s.split()) >= 2 and not _GRADE_ONLY.match(s) and not re.search(r"\d", s)


def _split_long(text: str, start: int, limit: int) -> list[tuple[int, int]]:
    """Cut a unit longer than ``limit`` characters at '; ' (else ', ', else ' ') boundaries,
    and where there is none of these (a run of characters with no space), at ``limit``."""
    spans: list[tuple[int, int]] = []
    s, e = 0, len(text)
    while e - s > limit:
        window = text[s : s + limit]
        cut = max(window.rfind("; "), window.rfind(": "))
        if cut < limit // 3:
            cut = window.rfind(", ")
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit - 1  # no space to cut at: a hard cut, so no unit is ever longer than limit
        spans.append((start + s, start + s + cut + 1))
        s = s + cut + 1
        while s < e and text[s].isspace():
            s += 1
    spans.append((start + s, start + e))
    return spans


def _sentence_offsets(text: str) -> list[tuple[int, int]]:
    """``blingfire.text_to_sentences_and_offsets(text)[1]``, without its wrapper's Python loop
    over every byte (seconds per MB) and its silent empty answer when the library fails."""
    from ctypes import byref, c_char_p, c_int, c_int32, create_string_buffer

    import numpy as np

    data = text.encode("utf-8", "surrogatepass")
    n = len(data)
    out = create_string_buffer(n * 2)
    starts, ends = (c_int32 * (n * 2))(), (c_int32 * (n * 2))()
    got = blingfire.blingfire.TextToSentencesWithOffsets(
        c_char_p(data), c_int(n), byref(out), byref(starts), byref(ends), c_int(n * 2)
    )
    if got == -1 or got > n * 2:
        return [(0, len(text))]  # the library gave up: one unit, which _split_long cuts to size
    count = out.value.count(b"\n") + 1
    s = np.clip(np.frombuffer(starts, dtype=np.int32, count=count).astype(np.int64), 0, n)
    e = np.clip(np.frombuffer(ends, dtype=np.int32, count=count).astype(np.int64) + 1, 0, n)
    if len(text) != n:  # not ASCII: the character offset of a byte = the UTF-8 lead bytes before it
        lead = np.zeros(n + 1, dtype=np.int32)
        np.cumsum((np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80, dtype=np.int32, out=lead[1:])
        s, e = lead[s], lead[e]
    return list(zip(s.tolist(), e.tolist()))


def _sentence_spans(text: str, offset: int, limit: int) -> list[tuple[int, int]]:
    """Sentence spans of one paragraph (offsets into the document)."""
    if not text.strip():
        return []
    offsets = _sentence_offsets(text)
    pieces: list[list[int]] = []
    for c0, c1 in offsets:  # character offsets into ``text``
        piece = text[c0:c1]
        if not piece.strip():
            continue
        if pieces:
            # the previous piece, right-stripped, seen only by its length and its last
            # characters (copying it whole at every fragment is quadratic in a run of them)
            p0, p1 = pieces[-1]
            while p1 > p0 and text[p1 - 1].isspace():
                p1 -= 1
            prev_tail = text[max(p0, p1 - _ABBREV_TAIL) : p1]
            first = piece.lstrip()[:1]
            if first.islower() or first in ",;)" or _ABBREV_END.search(prev_tail) or p1 - p0 <= 3:
                pieces[-1][1] = c1
                continue
        pieces.append([c0, c1])
    if pieces:
        pieces[0][0] = 0
        pieces[-1][1] = len(text)
        for a, b in zip(pieces, pieces[1:]):  # close any gap blingfire left
            a[1] = b[0]
    spans: list[tuple[int, int]] = []
    for c0, c1 in pieces:
        piece = text[c0:c1]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece.rstrip())
        if trail > lead:
            spans.extend(_split_long(piece[lead:trail], offset + c0 + lead, limit))
    return spans


def segment_text(text: str, report: str = "text", max_sentence_chars: int = 1200, heading_max_words: int = 18,
                 page_starts: Sequence[int] = ()) -> list[Sentence]:
    """Cut clean prose (one logical line per paragraph) into :class:`Sentence` units.

    ``page_starts`` (a PDF :class:`~pipeline.ingest.Document`'s) gives each unit the page it starts on.
    """
    def page(offset: int) -> int | None:  # ingest.page_at, inlined: one bisection per unit
        return (bisect_right(page_starts, offset) or 1) if page_starts else None

    out: list[Sentence] = []
    section, grade = "", None
    pos = 0
    for line in text.split("\n"):
        line_start = pos
        pos += len(line) + 1
        if not line.strip():
            continue
        # a heading is short: a longer line (one "word" of megabytes, say) is prose, cut below
        if len(line.strip()) <= max_sentence_chars and _is_heading(line, heading_max_words):
            lead = len(line) - len(line.lstrip())
            heading = " ".join(line.split())
            if _is_section_heading(heading):
                section = heading
                grade = parse_grade(heading)
            start = line_start + lead
            out.append(Sentence(report, len(out), start, start + len(line.strip()), section, grade, heading, "heading",
                                page(start)))
            continue
        m = _MARKER.match(line)
        body_start = m.end() if m else 0
        kind = "bullet" if m and not m.group(0).strip()[0].isdigit() else "sentence"
        for s0, s1 in _sentence_spans(line[body_start:], line_start + body_start, max_sentence_chars):
            unit = " ".join(text[s0:s1].split())
            out.append(Sentence(report, len(out), s0, s1, section, grade, unit, kind, page(s0)))
    return out


def segment(doc: Document, max_sentence_chars: int = 1200, heading_max_words: int = 18) -> list[Sentence]:
    """Sentences of a :class:`Document`, with spans into ``doc.text`` and, for a PDF, the page each starts on."""
    return segment_text(doc.text, doc.report_id, max_sentence_chars, heading_max_words, doc.page_starts)
