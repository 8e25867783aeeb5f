"""Summary: tagged records counted — per report, per theme and type, and the net score.

Pure functions over output records (dicts shaped by :data:`pipeline.schema.RECORD`),
so summaries need neither a model nor MLflow: :func:`group_by_report`,
:func:`count_types`, :func:`net_score` (the one place it is computed),
:func:`summarise` into :class:`Summary` rows and :func:`summary_text` for the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from pipeline.schema import THEME_NAMES, THEMES, TYPES


def net_score(strengths: int, weaknesses: int) -> float | None:
    """(strengths - weaknesses) / (strengths + weaknesses); None when there are neither."""
    return (strengths - weaknesses) / (strengths + weaknesses) if strengths + weaknesses else None


@dataclass(frozen=True)
class Summary:
    """Counts of one report's sentences by type, and by theme x type."""

    report: str
    sentences: int
    by_type: dict[str, int]
    by_theme: dict[str, dict[str, int]]  # theme -> type -> count
    net_score: float | None


def count_types(records: Iterable[dict[str, Any]]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Sentences per type, and per theme x type, in one pass."""
    by_type = {t: 0 for t in TYPES}
    by_theme = {th: {t: 0 for t in TYPES} for th in THEMES}
    for r in records:
        by_type[r["type"]] += 1
        for th in r["themes"]:
            by_theme[th][r["type"]] += 1
    return by_type, by_theme


def group_by_report(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Records per report, reports in order of first appearance."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(r["report"], []).append(r)
    return out


def summarise(records: Iterable[dict[str, Any]]) -> list[Summary]:
    """Counts of strengths/weaknesses/recommendations/neutral per theme, per report."""
    out = []
    for rep, rows in group_by_report(records).items():
        by_type, by_theme = count_types(rows)
        out.append(Summary(rep, len(rows), by_type, by_theme, net_score(by_type["strength"], by_type["weakness"])))
    return out


def summary_text(summaries: Sequence[Summary]) -> str:
    """The per-report summary table printed at the end of ``predict``."""
    lines = []
    for s in summaries:
        lines.append(
            f"{s.report}: {s.sentences} sentences — strengths {s.by_type['strength']}, weaknesses "
            f"{s.by_type['weakness']}, recommendations {s.by_type['recommendation']}, neutral {s.by_type['neutral']}"
            + (f", net score {s.net_score:+.2f}" if s.net_score is not None else "")
        )
        lines.append(f"  {'theme':34s} {'strength':>8s} {'weakness':>8s} {'recommend':>9s}")
        for th in THEMES:
            c = s.by_theme[th]
            if c["strength"] or c["weakness"] or c["recommendation"]:
                lines.append(f"  {THEME_NAMES[th]:34s} {c['strength']:8d} {c['weakness']:8d} {c['recommendation']:9d}")
    return "\n".join(lines)
