"""The linear rewrites accept exactly what the old patterns and code did, on inputs short enough
for the old ones to finish (hypothesis over the characters that matter).  The corpus check
(ofsted-tagger segment output byte-identical before and after) is the other half of this."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import ingest, schema, segment

_M = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
OLD_DATE_TOKENS = re.compile(rf"^\s*(?:(?:\d{{1,4}}|{_M}|to|and|[–\-,().])\s*)+$")
OLD_RUNNING_TITLE = re.compile(
    r"^\s*(?:[A-Z][\w’'&,. -]+\s+)?Inspection of\s.{0,120}?(?:children[’']s\s+services|children\s+board(?::.*)?"
    r"|children\s+services|care\s+services|looked after children)"
    rf"(?:\s*\(?[\d\s]*(?:{_M})?[\d\s]*(?:to|–|-)?[\d\s]*(?:{_M})\s+\d{{4}}\)?)?\s*(?:\d{{1,3}})?\s*$",
    re.I,
)
OLD_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,3}(?:\s+of\s+\d{1,3})?\s*$", re.I)
OLD_FOOTNOTE_START = re.compile(r"^\s*(\d{1,2})\s+[A-Z‘“'\"(]|^\s*(\d{1,2})\s*$")
OLD_INLINE_BULLET = re.compile(rf"[ \t]+(?=[{ingest.BULLET_CHARS}][ \t])")
OLD_HEADING_PATTERNS = (
    r"What (?:needs|does the local authority need) to improve(?: in this area of social work practice)?\??",
    r"What needs to (?:happen|improve) next\??",
    r"Areas? for (?:improvement|priority action|development)",
    r"Priority and immediate action",
    r"Recommendations?",
    r"(?:The )?local authority[’']s strengths",
    r"Strengths",
    r"(?:Executive )?[Ss]ummary(?: of findings)?",
    r"Section \d+: .{3,100}",
    r"(?:Headline|Main|Inspection|Key) findings",
    r"Findings(?: and evaluation of progress)?",
    r"Evaluation of progress",
    r"Overview",
    r"Information about this (?:inspection|local authority area|visit)",
    r"Inspection judgements about the local authority",
    r"The experiences and progress of (?:children who need help and protection|children in care(?: and care leavers)?"
    r"|care leavers)(?::\s*[A-Za-z ]+)?",
    r"The impact of leaders on social work practice with children and families(?::\s*[A-Za-z ]+)?",
    r"(?:\d\.(?:\d\s)?\s*)?(?:Children who need help and protection|Children looked after and achieving permanence"
    r"|Leadership,? management and governance|Adoption performance|Experiences and progress of care leavers)"
    r"(?:\s+(?:Good|Outstanding|Inadequate|Requires improvement(?: to be good)?))?",
    r"Overall effectiveness(?::?\s*[A-Za-z ]+)?",
)
OLD_HEADING_RE = re.compile(r"^\s*(?:" + "|".join(OLD_HEADING_PATTERNS) + r")\s*$", re.I)
OLD_GRADE_TAIL = re.compile(r"(?::\s*|\s+)(requires? improvement(?: to be good)?|outstanding|good|inadequate)\s*$", re.I)
OLD_TITLE = re.compile(
    r"(?:[A-Z][\w’'&,. -]+\s+)?(?:Inspection|Monitoring visit|Focused visit) (?:of|to) .{3,160}?"
    r"(?:children[’']s services|children services|looked after children|care leavers)",
    re.S,
)
OLD_HEADER_SPLIT = re.compile(r"(?m)^(?=\s*Inspection of .{0,120}children[’']s\s+services\s*$)")

BITS = [" ", "  ", "\t", "\n", "1", "12", "2024", "June", "May", "to", "and", "-", "–", "(", ")", ",", ".", ":", "x", "A",
        "Barnet", "page", "of", "Inspection of ", "children’s services", "children's  services", "care services",
        "children board", "Good", "good", "requires improvement", " to be good", "Overall effectiveness", "Section 1: ",
        "The experiences and progress of care leavers", "The impact of leaders on social work practice with children and families",
        "Children who need help and protection", "1.", "2.1 ", "•", "Monitoring visit to ", "’", "&", "\u00a0", "é"]
short = st.lists(st.sampled_from(BITS), max_size=9).map("".join)
EXAMPLES = settings(max_examples=400, deadline=None, derandomize=True)


@EXAMPLES
@given(short)
def test_line_patterns(s):
    assert bool(ingest._DATE_TOKENS.match(s)) == bool(OLD_DATE_TOKENS.match(s))
    assert bool(ingest._RUNNING_TITLE.match(s)) == bool(OLD_RUNNING_TITLE.match(s))
    assert bool(ingest._PAGE_NUMBER.match(s)) == bool(OLD_PAGE_NUMBER.match(s))
    old, new = OLD_FOOTNOTE_START.match(s), ingest._FOOTNOTE_START.match(s)
    assert (old and old.groups()) == (new and new.groups())
    assert ingest._INLINE_BULLET.sub("\n", s) == OLD_INLINE_BULLET.sub("\n", s)
    old, new = OLD_GRADE_TAIL.search(s), schema.GRADE_TAIL.search(s)
    assert (old and old.group(1)) == (new and new.group(1))
    assert bool(schema.HEADING_RE.match(s)) == bool(OLD_HEADING_RE.match(s))
    assert [m.group(0) for m in [OLD_TITLE.search(s)] if m] == [m.group(0) for m in [ingest._TITLE.search(s)] if m]


HEADING_STARTS = ["Section 1: ", "The experiences and progress of care leavers", "Overall effectiveness",
                  "The impact of leaders on social work practice with children and families",
                  "Children who need help and protection", "1. Adoption performance"]


@EXAMPLES
@given(st.sampled_from(HEADING_STARTS), short, short)
def test_headings(start, before, after):
    for s in (start + after, before + start + after, start + ":" + after):
        assert bool(schema.HEADING_RE.match(s)) == bool(OLD_HEADING_RE.match(s)), s


@EXAMPLES
@given(st.lists(st.sampled_from(BITS + ["\n\n", "Inspection of Barnet children’s services", "\n \n"]), max_size=12).map("".join))
def test_text_pages(text):
    assert ingest._text_pages(text) == [p for p in OLD_HEADER_SPLIT.split(text) if p.strip()]


@EXAMPLES
@given(st.lists(st.sampled_from(["a", "b-", "-", "A-", "x\ufffe", "\u00ad", "y\u00ad", " ", "  z ", "word", ".", "and"]),
                min_size=1, max_size=8))
def test_joined_paragraphs_equal_repeated_join(lines):
    old = lines[0]
    new = ingest._Joined(lines[0])
    for ln in lines[1:]:
        old = ingest._join(old, ln)
        new.add(ln)
    assert new.text() == old


def _old_merge(blocks):
    out = []
    for b in blocks:
        s = b.lstrip()
        if out and s and s[0].islower() and not out[-1].rstrip().endswith((".", "?", "!", ":")):
            out[-1] = ingest._join(out[-1], s)
        else:
            out.append(b)
    return out


@EXAMPLES
@given(st.lists(st.sampled_from(["and so", "The end.", "x:", " lower ", "Upper", "b-", "c\ufffe", "d ", " "]), max_size=8))
def test_page_runons_equal_the_old_merge(blocks):
    assert ingest._merge_page_runons(blocks)[0] == _old_merge(blocks)


def _old_html(data: bytes) -> str:
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
    return "\n\n".join(p for p in parts if not ingest._WEB_NOISE.match(p))


TAGS = ["p", "li", "ul", "h2", "h4", "blockquote", "div", "b", "nav", "article", "script"]
html_bits = st.one_of(st.sampled_from(["<%s>" % t for t in TAGS] + ["</%s>" % t for t in TAGS]),
                      st.sampled_from(["text ", "Read more", "x", " ", "<!-- c -->", "<![CDATA[cd]]>", "&amp;", "Menu"]))


@EXAMPLES
@given(st.lists(html_bits, max_size=16).map(lambda b: "<html><body>" + "".join(b) + "</body></html>"))
def test_html_units_equal_bs4_element_by_element(html):
    from pathlib import Path

    data = html.encode()
    assert ingest._read_html(Path("x.html"), data) == _old_html(data)
