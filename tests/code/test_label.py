"""Labelling functions on real report sentences, and their measured quality."""

from __future__ import annotations

import pytest

from pipeline.data import weak_label_report, weak_label_stats
from pipeline.ingest import read_document
from pipeline.label import (
    LABELLING_FUNCTIONS,
    Unit,
    lf_but_clause,
    lf_concession,
    lf_heading,
    lf_improvement_section,
    lf_prescriptive,
    lf_section_grade,
    lf_strength_cues,
    lf_weakness_cues,
    weak_label,
)
from pipeline.segment import segment


def _units(params, name):
    sents = segment(read_document(params.paths.corpus_text / name))
    return [Unit(s.text, s.section, s.grade, s.kind) for s in sents]


def test_improvement_items_are_recommendations(params):
    units = _units(params, "barnet_2024-07-23.txt")
    items = [u for u in units if u.section == "What needs to improve?" and u.kind == "bullet"]
    assert len(items) == 4
    assert all(lf_improvement_section(u) == "recommendation" for u in items)
    assert all(weak_label(u)[0] == "recommendation" for u in items)


def test_headings_are_neutral_and_abstain_elsewhere(params):
    units = _units(params, "barnet_2024-07-23.txt")
    assert all(lf_heading(u) == "neutral" for u in units if u.kind == "heading")
    assert all(lf_heading(u) is None for u in units if u.kind != "heading")


def test_cue_phrases_on_codebook_examples():
    weak = Unit("Thresholds for child protection enquiries are sometimes too low, resulting in a small number of "
                "families being drawn into child protection processes when this is not required.")
    assert lf_weakness_cues(weak) == "weakness"
    strong = Unit("Allegations against professionals are robustly managed.")
    assert lf_strength_cues(strong) == "strength" and lf_weakness_cues(strong) is None
    assert lf_concession(Unit("Although supervision is mostly regular, it does not always address practice.")) == "weakness"
    assert lf_concession(Unit("While some plans lack detail, most children are well supported.")) == "strength"
    assert lf_but_clause(Unit("Assessments are timely, but plans are poor.")) == "weakness"
    assert lf_prescriptive(Unit("Ensure that return home interviews are timely.")) == "recommendation"


def test_section_grade_leans_the_vote(params):
    units = _units(params, "barnet_2024-07-23.txt")
    outstanding = [u for u in units if u.grade == "outstanding" and u.kind == "sentence"]
    assert outstanding and all(lf_section_grade(u) == "strength" for u in outstanding)


@pytest.mark.slow  # scores every labelling function on all 111k train-council hand labels (~28 s)
def test_every_function_is_measured_against_hand_labels(params):
    stats = {s.name: s for s in weak_label_stats(params, ("train",))}
    assert set(stats) == {lf.__name__ for lf in LABELLING_FUNCTIONS}
    for name in ("lf_improvement_section", "lf_weakness_cues", "lf_strength_cues", "lf_heading"):
        assert stats[name].coverage > 0.01 and stats[name].accuracy > 0.7, stats[name]
    lines = weak_label_report(params)
    assert lines[-1].startswith("combined (weighted vote)")
    coverage, accuracy = map(float, lines[-1].split()[-3:-1])
    assert coverage > 0.5 and accuracy > 0.8


def test_weak_label_abstains_when_nothing_fires():
    assert weak_label(Unit("The sky over the town hall.")) == (None, 0.0)
