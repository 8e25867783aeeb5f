"""Predict: load a trained tagger and tag reports or sentences.

- :func:`load_model` takes ``None`` (the exported champion in ``models/``), a
  ``models/`` directory or ``.joblib`` file, or an MLflow URI
  (``models:/ofsted-tagger@champion``, ``runs:/...``) and returns a
  :class:`~pipeline.train.TaggerModel`, with one clear message when it cannot.
- :func:`tag_sentences` / :func:`tag_document` turn text into output records;
  :func:`summarise` counts types per theme for a report.
- :class:`TaggerPyfunc` is the MLflow pyfunc: segmentation + both classifiers
  in one model, so ``mlflow models serve`` tags whole reports.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import mlflow.pyfunc
import pydantic

from pipeline.config import Params
from pipeline.errors import UserError
from pipeline.ingest import Document, document_from_text
from pipeline.label import THEMES, TYPES
from pipeline.segment import Sentence, segment

MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
RECORD_FIELDS = [
    "report", "index", "section", "grade", "text", "type", "confidence", "themes", "evidence",
    *[f"p_{t}" for t in TYPES], *[f"p_{t}" for t in THEMES],
]


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #
def champion_dir(params: Params) -> Path:
    return params.paths.models / "champion"


def _load_joblib(path: Path):
    import joblib
    import sklearn

    from pipeline.train import TaggerModel

    card_path = path.parent / CARD_FILE
    card = {}
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            card = {}
    built_with = card.get("versions", {}).get("scikit-learn")
    if built_with and built_with != sklearn.__version__:
        warnings.warn(
            f"{path}: model built with scikit-learn {built_with}, running {sklearn.__version__}; "
            "predictions may differ — retrain with 'ofsted-tagger train'.",
            stacklevel=2,
        )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
            model = joblib.load(path)
    except Exception as exc:  # truncated, wrong format, incompatible pickle
        raise UserError(f"{path}: not a loadable model ({exc.__class__.__name__}); retrain with 'ofsted-tagger train'.")
    if not isinstance(model, TaggerModel):
        raise UserError(f"{path}: holds a {type(model).__name__}, not an ofsted-tagger model; give a models/ directory.")
    return model


def load_model(uri: str | None, params: Params):
    """The tagger at ``uri`` (see module doc); raises UserError with what to do."""
    if uri is None:
        path = champion_dir(params) / MODEL_FILE
        if not path.is_file():
            raise UserError(f"{path}: no trained model yet; run 'ofsted-tagger train' first (or pass --model).")
        return _load_joblib(path)
    if uri.startswith(("models:/", "runs:/", "mlflow-artifacts:/")):
        from pipeline.train import configure_tracking

        configure_tracking(params)
        try:
            loaded = mlflow.pyfunc.load_model(uri)
        except Exception as exc:
            raise UserError(f"{uri}: cannot load this MLflow model ({exc.__class__.__name__}: {str(exc)[:160]}); "
                            "check the name/alias with the MLflow UI or train one.")
        return loaded.unwrap_python_model().model
    path = Path(uri)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise UserError(f"{path}: no such model file; give a models/ directory, a .joblib file or models:/NAME@ALIAS.")
    return _load_joblib(path)


def read_card(model_dir: Path) -> dict:
    path = model_dir / CARD_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


# --------------------------------------------------------------------------- #
# Tagging
# --------------------------------------------------------------------------- #
def score_fields(pred, i: int) -> dict[str, Any]:
    """The model's part of sentence ``i``'s output record (every engine formats it here)."""
    return {
        "type": pred.types[i],
        "confidence": round(float(pred.confidence[i]), 4),
        "type_scores": {t: round(float(pred.type_scores[i, j]), 4) for j, t in enumerate(TYPES)},
        "themes": pred.themes[i],
        "theme_scores": {t: round(float(pred.theme_scores[i, j]), 4) for j, t in enumerate(THEMES)},
        "evidence": pred.evidence[i] if pred.evidence else [],
    }


def _records(model, units: Sequence[Sentence]) -> list[dict[str, Any]]:
    pred = model.predict([u.text for u in units], [u.section for u in units])
    return [{"report": u.report, "index": u.index, "start": u.start, "end": u.end, "section": u.section,
             "grade": u.grade, "kind": u.kind, "text": u.text, **score_fields(pred, i)}
            for i, u in enumerate(units)]


def tag_sentences(model, sentences: Sequence[str], report: str = "sentences") -> list[dict[str, Any]]:
    """Tag pre-cut sentences, in input order, with no section context."""
    units = [Sentence(report, i, 0, len(s), "", None, s.strip(), "sentence") for i, s in enumerate(sentences)]
    return _records(model, units)


def tag_document(model, doc: Document, params: Params) -> list[dict[str, Any]]:
    units = segment(doc, params.segment.max_sentence_chars, params.segment.heading_max_words)
    return _records(model, units)


@dataclass(frozen=True)
class Summary:
    report: str
    sentences: int
    by_type: dict[str, int]
    by_theme: dict[str, dict[str, int]]  # theme -> type -> count

    def net_score(self) -> float | None:
        s, w = self.by_type.get("strength", 0), self.by_type.get("weakness", 0)
        return (s - w) / (s + w) if s + w else None


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
        out.append(Summary(rep, len(rows), by_type, by_theme))
    return out


def summary_text(summaries: Sequence[Summary]) -> str:
    """The per-report summary table printed at the end of ``predict``."""
    lines = []
    for s in summaries:
        net = s.net_score()
        lines.append(
            f"{s.report}: {s.sentences} sentences — strengths {s.by_type['strength']}, weaknesses "
            f"{s.by_type['weakness']}, recommendations {s.by_type['recommendation']}, neutral {s.by_type['neutral']}"
            + (f", net score {net:+.2f}" if net is not None else "")
        )
        lines.append(f"  {'theme':31s} {'strength':>8s} {'weakness':>8s} {'recommend':>9s}")
        for th in THEMES:
            c = s.by_theme[th]
            if c["strength"] or c["weakness"] or c["recommendation"]:
                lines.append(f"  {th:31s} {c['strength']:8d} {c['weakness']:8d} {c['recommendation']:9d}")
    return "\n".join(lines)


def flat_record(r: dict[str, Any]) -> dict[str, Any]:
    """One record as flat columns (csv, xlsx): scores spread into p_<label> columns."""
    out = {k: r[k] for k in ("report", "index", "section", "grade", "text", "type", "confidence")}
    out["themes"] = ";".join(r["themes"])
    out["evidence"] = ";".join(r["evidence"])
    for t, v in r["type_scores"].items():
        out[f"p_{t}"] = v
    for t, v in r["theme_scores"].items():
        out[f"p_{t}"] = v
    return out


# --------------------------------------------------------------------------- #
# The MLflow pyfunc: segmentation + both classifiers in one model
# --------------------------------------------------------------------------- #
class TagRequest(pydantic.BaseModel):
    """One input row: a whole report's text (mode 'report') or one sentence (mode 'sentence')."""

    text: str
    mode: str = "report"
    report: str = "report"


class TaggerPyfunc(mlflow.pyfunc.PythonModel):
    """Tags report text or single sentences; input is a list of TagRequest-shaped dicts."""

    def load_context(self, context) -> None:
        import joblib

        self.model = joblib.load(context.artifacts["tagger"])
        self.segment_params = json.loads(Path(context.artifacts["segment_params"]).read_text())

    def predict(self, context, model_input: list[TagRequest], params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        sentences = [r for r in model_input if r.mode == "sentence"]
        if sentences:
            out.extend(tag_sentences(self.model, [r.text for r in sentences], sentences[0].report))
        for r in model_input:
            if r.mode == "sentence":
                continue
            doc = document_from_text(r.text, r.report)
            units = segment(doc, self.segment_params["max_sentence_chars"], self.segment_params["heading_max_words"])
            out.extend(_records(self.model, units))
        return out
