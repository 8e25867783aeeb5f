"""Train: the TF-IDF + logistic-regression tagger, fitted, evaluated and tracked in MLflow.

- :class:`TaggerModel`: one word 1-2-gram TF-IDF (plus section features) shared
  by a calibrated 4-class **type** classifier and an 18-label one-vs-rest
  **theme** tagger with per-theme thresholds tuned on dev.  Its
  :meth:`TaggerModel.predict` is vectorised end to end (no per-sentence Python
  in the scoring path) and also returns the evidence words.
- :func:`fit_model` fits it from labelled rows; :func:`run_training` loads the
  committed data and split, fits, evaluates on dev and test, logs everything to
  MLflow, registers the model and moves the ``champion`` alias only when the
  new model beats the champion on dev, and exports the champion to ``models/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.config import ModelParams, Params
from pipeline.label import THEMES, TYPES, LabelRow
from pipeline.segment import parse_grade

# --------------------------------------------------------------------------- #
# Section features: the kind of section a sentence sits in, and its grade
# --------------------------------------------------------------------------- #
_SECTION_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("improve", re.compile(r"(?i)what (?:needs|does the local authority need) to improve|areas? for (?:improvement|priority)"
                           r"|recommendation|priority and immediate action|should focus on|next steps")),
    ("strengths", re.compile(r"(?i)strengths")),
    ("help_protection", re.compile(r"(?i)help and protection")),
    ("care_leavers", re.compile(r"(?i)care leavers")),
    ("in_care", re.compile(r"(?i)children in care|looked after|permanence|adoption")),
    ("leaders", re.compile(r"(?i)leaders|leadership|management and governance|safeguarding children board|lscb")),
    ("overall", re.compile(r"(?i)overall|summary|findings|overview|headline|evaluation of progress")),
    ("info", re.compile(r"(?i)information about|judgements mean|about this inspection|contents|inspection team")),
)


def section_tokens(section: str) -> str:
    """``"sec_improve grade_none"``-style tokens describing a sentence's section."""
    kind = next((k for k, rx in _SECTION_KINDS if rx.search(section or "")), "other" if section else "none")
    return f"sec_{kind} grade_{parse_grade(section or '') or 'none'}"


_TABLE_CELL = re.compile(
    r"^\(.*\)\.?$|^(?:outstanding|good|inadequate|requires improvement(?: to be good)?)$", re.I
)


def is_furniture(text: str) -> bool:
    """Codebook rule 6 made exact: headings and table cells (a grade alone, a parenthesised
    reference, four words or fewer without end punctuation) are neutral."""
    t = text.strip()
    return bool(_TABLE_CELL.match(t)) or (len(t.split()) <= 4 and not t.endswith((".", "?", "!", '"', "”", "’")))


def _features_input(texts: Sequence[str], sections: Sequence[str] | None) -> np.ndarray:
    secs = sections if sections is not None else [""] * len(texts)
    arr = np.empty((len(texts), 2), dtype=object)
    arr[:, 0] = list(texts)
    arr[:, 1] = [section_tokens(s) for s in secs]
    return arr


# --------------------------------------------------------------------------- #
# The model
# --------------------------------------------------------------------------- #
@dataclass
class Prediction:
    """Scores for a batch of sentences (arrays row-aligned with the input)."""

    types: list[str]
    confidence: np.ndarray
    type_scores: np.ndarray  # n x 4, columns in TYPES order
    themes: list[list[str]]
    theme_scores: np.ndarray  # n x 18, columns in THEMES order
    evidence: list[list[str]] = field(default_factory=list)


class TaggerModel:
    """A fitted tagger: vectoriser, type classifier, theme tagger, thresholds."""

    def __init__(self, vectorizer, type_clf, theme_clf, thresholds: np.ndarray, max_themes: int,
                 evidence_words: int, use_section: bool, info: dict | None = None):
        self.vectorizer = vectorizer
        self.type_clf = type_clf
        self.theme_clf = theme_clf
        self.thresholds = thresholds
        self.max_themes = max_themes
        self.evidence_words = evidence_words
        self.use_section = use_section
        self.info = info or {}
        self._prepare()

    def _prepare(self) -> None:
        """Derive lookup arrays used at prediction time (not pickled twice: cheap to rebuild)."""
        names = self.vectorizer.get_feature_names_out()
        self._n_text = int(sum(1 for n in names if n.startswith("text__")))
        self._words = np.array([n[len("text__"):] for n in names[: self._n_text]], dtype=object)
        base = self._base_type_estimator()
        order = [list(base.classes_).index(t) for t in TYPES]
        self._type_coef = np.asarray(base.coef_)[order][:, : self._n_text]
        self._type_order = [list(self.type_clf.classes_).index(t) for t in TYPES]

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._prepare()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def _base_type_estimator(self):
        clf = self.type_clf
        if hasattr(clf, "calibrated_classifiers_"):
            return clf.calibrated_classifiers_[0].estimator
        return clf

    def transform(self, texts: Sequence[str], sections: Sequence[str] | None = None):
        return self.vectorizer.transform(_features_input(texts, sections if self.use_section else None))

    def predict(self, texts: Sequence[str], sections: Sequence[str] | None = None, evidence: bool = True) -> Prediction:
        if len(texts) == 0:
            return Prediction([], np.zeros(0), np.zeros((0, len(TYPES))), [], np.zeros((0, len(THEMES))), [])
        X = self.transform(texts, sections)
        proba = self.type_clf.predict_proba(X)[:, self._type_order]
        furniture = np.fromiter((is_furniture(t) for t in texts), dtype=bool, count=len(texts))
        proba[furniture] = np.eye(len(TYPES))[TYPES.index("neutral")]
        pred_idx = proba.argmax(axis=1)
        theme_scores = self.theme_clf.predict_proba(X)
        chosen = theme_scores >= self.thresholds
        # keep at most max_themes, highest scores first
        order = np.argsort(-theme_scores, axis=1)[:, : self.max_themes]
        themes = []
        for r in range(len(texts)):
            themes.append([THEMES[j] for j in order[r] if chosen[r, j]])
        ev = self._evidence(X, pred_idx) if evidence else []
        return Prediction([TYPES[i] for i in pred_idx], proba.max(axis=1), proba, themes, theme_scores, ev)

    def _evidence(self, X, pred_idx: np.ndarray) -> list[list[str]]:
        """Words whose TF-IDF weight times the predicted class's coefficient is largest."""
        Xt = X[:, : self._n_text].tocsr()
        n = Xt.shape[0]
        rows = np.repeat(np.arange(n), np.diff(Xt.indptr))
        if rows.size == 0:
            return [[] for _ in range(n)]
        contrib = Xt.data * self._type_coef[pred_idx[rows], Xt.indices]
        keep = contrib > 0
        rows, cols, contrib = rows[keep], Xt.indices[keep], contrib[keep]
        order = np.lexsort((-contrib, rows))
        rows, cols = rows[order], cols[order]
        starts = np.searchsorted(rows, np.arange(n))
        ends = np.searchsorted(rows, np.arange(n), side="right")
        k = self.evidence_words
        return [list(self._words[cols[s : min(e, s + k)]]) for s, e in zip(starts, ends)]

    def uncertainty_order(self, texts: Sequence[str], ids: Sequence[str], sections: Sequence[str] | None = None) -> list[str]:
        """Ids ordered from least to most confident type prediction (active learning)."""
        pred = self.predict(texts, sections, evidence=False)
        return [ids[i] for i in np.argsort(pred.confidence, kind="stable")]


# --------------------------------------------------------------------------- #
# Fitting
# --------------------------------------------------------------------------- #
def _vectorizer(mp: ModelParams):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    t = mp.tfidf
    text = TfidfVectorizer(
        ngram_range=(1, t.ngram_max), min_df=t.min_df, max_df=t.max_df, sublinear_tf=t.sublinear_tf,
        max_features=t.max_features, lowercase=True, strip_accents="unicode", dtype=np.float32,
    )
    section = CountVectorizer(token_pattern=r"\S+", binary=True, lowercase=False, dtype=np.float32)
    return ColumnTransformer([("text", text, 0), ("section", section, 1)], sparse_threshold=1.0)


def _logreg(p, mp: ModelParams):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=p.C, class_weight=p.class_weight, max_iter=p.max_iter, random_state=mp.random_state)


def tune_thresholds(scores: np.ndarray, gold: np.ndarray, grid: Sequence[float], default: float) -> np.ndarray:
    """Per-theme threshold maximising F1 on dev; the default where dev has no positives."""
    from sklearn.metrics import f1_score

    out = np.full(scores.shape[1], default)
    for j in range(scores.shape[1]):
        if gold[:, j].sum() == 0:
            continue
        f1s = [f1_score(gold[:, j], scores[:, j] >= t, zero_division=0) for t in grid]
        out[j] = grid[int(np.argmax(f1s))]
    return out


def fit_model(train: Sequence[LabelRow], dev: Sequence[LabelRow], mp: ModelParams,
              extra: Sequence[tuple[str, str, str]] = (), info: dict | None = None) -> TaggerModel:
    """Fit the tagger on hand-labelled ``train`` rows (plus weak ``extra`` (text, section, type)
    rows for the type classifier), tuning theme thresholds on ``dev``."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.multiclass import OneVsRestClassifier

    from pipeline.evaluate import theme_matrix

    if mp.use_section and mp.augment_blank_section:
        # each sentence also without its section, so sentences given alone score well too
        train = list(train) + [dataclasses.replace(r, section="") for r in train if r.section]
    texts = [r.text for r in train] + [e[0] for e in extra]
    sections = [r.section for r in train] + [e[1] for e in extra]
    y_type = np.array([r.type for r in train] + [e[2] for e in extra])
    weights = np.array([1.0] * len(train) + [mp.weak_label_weight] * len(extra))
    vec = _vectorizer(mp)
    X_all = vec.fit_transform(_features_input(texts, sections if mp.use_section else None))
    base = _logreg(mp.type_logreg, mp)
    if mp.calibration == "none":
        type_clf = base.fit(X_all, y_type, sample_weight=weights)
    else:
        cv = StratifiedKFold(n_splits=mp.calibration_cv, shuffle=True, random_state=mp.random_state)
        type_clf = CalibratedClassifierCV(base, method=mp.calibration, cv=cv, ensemble=False)
        type_clf.fit(X_all, y_type, sample_weight=weights)
    X_hand = X_all[: len(train)]
    Y = theme_matrix([r.themes for r in train])
    theme_clf = OneVsRestClassifier(_logreg(mp.theme_logreg, mp)).fit(X_hand, Y)
    model = TaggerModel(vec, type_clf, theme_clf, np.full(len(THEMES), mp.theme_default_threshold),
                        mp.max_themes, mp.evidence_words, mp.use_section, info)
    if dev:
        scores = model.predict([r.text for r in dev], [r.section for r in dev], evidence=False).theme_scores
        model.thresholds = tune_thresholds(scores, theme_matrix([r.themes for r in dev]),
                                           mp.theme_threshold_grid, mp.theme_default_threshold)
    return model


def evaluate_rows(model: TaggerModel, rows: Sequence[LabelRow]) -> tuple[dict[str, float], object]:
    from pipeline.evaluate import all_metrics

    pred = model.predict([r.text for r in rows], [r.section for r in rows], evidence=False)
    metrics = all_metrics([r.type for r in rows], pred.types, pred.type_scores,
                          [r.themes for r in rows], pred.themes, pred.theme_scores)
    return metrics, pred


# --------------------------------------------------------------------------- #
# Data for training
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Dataset:
    train: list[LabelRow]
    dev: list[LabelRow]
    test: list[LabelRow]
    weak: list[tuple[str, str, str]]
    hashes: dict[str, str]


def _hash_rows(rows: Sequence[LabelRow]) -> str:
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: r.id):
        h.update(f"{r.id}\t{r.type}\t{';'.join(r.themes)}\n".encode())
    return h.hexdigest()[:16]


def load_dataset(params: Params) -> Dataset:
    from pipeline.data import council_of, labels_path, read_metadata, read_split, split_path, weak_path
    from pipeline.errors import UserError
    from pipeline.label import read_labels

    meta = read_metadata(params.paths.corpus_metadata)
    split = read_split(split_path(params))
    parts: dict[str, list[LabelRow]] = {"train": [], "dev": [], "test": []}
    for r in read_labels(labels_path(params)):
        side = split.get(council_of(r.report, meta))
        if side is None:
            raise UserError(f"{labels_path(params)}: report {r.report} has no council in the split; run 'ofsted-tagger data check'.")
        parts[side].append(r)
    weak: list[tuple[str, str, str]] = []
    if params.model.use_weak_labels:
        wp = weak_path(params)
        if not wp.is_file():
            raise UserError(f"{wp}: weak labels not built; run 'ofsted-tagger data build' or set use_weak_labels: false.")
        hand_ids = {r.id for rows in parts.values() for r in rows}
        with wp.open(encoding="utf-8") as fh:
            for line in fh:
                w = json.loads(line)
                if (w["type"] and w["confidence"] >= params.model.weak_min_confidence and w["id"] not in hand_ids
                        and split.get(council_of(w["report"], meta)) == "train"):
                    weak.append((w["text"], w["section"], w["type"]))
    hashes = {k: _hash_rows(v) for k, v in parts.items()}
    return Dataset(parts["train"], parts["dev"], parts["test"], weak, hashes)
