"""Segmentation on real reports: a hand-checked fixture, bullets, sections, grades, properties."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest import BULLET_CHARS, read_document
from pipeline.segment import parse_grade, segment, segment_text

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "segmentation_gold.jsonl"


def test_hand_checked_fixture_is_reproduced_exactly(params):
    gold = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    files = {g["file"] for g in gold}
    years = {m.group(1) for f in files if (m := re.search(r"_(\d{4})-", f))}
    assert len(gold) >= 150 and len(years) >= 6 and any(f.startswith("seeds/") for f in files)
    cache = {}
    for g in gold:
        f = g["file"]
        if f not in cache:
            path = params.paths.corpus_pdf.parent / f if f.startswith("pdf/") else params.paths.seeds.parent / f
            cache[f] = {s.index: s for s in segment(read_document(path))}
        s = cache[f][g["index"]]
        assert (s.text, s.kind, s.section, s.grade) == (g["text"], g["kind"], g["section"], g["grade"]), f"{f}#{g['index']}"


def test_what_needs_to_improve_bullets_one_per_sentence(params):
    sents = segment(read_document(params.paths.corpus_text / "barnet_2024-07-23.txt"))
    items = [s for s in sents if s.section == "What needs to improve?" and s.kind == "bullet"]
    assert [s.text for s in items] == [
        "Return home interviews informing safety plans for children who go missing.",
        "Communication about living arrangements for care leavers.",
        "Timeliness of early help support.",
        "Management oversight of the local authority designated officer (LADO).",
    ]


def test_sections_and_grades_are_attached(params):
    sents = segment(read_document(params.paths.corpus_text / "barnet_2024-07-23.txt"))
    sections = {s.section: s.grade for s in sents}
    assert sections["The experiences and progress of children who need help and protection: good"] == "good"
    assert sections["The experiences and progress of children in care: outstanding"] == "outstanding"
    mash = next(s for s in sents if s.text.startswith("An impressive multi-agency safeguarding hub"))
    assert mash.section.startswith("The experiences and progress of children who need help and protection")
    assert mash.grade == "good"


def test_numbered_paragraph_numbers_are_not_sentences(params):
    sents = segment(read_document(params.paths.corpus_text / "barnet_2024-07-23.txt"))
    assert not any(re.fullmatch(r"\d+\.?", s.text) for s in sents)
    assert not any(s.text.startswith(("1. ", "2. ")) for s in sents if s.kind != "heading")


def test_parse_grade():
    assert parse_grade("The experiences and progress of care leavers: good") == "good"
    assert parse_grade("Overall effectiveness Requires improvement to be good") == "requires_improvement"
    assert parse_grade("Children’s services in Bedford Borough require improvement to be good") == "requires_improvement"
    assert parse_grade("What needs to improve?") is None


def test_abbreviations_and_numbers_do_not_split():
    text = "Some plans, e.g. those for disabled children, lack detail. Around 95.5% of visits are timely, i.e. within 10 days."
    assert [s.text for s in segment_text(text)] == [
        "Some plans, e.g. those for disabled children, lack detail.",
        "Around 95.5% of visits are timely, i.e. within 10 days.",
    ]


def test_spans_point_into_the_text(params):
    doc = read_document(params.paths.corpus_pdf / "bury_2021-12-17.pdf")
    for s in segment(doc):
        assert " ".join(doc.text[s.start : s.end].split()) == s.text


_MARKERS = re.compile(rf"^\s*(?:[{BULLET_CHARS}]|[-–*](?=\s)|\d{{1,3}}\.(?=\s))", re.M)

_alphabet = st.sampled_from(list("abcdefgh ABC.,;:?!'\"()-–\n\t0123456789◼•") + ["e.g. ", "Mr. ", "\n\n", "12. ", "no. "])


@settings(max_examples=300, deadline=None)
@given(st.lists(_alphabet, max_size=200).map("".join))
def test_segmentation_never_crashes_loses_or_invents_text(text):
    sents = segment_text(text)
    covered = []
    last_end = 0
    for s in sents:
        assert s.start >= last_end and s.end >= s.start
        assert "".join(text[s.start : s.end].split()) == "".join(s.text.split())
        covered.append((s.start, s.end))
        last_end = s.end
    # every non-whitespace character outside the spans is a bullet or paragraph-number marker
    rest = list(text)
    for a, b in covered:
        rest[a:b] = [" "] * (b - a)
    leftover = "".join(rest)
    without_markers = _MARKERS.sub(" ", leftover)
    assert "".join(without_markers.split()) == "", repr(leftover)
