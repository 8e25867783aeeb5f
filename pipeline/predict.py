"""Predict: load a trained tagger and tag reports or sentences into output records.

- :func:`load_model` takes ``None`` (the exported champion in ``models/``), a
  ``models/`` directory or ``.joblib`` file, or an MLflow URI
  (``models:/ofsted-tagger@champion``, ``runs:/...``) and returns a
  :class:`~pipeline.model.TaggerModel`, with one clear message when it cannot.
  Models saved before :mod:`pipeline.model` existed load too.
- :func:`tag_sentences` / :func:`tag_document` / :func:`tag_paths` turn text into
  records shaped by :data:`pipeline.schema.RECORD`; :func:`score_fields` formats the
  model's part of a record for every engine.

Summaries are :mod:`pipeline.summary`'s; the MLflow pyfunc is :mod:`pipeline.tracking`'s.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import sklearn

from pipeline.config import Params, tracking_uri
from pipeline.errors import UserError
from pipeline.ingest import Document
from pipeline.inputs import iter_documents, read_sentence_lines
from pipeline.model import NotATaggerModel, Prediction, TaggerModel, neighbour_texts
from pipeline.schema import SENTENCE_FIELDS, THEMES, TYPES, Sentence
from pipeline.segment import segment

MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")
PYFUNC_MODEL_FILE = Path("artifacts") / MODEL_FILE  # where an MLflow pyfunc model keeps the tagger


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #
def champion_dir(params: Params) -> Path:
    return params.paths.models / "champion"


def read_card(model_dir: Path) -> dict:
    """The model card beside a model; ``{}`` (with a warning) if it is missing, unreadable or not a JSON
    object: the card describes the model, a broken one must not stop it from serving."""
    path = model_dir / CARD_FILE
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.warn(f"{path}: model card unreadable ({exc.__class__.__name__}); ignored. Re-export the model to fix it.",
                      stacklevel=2)
        return {}
    if not isinstance(card, dict):
        warnings.warn(f"{path}: model card is not a JSON object; ignored. Re-export the model to fix it.", stacklevel=2)
        return {}
    return card


def load_model_file(path: Path) -> TaggerModel:
    """The tagger in a model.joblib; warns if it was built with another scikit-learn."""
    card = read_card(path.parent)
    versions = card.get("versions")
    built_with = versions.get("scikit-learn") if isinstance(versions, dict) else None
    if built_with and built_with != sklearn.__version__:
        warnings.warn(
            f"{path}: model built with scikit-learn {built_with}, running {sklearn.__version__}; "
            "predictions may differ — retrain with 'ofsted-tagger train'.",
            stacklevel=2,
        )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
            return TaggerModel.load(path)
    except NotATaggerModel as exc:
        raise UserError(f"{path}: holds a {exc}, not an ofsted-tagger model; give a models/ directory.")
    except Exception as exc:  # truncated, wrong format, incompatible pickle
        raise UserError(f"{path}: not a loadable model ({exc.__class__.__name__}); retrain with 'ofsted-tagger train'.")


def _load_mlflow_model(uri: str, params: Params) -> TaggerModel:
    """The tagger inside a logged MLflow pyfunc model (its model.joblib artifact, read without
    unpickling the pyfunc wrapper, so models logged by older versions load too)."""
    # lazy: MLflow costs ~2 s of start-up and is needed only for MLflow URIs
    import mlflow

    if not sys.stderr.isatty():  # MLflow's download progress bars only on a terminal, as ours
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    store = tracking_uri(params)  # runs:/ and models:/ resolve against the global URIs
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    with tempfile.TemporaryDirectory(prefix="ofsted-tagger-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        except Exception as exc:
            raise UserError(f"{uri}: cannot load this MLflow model ({exc.__class__.__name__}: {str(exc)[:160]}); "
                            "check the name/alias with the MLflow UI or train one.")
        if not (local / PYFUNC_MODEL_FILE).is_file():
            raise UserError(f"{uri}: not an ofsted-tagger MLflow model (no {PYFUNC_MODEL_FILE}); "
                            "give models:/NAME@ALIAS or runs:/RUN_ID/model of a training run.")
        return load_model_file(local / PYFUNC_MODEL_FILE)


def load_model(uri: str | None, params: Params) -> TaggerModel:
    """The tagger at ``uri`` (see module doc); raises UserError with what to do."""
    if uri is None:
        path = champion_dir(params) / MODEL_FILE
        if not path.is_file():
            raise UserError(f"{path}: no trained model yet; run 'ofsted-tagger train' first (or pass --model).")
        return load_model_file(path)
    if uri.startswith(MLFLOW_SCHEMES):
        return _load_mlflow_model(uri, params)
    path = Path(uri)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise UserError(f"{path}: no such model file; give a models/ directory, a .joblib file or models:/NAME@ALIAS.")
    return load_model_file(path)


# --------------------------------------------------------------------------- #
# Tagging
# --------------------------------------------------------------------------- #
def score_fields(pred: Prediction, i: int) -> dict[str, Any]:
    """The model's part of sentence ``i``'s output record (every engine formats it here)."""
    return {
        "type": pred.types[i],
        "confidence": round(float(pred.confidence[i]), 4),
        "type_scores": {t: round(float(pred.type_scores[i, j]), 4) for j, t in enumerate(TYPES)},
        "themes": pred.themes[i],
        "theme_scores": {t: round(float(pred.theme_scores[i, j]), 4) for j, t in enumerate(THEMES)},
        "evidence": pred.evidence[i] if pred.evidence else [],
    }


def tag_units(model: TaggerModel, units: Sequence[Sentence], context: bool = True) -> list[dict[str, Any]]:
    """Output records of segmented units, in order; with ``context`` the units are one document's,
    in reading order, and the theme tagger reads each one's neighbours (:func:`neighbour_texts`)."""
    texts, kinds = [u.text for u in units], [u.kind for u in units]
    pred = model.predict(texts, [u.section for u in units], kinds=kinds,
                         contexts=neighbour_texts(texts, kinds) if context else None)
    return [{**{f: getattr(u, f) for f in SENTENCE_FIELDS}, **score_fields(pred, i)} for i, u in enumerate(units)]


def tag_sentences(model: TaggerModel, sentences: Sequence[str], report: str = "sentences") -> list[dict[str, Any]]:
    """Tag pre-cut sentences, in input order, with no section context."""
    units = [Sentence(report, i, 0, len(s), "", None, s.strip(), "sentence") for i, s in enumerate(sentences)]
    return tag_units(model, units, context=False)


def tag_document(model: TaggerModel, doc: Document, params: Params) -> list[dict[str, Any]]:
    """Segment a document and tag every unit."""
    return tag_units(model, segment(doc, params.segment.max_sentence_chars, params.segment.heading_max_words))


def tag_paths(model: TaggerModel, paths: Iterable[str], params: Params, errors: list[str],
              sentences: bool = False) -> list[dict[str, Any]]:
    """Records for report files/directories/``-`` (or, with ``sentences``, one sentence a line);
    one message in ``errors`` per unreadable input."""
    if sentences:
        return [r for name, lines in read_sentence_lines(paths, errors, params.ingest.max_text_mb) for r in tag_sentences(model, lines, name)]
    return [r for doc in iter_documents(paths, params, errors) for r in tag_document(model, doc, params)]
