"""The plan's rules on a real report's sentences, typed and themed by hand (no model: the fast tier)."""

from __future__ import annotations

import io
import re

import docx
import openpyxl
import pytest

from pipeline.config import PlanParams
from pipeline.errors import UserError
from pipeline.ingest import read_document
from pipeline.plan import ACTION, ALSO_FOUND, PlanMeta, build_plan, plan_dict, plan_format, priority, render_plans
from pipeline.schema import THEMES, TYPES, theme_name
from pipeline.segment import segment

REPORT = "birmingham_2023-04-18"  # "What needs to improve?" with four recommendations
# themes by key words, for this test only (the model does this in use)
KEYWORDS = {"domestic_abuse_neglect": r"domestic abuse", "care_leavers": r"personal adviser|care leaver|leaving care",
            "children_in_care": r"permanence|placement", "assessment_planning": r"\bplans?\b|assessment",
            "workforce": r"caseload|recruit"}


def _typed(s, grade_section: str) -> dict:
    text = s.text
    if s.section.startswith("What needs to improve") and s.kind == "bullet":
        typ = "recommendation"
    elif re.search(r"\bnot\b|too (?:long|many|slow)|inconsistent|delay", text):
        typ = "weakness"
    elif s.kind != "heading":
        typ = "strength"
    else:
        typ = "neutral"
    themes = [t for t, rx in KEYWORDS.items() if re.search(rx, text, re.I)][:3]
    conf = 0.45 if "written plans" in text else 0.9  # one recommendation the "model" is unsure of
    return {**s.to_dict(), "type": typ, "confidence": conf, "type_scores": {t: 0.25 for t in TYPES},
            "themes": themes if typ != "neutral" else [], "theme_scores": {t: 0.0 for t in THEMES}, "evidence": []}


@pytest.fixture(scope="module")
def records(params):
    doc = read_document(params.paths.corpus_pdf / f"{REPORT}.pdf")
    return [_typed(s, "") for s in segment(doc)]


@pytest.fixture(scope="module")
def plan(records, params):
    meta = PlanMeta(REPORT, "Inspection of Birmingham", "birmingham", "2023-03-03",
                    {"overall_effectiveness": "good", "help_and_protection": "requires_improvement"},
                    str(params.paths.corpus_pdf / f"{REPORT}.pdf"))
    return build_plan(records, meta, PlanParams())


def test_each_recommendation_is_one_action_in_report_order(records, plan):
    recs = [r["text"] for r in records if r["type"] == "recommendation"]
    assert len(recs) == 4
    assert [a.recommendation for a in plan.actions] == recs
    assert [a.number for a in plan.rows] == list(range(1, len(plan.rows) + 1))


def test_evidence_shares_a_theme_and_is_most_similar_first(records, plan):
    by_text = {r["text"]: r for r in records}
    for a in plan.actions:
        assert len(a.evidence) <= 3 and len(a.build_on) <= 2
        for q in a.evidence:
            r = by_text[q.text]
            assert r["type"] == "weakness" and set(r["themes"]) & set(a.themes) and q.page == r["page"]
        sims = [q.similarity for q in a.evidence]
        assert sims == sorted(sims, reverse=True)
        assert all(by_text[q.text]["type"] == "strength" and set(q.themes) & set(a.themes) for q in a.build_on)
    abuse = plan.actions[0]
    assert abuse.themes == ("domestic_abuse_neglect",) and "domestic abuse" in abuse.evidence[0].text.lower()


def test_weaknesses_with_no_recommendation_are_also_found_once(records, plan):
    cited_themes = {t for a in plan.actions for t in a.themes}
    also = plan.also_found
    assert also and all(r.kind == ALSO_FOUND and not r.recommendation for r in also)
    quoted = [q.text for r in also for q in r.evidence]
    assert len(quoted) == len(set(quoted))
    for q in (q for r in also for q in r.evidence):
        assert not set(q.themes) & cited_themes
    uncovered = [r["text"] for r in records if r["type"] == "weakness" and not set(r["themes"]) & cited_themes]
    assert sorted(quoted) == sorted(uncovered)


def test_low_confidence_is_marked_for_review(plan):
    unsure = [a for a in plan.actions if "written plans" in a.recommendation]
    assert len(unsure) == 1 and unsure[0].review and not any(a.review for a in plan.actions if a is not unsure[0])


@pytest.mark.parametrize("grade, n, expected", [
    ("inadequate", 0, "High"), ("requires_improvement", 4, "High"), ("requires_improvement", 3, "Medium"),
    ("good", 4, "Medium"), (None, 9, "Medium"), ("outstanding", 3, "Low"), (None, 0, "Low"),
])
def test_priority_rule(grade, n, expected):
    assert priority(grade, n, many=4) == expected


def test_priority_comes_from_the_judgement_behind_the_row(plan):
    # the plans recommendation: its weaknesses sit under help and protection, graded requires improvement here
    plans = next(a for a in plan.actions if "written plans" in a.recommendation)
    assert plans.judgement == "help_and_protection" and plans.grade == "requires_improvement"
    assert plans.priority == "High" and "Help and protection graded requires improvement" in plans.priority_reason


def test_restated_and_continued_recommendations():
    def rec(i, text, themes=("workforce",), kind="sentence"):
        return {"report": "r", "index": i, "page": 1, "section": "Recommendations", "kind": kind, "text": text,
                "type": "recommendation", "confidence": 0.9, "themes": list(themes)}

    records = [rec(0, "Reduce social workers' caseloads so that they can visit children often."),
               rec(1, "This should include recruiting permanent staff.", ("leadership_governance",)),
               rec(5, "Improve the supervision of social workers."),
               rec(9, "Improve supervision of social workers!"),  # the summary's list, restated at the end
               rec(10, "Ensure supervision of social workers improves.")]
    plan = build_plan(records, PlanMeta("r"), PlanParams())
    assert [a.recommendation for a in plan.actions] == [
        "Reduce social workers' caseloads so that they can visit children often. "
        "This should include recruiting permanent staff.",
        "Improve the supervision of social workers.", "Ensure supervision of social workers improves."]
    assert plan.actions[0].themes == ("workforce", "leadership_governance") and plan.actions[0].priority == "Low"


def test_a_report_with_nothing_to_plan_still_renders():
    empty = build_plan([], PlanMeta("empty"), PlanParams())
    assert empty.rows == ()
    for fmt in ("docx", "xlsx", "html", "md", "json"):
        assert render_plans([empty], fmt)


def test_written_plans_read_back(plan):
    doc = docx.Document(io.BytesIO(render_plans([plan], "docx")))
    assert doc.paragraphs[0].text == "Improvement plan: Birmingham"
    headers = [c.text for c in doc.tables[0].rows[0].cells]
    assert headers[-3:] == ["Owner", "Due date", "RAG status"]
    wb = openpyxl.load_workbook(io.BytesIO(render_plans([plan], "xlsx")))
    rows = list(wb["Action plan"].values)
    assert len(rows) == 1 + len(plan.rows) and rows[1][4] == theme_name(plan.rows[0].themes[0])
    page = render_plans([plan], "html").decode()
    assert "Front door / MASH" not in page or "front_door" not in page
    assert "domestic_abuse_neglect" not in page and "Domestic abuse and neglect" in page
    d = plan_dict(plan)
    assert d["rows"][0]["theme_names"] == ["Domestic abuse and neglect"] and d["judgements"]


def test_plan_format_from_the_output_name():
    assert plan_format("x.DOCX") == "docx" and plan_format("x.markdown") == "md" and plan_format("x", "xlsx") == "xlsx"
    with pytest.raises(UserError, match="unknown plan format 'pdf'"):
        plan_format("plan.pdf")
