"""Tracking: training runs in MLflow — logged, registered, promoted, exported — and the MLflow pyfunc.

- :func:`run_training` fits on the committed data (:mod:`pipeline.train`), logs
  parameters, data hashes, metrics, charts and the model to MLflow, registers it and
  moves the ``champion`` alias only when the new model beats the champion on dev
  (:func:`promote`: a genuinely missing alias promotes; any other registry or
  connection error stops with one message and promotes nothing), then exports the
  champion to ``models/`` (:func:`export_model`).
- :func:`run_search` wraps :func:`pipeline.train.run_search` in a parent run with one
  nested run per setting.
- :class:`TaggerPyfunc` is the MLflow pyfunc: segmentation + both classifiers in one
  model, so ``mlflow models serve`` tags whole reports.
"""

from __future__ import annotations

import dataclasses

import csv
import datetime
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import mlflow
import numpy as np
import pydantic
import sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.config import PROJECT_ROOT, ModelParams, Params, load_params, tracking_uri
from pipeline.errors import UserError, atomic_write
from pipeline.evaluate import plot_confusion, plot_theme_f1, summary_table
from pipeline.ingest import document_from_text
from pipeline.model import TaggerModel
from pipeline.predict import CARD_FILE, MODEL_FILE, champion_dir, tag_sentences, tag_units
from pipeline.schema import THEMES
from pipeline.segment import segment
from pipeline.train import Trained, learning_curve, train_and_evaluate
from pipeline.train import run_search as search_on_dev

PROMOTE_METRIC = "dev_type_macro_f1"
# a tie on PROMOTE_METRIC (the same type classifier: a change to the themes alone) is broken by this
TIEBREAK_METRIC = "dev_theme_micro_f1"


def configure_tracking(params: Params) -> str:
    """Point MLflow (runs and registry) at MLFLOW_TRACKING_URI, else at the project's local SQLite store."""
    uri = tracking_uri(params)
    if not sys.stderr.isatty():  # MLflow's download progress bars only on a terminal, as ours
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _experiment_id(params: Params) -> str:
    exp = mlflow.get_experiment_by_name(params.tracking.experiment)
    if exp is not None:
        return exp.experiment_id
    # the project's own SQLite store keeps artifacts in paths.mlflow_artifacts; a tracking server chooses its own
    # (not "is MLFLOW_TRACKING_URI unset": mlflow.set_tracking_uri exports that variable itself)
    local = mlflow.get_tracking_uri() == f"sqlite:///{params.paths.mlflow_db}"
    return mlflow.create_experiment(
        params.tracking.experiment, artifact_location=params.paths.mlflow_artifacts.as_uri() if local else None
    )


def _git_commit() -> str:
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
    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "mlflow": mlflow.__version__}


# --------------------------------------------------------------------------- #
# Artifacts, model card, export
# --------------------------------------------------------------------------- #
def _write_artifacts(outdir: Path, t: Trained) -> None:
    ds = t.dataset
    plot_confusion([r.type for r in ds.dev], t.dev_pred.types, outdir / "confusion_dev.png", "type, dev split")
    plot_confusion([r.type for r in ds.test], t.test_pred.types, outdir / "confusion_test.png", "type, test split")
    plot_theme_f1(t.dev, outdir / "theme_f1_dev.png", "theme F1, dev split")
    plot_theme_f1(t.test, outdir / "theme_f1_test.png", "theme F1, test split")
    (outdir / "classification_report.txt").write_text(
        "DEV\n" + summary_table(t.dev) + "\n\nTEST\n" + summary_table(t.test) + "\n", encoding="utf-8"
    )
    with (outdir / "misclassified_dev.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "report", "section", "text", "gold_type", "pred_type", "confidence", "gold_themes", "pred_themes"])
        p = t.dev_pred
        for i, r in enumerate(ds.dev):
            if r.type != p.types[i] or set(r.themes) != set(p.themes[i]):
                w.writerow([r.id, r.report, r.section, r.text, r.type, p.types[i],
                            f"{p.confidence[i]:.3f}", ";".join(r.themes), ";".join(p.themes[i])])


def _model_card(t: Trained, run_id: str, version: str | None, params: Params) -> dict:
    ds = t.dataset
    return {
        "name": params.tracking.registered_model,
        "version": version,
        "alias": params.tracking.alias,
        "run_id": run_id,
        "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "data": {"hashes": ds.hashes, "counts": {"train": len(ds.train), "dev": len(ds.dev), "test": len(ds.test),
                                                 "weak": len(ds.weak), "written": len(ds.written)}},
        "metrics": {"dev": t.dev, "test": t.test, "behaviour": t.behaviour},
        "params": params.model.model_dump(),
        "versions": _versions(),
        "thresholds": {th: float(x) for th, x in zip(THEMES, t.model.thresholds_)},
        "thresholds_alone": ({th: float(x) for th, x in zip(THEMES, t.model.thresholds_alone_)}
                             if t.model.thresholds_alone_ is not None else None),
    }


def export_model(model: TaggerModel, card: dict, target: Path) -> Path:
    """Write model.joblib + model_card.json into ``target`` atomically (whole directory swap)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save(tmp / MODEL_FILE)
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, default=float), encoding="utf-8")
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


def _exported_metrics(params: Params) -> tuple[float | None, float | None]:
    """The exported champion's dev type macro-F1 and theme micro-F1 (None where unreadable)."""
    card = champion_dir(params) / CARD_FILE
    if not card.is_file():
        return None, None
    try:
        dev = json.loads(card.read_text(encoding="utf-8"))["metrics"]["dev"]
        return float(dev["type_macro_f1"]), (float(dev["theme_micro_f1"]) if "theme_micro_f1" in dev else None)
    except (KeyError, ValueError, TypeError, json.JSONDecodeError):
        return None, None


# --------------------------------------------------------------------------- #
# Registry: promotion
# --------------------------------------------------------------------------- #
def is_missing_alias(exc: BaseException) -> bool:
    """Is this the registry saying the alias does not exist yet (and nothing else)?

    The SQL store raises MlflowException(INVALID_PARAMETER_VALUE, "Registered model alias
    champion not found."); a tracking server sends the same as a RestException.
    """
    msg = str(exc).lower()
    return (isinstance(exc, MlflowException)
            and exc.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
            and "alias" in msg and "not found" in msg)


def beats(metric: float, tiebreak: float | None, previous: float | None, previous_tiebreak: float | None) -> bool:
    """Does a model with these dev figures beat the champion's? No champion figure: yes; else a
    higher PROMOTE_METRIC, or the same one and a higher TIEBREAK_METRIC."""
    if previous is None or metric > previous:
        return True
    return metric == previous and None not in (tiebreak, previous_tiebreak) and tiebreak > previous_tiebreak


def promote(client: MlflowClient, name: str, alias: str, version: str, dev_metric: float,
            where: str, dev_tiebreak: float | None = None) -> tuple[bool, float | None]:
    """Move ``name@alias`` to ``version`` if there is no champion yet or ``dev_metric`` beats its
    PROMOTE_METRIC (a tie: ``dev_tiebreak`` beats its TIEBREAK_METRIC). Returns (promoted, the
    champion's metric). Any registry error other than a missing alias raises a UserError and
    nothing is promoted."""
    def failed(step: str, exc: Exception) -> UserError:
        return UserError(f"MLflow registry at {where}: could not {step} ({exc.__class__.__name__}: {str(exc)[:200]}); "
                         f"version {version} of {name} was registered but nothing was promoted or exported — "
                         "check the tracking server and train again.")

    try:
        champ = client.get_model_version_by_alias(name, alias)
    except Exception as exc:
        if not is_missing_alias(exc):
            raise failed(f"read {name}@{alias}", exc)
        champ = None
    previous = previous_tiebreak = None
    if champ is not None:
        try:
            metrics = client.get_run(champ.run_id).data.metrics
        except Exception as exc:
            raise failed(f"read the run of {name}@{alias}", exc)
        previous, previous_tiebreak = metrics.get(PROMOTE_METRIC), metrics.get(TIEBREAK_METRIC)
    promoted = champ is None or beats(dev_metric, dev_tiebreak, previous, previous_tiebreak)
    if promoted:
        try:
            client.set_registered_model_alias(name, alias, version)
        except Exception as exc:
            raise failed(f"move {name}@{alias}", exc)
    return promoted, previous


# --------------------------------------------------------------------------- #
# Training run
# --------------------------------------------------------------------------- #
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
    behaviour: dict[str, float] = dataclasses.field(default_factory=dict)


def _log_pyfunc(model_file: Path, params: Params, example: list[dict]) -> Any:
    seg = model_file.parent / "segment_params.json"
    seg.write_text(json.dumps(params.segment.model_dump()), encoding="utf-8")
    v = _versions()
    reqs = [f"scikit-learn=={v['scikit-learn']}", f"numpy=={v['numpy']}", f"mlflow=={v['mlflow']}", "pypdfium2",
            "blingfire", "beautifulsoup4", "lxml", "python-docx", "pyyaml", "pydantic", "joblib", "tqdm", "click"]
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


def run_training(params: Params, register: bool = True, log: Callable[[str], None] = print) -> TrainResult:
    """Fit on the committed data, evaluate on dev and test, track in MLflow, register, promote, export."""
    uri = configure_tracking(params)
    t = train_and_evaluate(params)
    exp_id = _experiment_id(params)
    name = params.tracking.registered_model
    ds = t.dataset
    with mlflow.start_run(experiment_id=exp_id) as run:
        run_id = run.info.run_id
        mlflow.log_params(_flat_params(params.model))
        mlflow.set_tags({"git_commit": _git_commit(), **{f"data.{k}_hash": v for k, v in ds.hashes.items()}})
        mlflow.log_params({"data.train_n": len(ds.train), "data.dev_n": len(ds.dev), "data.test_n": len(ds.test),
                           "data.weak_n": len(ds.weak), "data.written_n": len(ds.written)})
        mlflow.log_metrics({f"dev_{k}": v for k, v in t.dev.items()})
        mlflow.log_metrics({f"test_{k}": v for k, v in t.test.items()})
        mlflow.log_metrics({f"eval_{k}": v for k, v in t.behaviour.items()})
        mlflow.log_metric("train_seconds", t.seconds)
        with tempfile.TemporaryDirectory() as tmpd:
            tmp = Path(tmpd)
            _write_artifacts(tmp, t)
            t.model.save(tmp / MODEL_FILE)
            card = _model_card(t, run_id, None, params)
            (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, default=float), encoding="utf-8")
            mlflow.log_artifacts(str(tmp), artifact_path="report")
            example = [{"text": "Caseloads are manageable.", "mode": "sentence", "report": "example"}]
            info = _log_pyfunc(tmp / MODEL_FILE, params, example)
    version = None
    if register:
        mv = mlflow.register_model(info.model_uri, name)
        version = str(mv.version)
        promoted, previous = promote(MlflowClient(), name, params.tracking.alias, version, t.dev["type_macro_f1"], uri,
                                     t.dev["theme_micro_f1"])
    else:
        previous, previous_tiebreak = _exported_metrics(params)
        promoted = beats(t.dev["type_macro_f1"], t.dev["theme_micro_f1"], previous, previous_tiebreak)
    exported = None
    target = champion_dir(params)
    if promoted or not (target / MODEL_FILE).is_file():
        exported = export_model(t.model, _model_card(t, run_id, version, params), target)
    log(f"run {run_id}: dev macro-F1 {t.dev['type_macro_f1']:.3f}, test macro-F1 {t.test['type_macro_f1']:.3f} "
        f"({t.seconds:.1f}s fit)")
    return TrainResult(run_id, t.dev, t.test, t.seconds, version, promoted, exported, previous, t.behaviour)


def curve_path(params: Params) -> Path:
    """The learning curve's figures, read by the data card."""
    return params.paths.data / "learning_curve.json"


def run_learning_curve(params: Params, log: Callable[[str], None] = print) -> list[dict[str, float]]:
    """``train --curve``: dev figures at growing shares of train, one MLflow run with a step per
    share (percent), and data/learning_curve.json for the data card."""
    configure_tracking(params)
    with mlflow.start_run(experiment_id=_experiment_id(params), run_name="learning-curve"):
        mlflow.log_params(_flat_params(params.model))
        rows = learning_curve(params, log=log)
        for r in rows:
            step = int(round(r["fraction"] * 100))
            mlflow.log_metrics({k: v for k, v in r.items() if k != "fraction"}, step=step)
    with atomic_write(curve_path(params)) as fh:
        json.dump({"git_commit": _git_commit(), "rows": rows}, fh, indent=2)
    return rows


def run_search(params: Params, write_params: bool = False, log: Callable[[str], None] = print) -> tuple[dict, list[dict]]:
    """The grid search on dev in a parent MLflow run, one nested run per setting."""
    configure_tracking(params)

    def log_setting(setting: dict, dev: dict[str, float]) -> None:
        tc, cw, thc = setting["type_C"], setting["type_class_weight"], setting["theme_C"]
        with mlflow.start_run(nested=True, run_name=f"C{tc}-{cw}-themeC{thc}"):
            mlflow.log_params({"type_logreg.C": tc, "type_logreg.class_weight": str(cw), "theme_logreg.C": thc})
            mlflow.log_metrics({f"dev_{k}": v for k, v in dev.items()})

    with mlflow.start_run(experiment_id=_experiment_id(params), run_name="search"):
        return search_on_dev(params, write_params=write_params, log=log, each=log_setting)


def train_command(params: Params, register: bool = True, search: bool = False, write_params: bool = False,
                  log: Callable[[str], None] = print) -> TrainResult:
    """The ``train`` command: optionally the grid search first (with ``write_params`` the best
    setting is written to the params file and trained with), then :func:`run_training`."""
    log(f"MLflow tracking: {configure_tracking(params)}")
    if search:
        best, _ = run_search(params, write_params=write_params, log=log)
        log(f"best on dev: {best}" + (" (written to params.yaml)" if write_params else ""))
        if write_params:
            params = load_params(params.source)
    return run_training(params, register=register, log=log)


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
        self.model = TaggerModel.load(context.artifacts["tagger"])
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
            out.extend(tag_units(self.model, units))
        return out
