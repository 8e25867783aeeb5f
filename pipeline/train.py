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


_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def normalise_text(text: str) -> str:
    """What the TF-IDF sees: lower case, every number folded to '0' (numbers carry no polarity)."""
    return _DIGITS.sub("0", text.lower())


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
        # Fast path: the fitted linear algebra without sklearn's per-call validation
        # (identical numbers; a single-sentence request pays ~0.3 ms instead of ~10 ms).
        self._text_vec = self.vectorizer.named_transformers_["text"]
        self._section_vec = self.vectorizer.named_transformers_["section"]
        self._type_linear = None
        if not hasattr(self.type_clf, "calibrated_classifiers_") and np.asarray(base.coef_).shape[0] == len(TYPES):
            self._type_linear = (np.asarray(base.coef_)[order].T.copy(), np.asarray(base.intercept_)[order].copy())
        ests = getattr(self.theme_clf, "estimators_", [])
        self._theme_linear = None
        if len(ests) == len(THEMES) and all(hasattr(e, "coef_") for e in ests):
            self._theme_linear = (np.vstack([e.coef_ for e in ests]).T.copy(), np.array([e.intercept_[0] for e in ests]))

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
        import scipy.sparse as sp

        secs = sections if (sections is not None and self.use_section) else [""] * len(texts)
        return sp.hstack([self._text_vec.transform(texts),
                          self._section_vec.transform([section_tokens(s) for s in secs])], format="csr")

    def type_proba(self, X) -> np.ndarray:
        """Type probabilities, columns in TYPES order."""
        if self._type_linear is None:
            return self.type_clf.predict_proba(X)[:, self._type_order]
        z = np.asarray(X @ self._type_linear[0]) + self._type_linear[1]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def theme_proba(self, X) -> np.ndarray:
        """Per-theme probabilities, columns in THEMES order."""
        if self._theme_linear is None:
            return self.theme_clf.predict_proba(X)
        z = np.asarray(X @ self._theme_linear[0]) + self._theme_linear[1]
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, texts: Sequence[str], sections: Sequence[str] | None = None, evidence: bool = True) -> Prediction:
        if len(texts) == 0:
            return Prediction([], np.zeros(0), np.zeros((0, len(TYPES))), [], np.zeros((0, len(THEMES))), [])
        X = self.transform(texts, sections)
        proba = self.type_proba(X)
        furniture = np.fromiter((is_furniture(t) for t in texts), dtype=bool, count=len(texts))
        proba[furniture] = np.eye(len(TYPES))[TYPES.index("neutral")]
        pred_idx = proba.argmax(axis=1)
        theme_scores = self.theme_proba(X)
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
        max_features=t.max_features, preprocessor=normalise_text, dtype=np.float32,
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


# --------------------------------------------------------------------------- #
# MLflow tracking, registry and export
# --------------------------------------------------------------------------- #
PROMOTE_METRIC = "dev_type_macro_f1"


def configure_tracking(params: Params) -> str:
    """Point MLflow at MLFLOW_TRACKING_URI, else at the project's local SQLite store."""
    import os

    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{params.paths.mlflow_db}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _experiment_id(params: Params) -> str:
    import os

    import mlflow

    exp = mlflow.get_experiment_by_name(params.tracking.experiment)
    if exp is not None:
        return exp.experiment_id
    local = not os.environ.get("MLFLOW_TRACKING_URI")
    return mlflow.create_experiment(
        params.tracking.experiment, artifact_location=params.paths.mlflow_artifacts.as_uri() if local else None
    )


def _git_commit() -> str:
    import subprocess

    from pipeline.config import PROJECT_ROOT

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _flat_params(mp: ModelParams) -> dict[str, str]:
    out = {}
    for k, v in mp.model_dump().items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out[f"{k}.{k2}"] = str(v2)
        else:
            out[k] = str(v)
    return out


def _versions() -> dict[str, str]:
    import platform

    import mlflow
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "mlflow": mlflow.__version__}


@dataclass
class TrainResult:
    run_id: str
    dev: dict[str, float]
    test: dict[str, float]
    seconds: float
    version: str | None
    promoted: bool
    exported: Path | None
    previous_best: float | None


def _write_artifacts(outdir: Path, model: TaggerModel, ds: Dataset, dev: dict, test: dict, dev_pred, test_pred) -> None:
    import csv

    from pipeline.evaluate import plot_confusion, plot_theme_f1, summary_table

    plot_confusion([r.type for r in ds.dev], dev_pred.types, outdir / "confusion_dev.png", "type, dev split")
    plot_confusion([r.type for r in ds.test], test_pred.types, outdir / "confusion_test.png", "type, test split")
    plot_theme_f1(dev, outdir / "theme_f1_dev.png", "theme F1, dev split")
    plot_theme_f1(test, outdir / "theme_f1_test.png", "theme F1, test split")
    (outdir / "classification_report.txt").write_text(
        "DEV\n" + summary_table(dev) + "\n\nTEST\n" + summary_table(test) + "\n", encoding="utf-8"
    )
    with (outdir / "misclassified_dev.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "report", "section", "text", "gold_type", "pred_type", "confidence", "gold_themes", "pred_themes"])
        for i, r in enumerate(ds.dev):
            if r.type != dev_pred.types[i] or set(r.themes) != set(dev_pred.themes[i]):
                w.writerow([r.id, r.report, r.section, r.text, r.type, dev_pred.types[i],
                            f"{dev_pred.confidence[i]:.3f}", ";".join(r.themes), ";".join(dev_pred.themes[i])])


def _model_card(model: TaggerModel, ds: Dataset, dev: dict, test: dict, run_id: str, version: str | None,
                params: Params) -> dict:
    import datetime

    return {
        "name": params.tracking.registered_model,
        "version": version,
        "alias": params.tracking.alias,
        "run_id": run_id,
        "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "data": {"hashes": ds.hashes, "counts": {"train": len(ds.train), "dev": len(ds.dev), "test": len(ds.test),
                                                 "weak": len(ds.weak)}},
        "metrics": {"dev": dev, "test": test},
        "params": params.model.model_dump(),
        "versions": _versions(),
        "thresholds": {t: float(x) for t, x in zip(THEMES, model.thresholds)},
    }


def export_model(model: TaggerModel, card: dict, target: Path) -> Path:
    """Write model.joblib + model_card.json into ``target`` atomically (whole directory swap)."""
    import shutil
    import tempfile

    import joblib

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        joblib.dump(model, tmp / "model.joblib", compress=3)
        (tmp / "model_card.json").write_text(json.dumps(card, indent=2, default=float), encoding="utf-8")
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        tmp.chmod(0o755)
        tmp.rename(target)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _log_pyfunc(model_file: Path, params: Params, example: list[dict]) -> object:
    import mlflow

    from pipeline.config import PROJECT_ROOT
    from pipeline.predict import TaggerPyfunc

    seg = model_file.parent / "segment_params.json"
    seg.write_text(json.dumps(params.segment.model_dump()), encoding="utf-8")
    v = _versions()
    reqs = [f"scikit-learn=={v['scikit-learn']}", f"numpy=={v['numpy']}", f"mlflow=={v['mlflow']}", "pypdfium2",
            "blingfire", "beautifulsoup4", "lxml", "python-docx", "pyyaml", "pydantic", "joblib", "tqdm", "click"]
    import logging
    import warnings

    quiet = logging.getLogger("mlflow")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return mlflow.pyfunc.log_model(
                name="model",
                python_model=TaggerPyfunc(),
                artifacts={"tagger": str(model_file), "segment_params": str(seg)},
                code_paths=[str(PROJECT_ROOT / "pipeline")],
                input_example=example,
                pip_requirements=reqs,
            )
    finally:
        quiet.setLevel(level)


def run_training(params: Params, register: bool = True, log=print) -> TrainResult:
    """Fit on the committed data, evaluate on dev and test, track in MLflow, register, promote, export."""
    import tempfile
    import time

    import mlflow
    from mlflow import MlflowClient

    configure_tracking(params)
    ds = load_dataset(params)
    t0 = time.perf_counter()
    model = fit_model(ds.train, ds.dev, params.model, extra=ds.weak)
    seconds = time.perf_counter() - t0
    dev, dev_pred = evaluate_rows(model, ds.dev)
    test, test_pred = evaluate_rows(model, ds.test)
    exp_id = _experiment_id(params)
    name = params.tracking.registered_model
    with mlflow.start_run(experiment_id=exp_id) as run:
        run_id = run.info.run_id
        mlflow.log_params(_flat_params(params.model))
        mlflow.set_tags({"git_commit": _git_commit(), **{f"data.{k}_hash": v for k, v in ds.hashes.items()}})
        mlflow.log_params({"data.train_n": len(ds.train), "data.dev_n": len(ds.dev), "data.test_n": len(ds.test),
                           "data.weak_n": len(ds.weak)})
        mlflow.log_metrics({f"dev_{k}": v for k, v in dev.items()})
        mlflow.log_metrics({f"test_{k}": v for k, v in test.items()})
        mlflow.log_metric("train_seconds", seconds)
        with tempfile.TemporaryDirectory() as tmpd:
            tmp = Path(tmpd)
            _write_artifacts(tmp, model, ds, dev, test, dev_pred, test_pred)
            import joblib

            joblib.dump(model, tmp / "model.joblib", compress=3)
            card = _model_card(model, ds, dev, test, run_id, None, params)
            (tmp / "model_card.json").write_text(json.dumps(card, indent=2, default=float), encoding="utf-8")
            mlflow.log_artifacts(str(tmp), artifact_path="report")
            example = [{"text": "Caseloads are manageable.", "mode": "sentence", "report": "example"}]
            info = _log_pyfunc(tmp / "model.joblib", params, example)
    version = None
    promoted = False
    previous = None
    if register:
        client = MlflowClient()
        mv = mlflow.register_model(info.model_uri, name)
        version = str(mv.version)
        try:
            champ = client.get_model_version_by_alias(name, params.tracking.alias)
            previous = client.get_run(champ.run_id).data.metrics.get(PROMOTE_METRIC)
        except Exception:  # no champion yet
            champ = None
        if champ is None or previous is None or dev["type_macro_f1"] > previous:
            client.set_registered_model_alias(name, params.tracking.alias, version)
            promoted = True
    else:
        current = _exported_metric(params)
        previous = current
        promoted = current is None or dev["type_macro_f1"] > current
    exported = None
    target = params.paths.models / "champion"
    if promoted or not (target / "model.joblib").is_file():
        card = _model_card(model, ds, dev, test, run_id, version, params)
        exported = export_model(model, card, target)
    log(f"run {run_id}: dev macro-F1 {dev['type_macro_f1']:.3f}, test macro-F1 {test['type_macro_f1']:.3f} "
        f"({seconds:.1f}s fit)")
    return TrainResult(run_id, dev, test, seconds, version, promoted, exported, previous)


def _exported_metric(params: Params) -> float | None:
    card = params.paths.models / "champion" / "model_card.json"
    if not card.is_file():
        return None
    try:
        return float(json.loads(card.read_text(encoding="utf-8"))["metrics"]["dev"]["type_macro_f1"])
    except (KeyError, ValueError, json.JSONDecodeError):
        return None


# --------------------------------------------------------------------------- #
# Hyperparameter search (dev split only; never the test split)
# --------------------------------------------------------------------------- #
SEARCH_GRID = {
    "type_C": [4.0, 8.0, 16.0, 32.0],
    "type_class_weight": [None, "balanced"],
    "theme_C": [8.0, 16.0],
}


def run_search(params: Params, write_params: bool = False, log=print) -> tuple[dict, list[dict]]:
    """Grid search on dev with one nested MLflow run per setting; optionally write the best back."""
    import itertools

    import mlflow

    configure_tracking(params)
    ds = load_dataset(params)
    mp0 = params.model
    rows = []
    with mlflow.start_run(experiment_id=_experiment_id(params), run_name="search"):
        for tc, cw, thc in itertools.product(*SEARCH_GRID.values()):
            mp = mp0.model_copy(update={
                "type_logreg": mp0.type_logreg.model_copy(update={"C": tc, "class_weight": cw}),
                "theme_logreg": mp0.theme_logreg.model_copy(update={"C": thc}),
            })
            with mlflow.start_run(nested=True, run_name=f"C{tc}-{cw}-themeC{thc}"):
                model = fit_model(ds.train, ds.dev, mp, extra=ds.weak)
                dev, _ = evaluate_rows(model, ds.dev)
                mlflow.log_params({"type_logreg.C": tc, "type_logreg.class_weight": str(cw), "theme_logreg.C": thc})
                mlflow.log_metrics({f"dev_{k}": v for k, v in dev.items()})
            row = {"type_C": tc, "type_class_weight": cw, "theme_C": thc, "dev_type_macro_f1": dev["type_macro_f1"],
                   "dev_theme_micro_f1": dev["theme_micro_f1"]}
            rows.append(row)
            log(f"  {row}")
    best_type = max(rows, key=lambda r: r["dev_type_macro_f1"])
    best_theme = max(rows, key=lambda r: r["dev_theme_micro_f1"])
    best = {"type_C": best_type["type_C"], "type_class_weight": best_type["type_class_weight"],
            "theme_C": best_theme["theme_C"]}
    if write_params:
        write_best_params(params.source, best)
    return best, rows


def write_best_params(path: Path, best: dict) -> None:
    """Write the best logreg settings into params.yaml atomically.

    The project's file keeps its comments (its one-line ``{C: ..., class_weight: ...}``
    entries are edited in place); any other layout is rewritten through YAML. The
    result is read back and checked.
    """
    import yaml

    from pipeline.config import load_params
    from pipeline.errors import UserError, atomic_write

    text = path.read_text(encoding="utf-8")
    cw = "null" if best["type_class_weight"] is None else best["type_class_weight"]
    new, n1 = re.subn(r"(?m)^(\s*type_logreg:\s*\{)C:\s*[\d.]+,\s*class_weight:\s*\w+",
                      rf"\g<1>C: {best['type_C']}, class_weight: {cw}", text)
    new, n2 = re.subn(r"(?m)^(\s*theme_logreg:\s*\{)C:\s*[\d.]+", rf"\g<1>C: {best['theme_C']}", new)
    if n1 != 1 or n2 != 1:
        raw = yaml.safe_load(text)
        raw["model"]["type_logreg"].update({"C": best["type_C"], "class_weight": best["type_class_weight"]})
        raw["model"]["theme_logreg"]["C"] = best["theme_C"]
        new = yaml.safe_dump(raw, sort_keys=False)
    with atomic_write(path) as fh:
        fh.write(new)
    got = load_params(path).model
    if (got.type_logreg.C, got.type_logreg.class_weight, got.theme_logreg.C) != (
            best["type_C"], best["type_class_weight"], best["theme_C"]):
        raise UserError(f"{path}: could not write the best parameters; set them by hand: {best}.")
