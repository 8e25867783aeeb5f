"""pipeline.schema: the record every output is generated from, and the one section/grade table."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest

from pipeline.schema import (
    GRADE_SCORE,
    HEADING_RE,
    JUDGEMENTS,
    RECORD,
    SECTION_KINDS,
    SENTENCE_FIELDS,
    THEMES,
    TYPES,
    Sentence,
    fill_defaults,
    flat_columns,
    flat_record,
    judgement_of_section,
    normalise_grade,
    parse_grade,
    section_kind,
    section_leans,
    theme_matrix,
)

FLAT_HEADER = ["report", "index", "page", "section", "grade", "text", "type", "confidence", "themes", "evidence",
               *[f"p_{t}" for t in TYPES], *[f"p_{t}" for t in THEMES]]


def _record() -> dict:
    return {"report": "r", "index": 3, "start": 10, "end": 40, "page": 2, "section": "Strengths", "grade": None,
            "kind": "bullet", "text": "Plans are clear.", "type": "strength", "confidence": 0.9,
            "type_scores": {t: 0.25 for t in TYPES}, "themes": ["workforce", "front_door"],
            "theme_scores": {t: 0.1 for t in THEMES}, "evidence": ["clear"]}


def test_labels():
    assert TYPES == ("strength", "weakness", "recommendation", "neutral") and len(THEMES) == 18
    m = theme_matrix([["workforce"], [], ["front_door", "workforce"]])
    assert m.shape == (3, 18) and m.sum() == 3 and m[2, THEMES.index("front_door")] == 1
    assert np.array_equal(m[1], np.zeros(18))


def test_the_sentence_record_is_the_first_part_of_the_output_record():
    hints = typing.get_type_hints(Sentence)
    assert set(SENTENCE_FIELDS) == {f.name for f in dataclasses.fields(Sentence)}
    assert all(hints[c.name] == c.type for c in RECORD if c.name in hints)
    assert SENTENCE_FIELDS == ("report", "index", "start", "end", "page", "section", "grade", "kind", "text")
    assert [c.name for c in RECORD][len(SENTENCE_FIELDS):] == [
        "type", "confidence", "type_scores", "themes", "theme_scores", "evidence"]


def test_flat_rows_for_csv_xlsx_and_parquet():
    r = _record()
    assert flat_columns() == FLAT_HEADER
    flat = flat_record(r)
    assert list(flat) == FLAT_HEADER
    assert flat["themes"] == "workforce;front_door" and flat["p_front_door"] == 0.1 and flat["p_neutral"] == 0.25
    arch = flat_record(r, archive=True)
    assert list(arch) == flat_columns(archive=True)
    assert arch["kind"] == "bullet" and arch["themes"] == ["workforce", "front_door"] and "start" not in arch
    del r["kind"], r["grade"], r["page"]
    back = flat_record(r, archive=True)
    assert back["kind"] == "" and back["grade"] is None and back["page"] is None  # records written before pages
    del r["text"]
    with pytest.raises(KeyError):
        flat_record(r)


def test_records_read_back_get_their_defaults():
    r = {k: v for k, v in _record().items() if k not in ("page", "section", "grade", "kind", "evidence")}
    filled = fill_defaults(r)
    assert filled["section"] == "" and filled["grade"] is None and filled["kind"] == "" and filled["evidence"] == []
    assert filled["page"] is None


def test_the_api_and_spark_schemas_are_generated_from_the_record():
    from pipeline.serve import Record
    from pipeline.spark import ROW_FIELDS, _error_row

    assert list(Record.model_fields) == [c.name for c in RECORD]
    Record(**_record())  # a record validates
    assert ROW_FIELDS == (*SENTENCE_FIELDS, "prev", "next", "title", "error")
    assert len(_error_row("bad")) == len(ROW_FIELDS) and _error_row("bad")[-1] == "bad"


@pytest.mark.parametrize("heading, kind, judgement", [
    ("What needs to improve?", "improve", None),
    ("Recommendations", "improve", None),
    ("The local authority’s strengths", "strengths", None),
    ("The experiences and progress of children who need help and protection: good", "help_protection",
     "help_and_protection"),
    ("The experiences and progress of care leavers", "care_leavers", "care_leavers"),
    ("The experiences and progress of children in care and care leavers", "care_leavers", "children_in_care"),
    ("Children looked after and achieving permanence", "in_care", "children_in_care"),
    ("The impact of leaders on social work practice with children and families", "leaders", "impact_of_leaders"),
    ("Overall effectiveness: requires improvement to be good", "overall", "overall_effectiveness"),
    ("Information about this inspection", "info", None),
    ("Something else entirely", "other", None),
    ("", "none", None),
])
def test_one_section_table(heading, kind, judgement):
    assert section_kind(heading) == kind
    assert judgement_of_section(heading) == judgement
    assert {k.name for k in SECTION_KINDS} >= {kind} or kind in ("other", "none")
    assert {k.judgement for k in SECTION_KINDS if k.judgement} == set(JUDGEMENTS)


def test_weak_label_leanings():
    assert section_leans("What needs to improve?", "recommendation")
    assert section_leans("Recommendations", "recommendation")
    assert not section_leans("Recommendations for leaders", "recommendation")  # narrower than the model's kind
    assert section_kind("Recommendations for leaders") == "improve"
    assert section_leans("Strengths", "strength") and not section_leans("Strengths", "recommendation")
    assert not section_leans("", "strength")


def test_headings_and_grades():
    assert HEADING_RE.match("What needs to improve?") and HEADING_RE.match("  Overall effectiveness: Good ")
    assert not HEADING_RE.match("Caseloads are manageable.")
    assert parse_grade("The experiences and progress of care leavers: good") == "good"
    assert parse_grade("Overall effectiveness Requires improvement to be good") == "requires_improvement"
    assert parse_grade("Overall effectiveness") is None
    assert normalise_grade("Requires improvement to be good") == "requires_improvement"
    assert normalise_grade(" Outstanding ") == "outstanding" and normalise_grade("inspection_pre_dates_judgement") is None
    assert sorted(GRADE_SCORE, key=GRADE_SCORE.get) == ["inadequate", "requires_improvement", "good", "outstanding"]
