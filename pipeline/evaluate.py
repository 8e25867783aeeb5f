"""Evaluate: the metrics every model is judged by, and their charts.

Pure functions from gold and predicted labels to a flat ``dict`` of figures
(type macro-F1 and per-class precision/recall/F1, theme micro/macro-F1 and
per-theme F1, calibration as Brier score and expected calibration error), plus
PNG charts for MLflow.  Used by training, ``ofsted-tagger evaluate`` and the
benchmarks, so every figure is computed in one place.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from pipeline.label import LabelRow, read_eval_file
from pipeline.model import Prediction, TaggerModel
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


def evaluate_rows(model: TaggerModel, rows: Sequence[LabelRow]) -> tuple[dict[str, float], Prediction]:
    """Every metric for labelled rows scored by ``model``, and its predictions."""
    pred = model.predict([r.text for r in rows], [r.section for r in rows], evidence=False)
    metrics = all_metrics([r.type for r in rows], pred.types, pred.type_scores,
                          [r.themes for r in rows], pred.themes, pred.theme_scores)
    return metrics, pred


def evaluate_file(path: Path, model: Callable[[], TaggerModel], no_section: bool = False) -> dict[str, float]:
    """The ``evaluate`` command: a labelled CSV/JSONL (checked first) scored by ``model()``."""
    rows = read_eval_file(path)
    if no_section:
        rows = [dataclasses.replace(r, section="") for r in rows]
    metrics, _ = evaluate_rows(model(), rows)
    return metrics


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
