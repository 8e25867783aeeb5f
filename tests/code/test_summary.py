"""pipeline.summary: grouping, counts and the net score, on hand-written records."""

from __future__ import annotations

import dataclasses

from pipeline.schema import THEMES, TYPES
from pipeline.summary import Summary, count_types, group_by_report, net_score, summarise, summary_text


def rec(report: str, type_: str, *themes: str) -> dict:
    return {"report": report, "type": type_, "themes": list(themes), "text": f"{type_} {' '.join(themes)}"}


RECORDS = [
    rec("b", "strength", "workforce"),
    rec("a", "weakness", "workforce", "front_door"),
    rec("b", "weakness", "front_door"),
    rec("b", "strength"),
    rec("a", "neutral"),
    rec("b", "recommendation", "workforce"),
]


def test_net_score():
    assert net_score(3, 1) == 0.5 and net_score(0, 2) == -1.0 and net_score(0, 0) is None


def test_group_by_report_keeps_first_appearance_order():
    groups = group_by_report(RECORDS)
    assert list(groups) == ["b", "a"]
    assert [r["type"] for r in groups["b"]] == ["strength", "weakness", "strength", "recommendation"]


def test_count_types():
    by_type, by_theme = count_types(RECORDS)
    assert list(by_type) == list(TYPES) and list(by_theme) == list(THEMES)
    assert by_type == {"strength": 2, "weakness": 2, "recommendation": 1, "neutral": 1}
    assert by_theme["workforce"] == {"strength": 1, "weakness": 1, "recommendation": 1, "neutral": 0}
    assert by_theme["front_door"]["weakness"] == 2 and sum(by_theme["care_leavers"].values()) == 0


def test_summarise_computes_the_net_score_once():
    b, a = summarise(RECORDS)
    assert (b.report, b.sentences, a.report, a.sentences) == ("b", 4, "a", 2)
    assert b.net_score == net_score(2, 1) and a.net_score == -1.0
    assert dataclasses.asdict(a) == {"report": "a", "sentences": 2, "by_type": a.by_type, "by_theme": a.by_theme,
                                     "net_score": -1.0}
    assert summarise([]) == []


def test_summary_text():
    text = summary_text(summarise(RECORDS))
    lines = text.splitlines()
    assert lines[0] == "b: 4 sentences — strengths 2, weaknesses 1, recommendations 1, neutral 0, net score +0.33"
    assert any(line.split()[:4] == ["Workforce", "1", "0", "1"] for line in lines)  # display names
    assert any(line.split()[:6] == ["Front", "door", "/", "MASH", "0", "1"] for line in lines)
    assert "care_leavers" not in text and "Care leavers" not in text
    neutral_only = summary_text([Summary("n", 1, {"strength": 0, "weakness": 0, "recommendation": 0, "neutral": 1},
                                         {th: dict.fromkeys(TYPES, 0) for th in THEMES}, None)])
    assert "net score" not in neutral_only
