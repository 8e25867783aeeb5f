"""Evaluate: the metrics every model is judged by, and their charts.

Pure functions from gold and predicted labels to a flat ``dict`` of figures
(type macro-F1 and per-class precision/recall/F1, theme micro/macro-F1 and
per-theme F1, calibration as Brier score and expected calibration error), plus
PNG charts for MLflow.  Used by training, ``ofsted-tagger evaluate`` and the
benchmarks, so every figure is computed in one place.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from pipeline.data import sentence_id
from pipeline.label import LabelRow, read_eval_file
from pipeline.model import Context, Prediction, TaggerModel
from pipeline.schema import THEMES, TYPES, theme_matrix


def expected_calibration_error(proba: np.ndarray, gold_idx: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-class confidence (equal-width bins)."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == gold_idx
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def type_metrics(gold: Sequence[str], pred: Sequence[str], proba: np.ndarray | None = None) -> dict[str, float]:
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=list(TYPES), zero_division=0)
    out: dict[str, float] = {
        "type_macro_f1": float(np.mean(f)),
        "type_accuracy": float(accuracy_score(gold, pred)),
        "type_n": float(len(gold)),
    }
    for i, t in enumerate(TYPES):
        out[f"type_{t}_precision"] = float(p[i])
        out[f"type_{t}_recall"] = float(r[i])
        out[f"type_{t}_f1"] = float(f[i])
        out[f"type_{t}_support"] = float(s[i])
    if proba is not None:
        gold_idx = np.array([TYPES.index(g) for g in gold])
        onehot = np.eye(len(TYPES))[gold_idx]
        out["type_brier"] = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
        out["type_ece"] = expected_calibration_error(proba, gold_idx)
    return out


def theme_metrics(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                  scores: np.ndarray | None = None) -> dict[str, float]:
    g, p = theme_matrix(gold), theme_matrix(pred)
    out = {
        "theme_micro_f1": float(f1_score(g, p, average="micro", zero_division=0)),
        "theme_macro_f1": float(f1_score(g, p, average="macro", zero_division=0)),
        "theme_exact_match": float(np.mean((g == p).all(axis=1))),
    }
    per = f1_score(g, p, average=None, zero_division=0)
    for i, t in enumerate(THEMES):
        out[f"theme_{t}_f1"] = float(per[i])
    if scores is not None:
        out["theme_brier"] = float(np.mean((scores - g) ** 2))
    return out


def all_metrics(gold_types, pred_types, proba, gold_themes, pred_themes, theme_scores) -> dict[str, float]:
    return {**type_metrics(gold_types, pred_types, proba), **theme_metrics(gold_themes, pred_themes, theme_scores)}


def evaluate_rows(model: TaggerModel, rows: Sequence[LabelRow],
                  contexts: Mapping[str, Context] | None = None) -> tuple[dict[str, float], Prediction]:
    """Every metric for labelled rows scored by ``model`` (with their neighbours from ``contexts``,
    sentence id -> context, where given), and its predictions."""
    ctx = [contexts.get(r.id) for r in rows] if contexts else None
    pred = model.predict([r.text for r in rows], [r.section for r in rows], evidence=False, contexts=ctx)
    metrics = all_metrics([r.type for r in rows], pred.types, pred.type_scores,
                          [r.themes for r in rows], pred.themes, pred.theme_scores)
    return metrics, pred


def without_sections(rows: Sequence[LabelRow]) -> list[LabelRow]:
    """The rows as ``predict --sentences`` sees them: no section."""
    return [dataclasses.replace(r, section="") for r in rows]


def bootstrap_ci(gold: Sequence, pred: Sequence, metric: Callable[[Sequence, Sequence], float],
                 samples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric(gold, pred)`` over resampled rows."""
    g, p = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    return _percentile_interval(np.array([metric(list(g[i]), list(p[i])) for i in _resamples(len(g), samples, seed)]),
                                level)


def _resamples(n: int, samples: int, seed: int) -> Iterator[np.ndarray]:
    """The row indices of each bootstrap resample (the same draws for every interval with this seed)."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, n, n) for _ in range(samples))


def type_macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    return float(f1_score(gold, pred, labels=list(TYPES), average="macro", zero_division=0))


def theme_micro_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    return float(f1_score(theme_matrix(gold), theme_matrix(pred), average="micro", zero_division=0))


def _draw_counts(n: int, samples: int, seed: int) -> np.ndarray:
    """samples x n: how often each row is drawn in each resample (:func:`_resamples`)."""
    return np.stack([np.bincount(i, minlength=n) for i in _resamples(n, samples, seed)]) if n else np.zeros((samples, 0))


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 from counts, 0 where there is nothing to count (scikit-learn's zero_division=0)."""
    den = 2 * tp + fp + fn
    return np.divide(2 * tp, den, out=np.zeros(np.shape(den)), where=den > 0)


def _percentile_interval(stats: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = np.percentile(stats, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def interval_metrics(rows: Sequence[LabelRow], pred: Prediction, samples: int, seed: int) -> dict[str, float]:
    """95% bootstrap intervals of the test split's type macro-F1 and theme micro-F1: the same
    resamples and figures as :func:`bootstrap_ci` with :func:`type_macro_f1` and :func:`theme_micro_f1`,
    computed from each row's true/false positive counts (one matrix product for all resamples,
    instead of 2 x ``samples`` scikit-learn calls: about 35 s a training run)."""
    W = _draw_counts(len(rows), samples, seed)
    gold = np.array([TYPES.index(r.type) for r in rows], dtype=int)
    got = np.array([TYPES.index(t) for t in pred.types], dtype=int)
    k = np.arange(len(TYPES))
    g1, p1 = gold[:, None] == k, got[:, None] == k
    c = W @ np.hstack([g1 & p1, ~g1 & p1, g1 & ~p1]).astype(float)  # samples x (tp, fp, fn per type)
    lo, hi = _percentile_interval(_f1(*np.split(c, 3, axis=1)).mean(axis=1))
    G, P = theme_matrix([r.themes for r in rows]), theme_matrix(pred.themes)
    t = W @ np.stack([(G & P).sum(1), (~G & P).sum(1), (G & ~P).sum(1)], axis=1).astype(float)
    tlo, thi = _percentile_interval(_f1(t[:, 0], t[:, 1], t[:, 2]))
    return {"type_macro_f1_ci_low": lo, "type_macro_f1_ci_high": hi,
            "theme_micro_f1_ci_low": tlo, "theme_micro_f1_ci_high": thi}


# Sentences written from the codebook to test behaviour (never trained on): minimal pairs
# (contrast), news-genre sentences and plain findings; data/eval/NAME.csv
EVAL_SETS = ("contrast", "news", "plain")
SWN = ("strength", "weakness", "neutral")


def eval_set_metrics(model: TaggerModel, eval_dir: Path) -> dict[str, float]:
    """Accuracy, strength/weakness flips and macro-F1 (all four types, and strength/weakness/
    neutral as the news measure) on each evaluation set present; for the contrast set also the
    share of minimal pairs with both sentences right."""
    out: dict[str, float] = {}
    for name in EVAL_SETS:
        path = eval_dir / f"{name}.csv"
        if not path.is_file():
            continue
        rows = read_eval_file(path)
        got = model.predict([r.text for r in rows], None, evidence=False).types
        gold = [r.type for r in rows]
        out[f"{name}_n"] = float(len(rows))
        out[f"{name}_accuracy"] = float(accuracy_score(gold, got))
        out[f"{name}_type_macro_f1"] = type_macro_f1(gold, got)
        out[f"{name}_swn_macro_f1"] = float(f1_score(gold, got, labels=list(SWN), average="macro", zero_division=0))
        out[f"{name}_sw_flips"] = float(sum(1 for a, b in zip(gold, got) if {a, b} == {"strength", "weakness"}))
        if name == "contrast":
            with path.open(encoding="utf-8", newline="") as fh:
                pairs = [r.get("pair", "") for r in csv.DictReader(fh)]
            right: dict[str, bool] = {}
            for pid, a, b in zip(pairs, gold, got):
                right[pid] = right.get(pid, True) and a == b
            out["contrast_pairs_right"] = float(np.mean(list(right.values())))
    return out


def evaluate_file(path: Path, model: Callable[[], TaggerModel], no_section: bool = False) -> dict[str, float]:
    """The ``evaluate`` command: a labelled CSV/JSONL (checked first) scored by ``model()``."""
    rows = read_eval_file(path)
    if no_section:
        rows = [dataclasses.replace(r, section="") for r in rows]
    metrics, _ = evaluate_rows(model(), rows)
    return metrics


@dataclasses.dataclass(frozen=True)
class ReportScore:
    """Hand labels scored against whole tagged reports (:func:`score_records`)."""

    metrics: dict[str, float]  # as :func:`all_metrics`, over the labelled sentences found
    found: int  # labelled sentences found among the reports' tagged sentences
    labelled: int  # labelled sentences of the tagged reports
    reports: int  # tagged reports with at least one labelled sentence


def score_records(records: Sequence[Mapping], rows: Sequence[LabelRow]) -> ReportScore:
    """Score tagged reports, as ``predict PATH`` reads them (its segmentation, sections and
    neighbours), on the hand labels of their sentences: a label of a report that was tagged (its
    ``report`` is the file's name without extension) is matched with the first tagged sentence of
    that report with the same whitespace-normalised text (the same :func:`pipeline.data.sentence_id`);
    labels of other reports are left out."""
    by_id: dict[str, Mapping] = {}
    for rec in records:
        by_id.setdefault(sentence_id(rec["report"], rec["text"]), rec)
    tagged = {rec["report"] for rec in records}
    mine = [r for r in rows if r.report in tagged]
    found = ((r, by_id.get(sentence_id(r.report, r.text))) for r in mine)  # a row's own id may be a line number
    pairs = [(r, rec) for r, rec in found if rec is not None]
    if not pairs:
        return ReportScore({}, 0, len(mine), 0)
    gold, got = [r for r, _ in pairs], [rec for _, rec in pairs]
    metrics = all_metrics([r.type for r in gold], [g["type"] for g in got],
                          np.array([[g["type_scores"][t] for t in TYPES] for g in got]),
                          [r.themes for r in gold], [g["themes"] for g in got],
                          np.array([[g["theme_scores"][t] for t in THEMES] for g in got]))
    return ReportScore(metrics, len(pairs), len(mine), len({r.report for r in gold}))


def summary_table(metrics: dict[str, float]) -> str:
    """A readable text report of the main figures."""
    lines = [
        f"type macro-F1 {metrics['type_macro_f1']:.3f}  accuracy {metrics['type_accuracy']:.3f}  "
        f"(n={int(metrics['type_n'])})",
        f"{'class':16s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'support':>8s}",
    ]
    for t in TYPES:
        lines.append(
            f"{t:16s} {metrics[f'type_{t}_precision']:9.3f} {metrics[f'type_{t}_recall']:7.3f} "
            f"{metrics[f'type_{t}_f1']:6.3f} {int(metrics[f'type_{t}_support']):8d}"
        )
    if "type_brier" in metrics:
        lines.append(f"calibration: Brier {metrics['type_brier']:.3f}  ECE {metrics['type_ece']:.3f}")
    lines.append(f"themes: micro-F1 {metrics['theme_micro_f1']:.3f}  macro-F1 {metrics['theme_macro_f1']:.3f}")
    lines.append("  " + "  ".join(f"{t} {metrics[f'theme_{t}_f1']:.2f}" for t in THEMES))
    return "\n".join(lines)


def behaviour_table(dev: dict[str, float], test: dict[str, float], behaviour: dict[str, float]) -> str:
    """Sentence-mode figures, the test interval and the written evaluation sets, as text."""
    lines = [f"without sections (predict --sentences): dev macro-F1 {dev.get('nosec_type_macro_f1', float('nan')):.3f}, "
             f"test {test.get('nosec_type_macro_f1', float('nan')):.3f}"]
    if "type_macro_f1_ci_low" in test:
        lines.append(f"test type macro-F1 95% interval {test['type_macro_f1_ci_low']:.3f}-{test['type_macro_f1_ci_high']:.3f}; "
                     f"theme micro-F1 {test['theme_micro_f1_ci_low']:.3f}-{test['theme_micro_f1_ci_high']:.3f}")
    if "nosec_type_macro_f1_ci_low" in test:
        lines.append(f"without sections, 95% interval: type macro-F1 {test['nosec_type_macro_f1_ci_low']:.3f}-"
                     f"{test['nosec_type_macro_f1_ci_high']:.3f}; theme micro-F1 {test['nosec_theme_micro_f1_ci_low']:.3f}-"
                     f"{test['nosec_theme_micro_f1_ci_high']:.3f}")
    for name in EVAL_SETS:
        if f"{name}_n" in behaviour:
            extra = f", pairs right {behaviour['contrast_pairs_right']:.3f}" if name == "contrast" else ""
            lines.append(f"{name} set (n={int(behaviour[name + '_n'])}): accuracy {behaviour[name + '_accuracy']:.3f}, "
                         f"s/w/n macro-F1 {behaviour[name + '_swn_macro_f1']:.3f}, "
                         f"strength/weakness flips {int(behaviour[name + '_sw_flips'])}{extra}")
    return "\n".join(lines)


def plot_confusion(gold: Sequence[str], pred: Sequence[str], path: Path, title: str) -> Path:
    import matplotlib  # lazy: charts are drawn only by training; matplotlib costs start-up time

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = confusion_matrix(gold, pred, labels=list(TYPES))
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(TYPES)), TYPES, rotation=30, ha="right")
    ax.set_yticks(range(len(TYPES)), TYPES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("hand label")
    for i in range(len(TYPES)):
        for j in range(len(TYPES)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="black" if cm[i, j] < cm.max() / 2 else "white")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_theme_f1(metrics: dict[str, float], path: Path, title: str) -> Path:
    import matplotlib  # lazy, as above

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vals = [metrics[f"theme_{t}_f1"] for t in THEMES]
    fig, ax = plt.subplots(figsize=(7, 5.5))
    ax.barh(range(len(THEMES)), vals, color="#4a7ab5")
    ax.set_yticks(range(len(THEMES)), THEMES)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
