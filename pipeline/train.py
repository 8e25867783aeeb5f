"""Train: the training data, fitting, evaluation and the hyperparameter search (no MLflow here).

- :func:`load_dataset` reads the committed hand labels and council split (plus weak
  labels when ``use_weak_labels``) into train/dev/test rows with their hashes.
- :func:`new_model` builds a :class:`~pipeline.model.TaggerModel` from ``params.yaml``;
  :func:`fit_model` fits it on labelled rows, tuning theme thresholds on dev;
  :func:`train_and_evaluate` fits on the committed data and scores dev and test
  with :func:`pipeline.evaluate.evaluate_rows`.
- :func:`run_search` is the grid search on dev (never test), with
  :func:`write_best_params` writing the best setting back to ``params.yaml``.

Tracking, registry and export are :mod:`pipeline.tracking`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import yaml

from pipeline.config import ModelParams, Params, load_params
from pipeline.data import (council_of, label_contexts, labels_path, read_metadata, read_split, read_written, split_path,
                           weak_path)
from pipeline.errors import UserError, atomic_write
from pipeline.evaluate import eval_set_metrics, evaluate_rows, interval_metrics, without_sections
from pipeline.label import LabelRow, read_labels

# Models pickled before pipeline.model existed name these by this module
# (pipeline.train.TaggerModel, pipeline.train.normalise_text); keep them resolvable here.
from pipeline.model import Context, Prediction, TaggerModel, normalise_text  # noqa: F401

# params.yaml's model keys that choose the training data rather than shape the model
DATA_KEYS = frozenset({"use_weak_labels", "weak_label_weight", "weak_min_confidence", "use_written", "written_weight"})


# --------------------------------------------------------------------------- #
# Data for training
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Dataset:
    train: list[LabelRow]
    dev: list[LabelRow]
    test: list[LabelRow]
    weak: list[tuple[str, str, str]]  # (text, section, type) of weak-labelled train-council sentences
    hashes: dict[str, str]
    written: list[LabelRow] = field(default_factory=list)  # sentences written from the codebook (train only)
    # sentence id -> its neighbours in its report (dataset_contexts), for the theme tagger's context block
    contexts: Mapping[str, Context] = field(default_factory=dict)


def _hash_rows(rows: Sequence[LabelRow]) -> str:
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: r.id):
        h.update(f"{r.id}\t{r.type}\t{';'.join(r.themes)}\n".encode())
    return h.hexdigest()[:16]


def load_dataset(params: Params) -> Dataset:
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
    written = read_written(params) if params.model.use_written else []
    hashes = {k: _hash_rows(v) for k, v in parts.items()}
    hashes["written"] = _hash_rows(written)
    ds = Dataset(parts["train"], parts["dev"], parts["test"], weak, hashes, written)
    return dataclasses.replace(ds, contexts=dataset_contexts(params, ds)) if params.model.theme_context_weight else ds


def dataset_contexts(params: Params, ds: Dataset) -> Mapping[str, Context]:
    """Each labelled sentence's neighbours in its report (:func:`pipeline.data.label_contexts`)."""
    return label_contexts(params, {r.report for rows in (ds.train, ds.dev, ds.test) for r in rows})


# --------------------------------------------------------------------------- #
# Fitting and evaluating
# --------------------------------------------------------------------------- #
def new_model(mp: ModelParams) -> TaggerModel:
    """An unfitted tagger with the hyperparameters of ``params.yaml``."""
    return TaggerModel(**mp.model_dump(exclude=set(DATA_KEYS)))


def fit_model(train: Sequence[LabelRow], dev: Sequence[LabelRow], mp: ModelParams,
              extra: Sequence[tuple[str, str, str]] = (), written: Sequence[LabelRow] = (),
              skip_themes: bool = False, contexts: Mapping[str, Context] | None = None) -> TaggerModel:
    """Fit the tagger on hand-labelled ``train`` rows and ``written`` sentences (weighted
    ``written_weight``), plus weak ``extra`` (text, section, type) rows for the type classifier
    (weighted ``weak_label_weight``), tuning theme thresholds on ``dev``; ``skip_themes``: the
    vectoriser and type classifier alone (see ``TaggerModel.fit``); ``contexts``: sentence id ->
    neighbours (``Dataset.contexts``) for the rows that have them (written sentences have none)."""
    rows = list(train) + list(written)
    ctx = contexts or {}
    return new_model(mp).fit(
        [r.text for r in rows] + [e[0] for e in extra],
        [r.type for r in rows] + [e[2] for e in extra],
        [r.themes for r in rows] + [None] * len(extra),
        [r.section for r in rows] + [e[1] for e in extra],
        sample_weight=[1.0] * len(train) + [mp.written_weight] * len(written) + [mp.weak_label_weight] * len(extra),
        dev_texts=[r.text for r in dev], dev_themes=[r.themes for r in dev], dev_sections=[r.section for r in dev],
        skip_themes=skip_themes, contexts=[ctx.get(r.id) for r in train] + [None] * len(written),
        dev_contexts=[ctx.get(r.id) for r in dev],
    )


@dataclass
class Trained:
    """A model fitted on the committed data, and its figures on dev and test."""

    model: TaggerModel
    dataset: Dataset
    dev: dict[str, float]
    test: dict[str, float]
    dev_pred: Prediction
    test_pred: Prediction
    seconds: float  # fitting time
    behaviour: dict[str, float] = field(default_factory=dict)  # the written evaluation sets (contrast, news, plain)


def score_splits(model: TaggerModel, ds: Dataset, params: Params) -> tuple[dict, dict, Prediction, Prediction]:
    """Dev and test figures: with sections and neighbours (as in a report), without them (``nosec_``:
    as ``predict --sentences``), and the test split's bootstrap intervals (both ways)."""
    dev, dev_pred = evaluate_rows(model, ds.dev, ds.contexts)
    test, test_pred = evaluate_rows(model, ds.test, ds.contexts)
    ev = params.evaluation
    test.update(interval_metrics(ds.test, test_pred, ev.bootstrap_samples, ev.bootstrap_seed))
    for figures, rows, intervals in ((dev, ds.dev, False), (test, ds.test, True)):
        bare_rows = without_sections(rows)
        bare, bare_pred = evaluate_rows(model, bare_rows)
        if intervals:  # the figure `predict --sentences` users see gets its interval too
            bare.update(interval_metrics(bare_rows, bare_pred, ev.bootstrap_samples, ev.bootstrap_seed))
        figures.update({f"nosec_{k}": v for k, v in bare.items()})
    return dev, test, dev_pred, test_pred


def train_and_evaluate(params: Params) -> Trained:
    ds = load_dataset(params)
    t0 = time.perf_counter()
    model = fit_model(ds.train, ds.dev, params.model, extra=ds.weak, written=ds.written, contexts=ds.contexts)
    seconds = time.perf_counter() - t0
    dev, test, dev_pred, test_pred = score_splits(model, ds, params)
    behaviour = eval_set_metrics(model, params.paths.eval_sets)
    return Trained(model, ds, dev, test, dev_pred, test_pred, seconds, behaviour)


def learning_curve(params: Params, log: Callable[[str], None] = print) -> list[dict[str, float]]:
    """Dev type macro-F1 and theme micro-F1 (in context, and alone) when the model is fitted
    on growing shares of the train split's hand labels (a fixed random order, so each share
    contains the smaller ones; written sentences are always included)."""
    ds = load_dataset(params)
    order = np.random.default_rng(params.model.random_state).permutation(len(ds.train))
    rows = []
    for frac in params.evaluation.learning_curve:
        sub = [ds.train[i] for i in sorted(order[: max(1, round(frac * len(ds.train)))])]
        model = fit_model(sub, ds.dev, params.model, extra=ds.weak, written=ds.written, contexts=ds.contexts)
        dev, _ = evaluate_rows(model, ds.dev, ds.contexts)
        bare, _ = evaluate_rows(model, without_sections(ds.dev))
        row = {"fraction": frac, "train_n": float(len(sub)), "dev_type_macro_f1": dev["type_macro_f1"],
               "dev_nosec_type_macro_f1": bare["type_macro_f1"], "dev_theme_micro_f1": dev["theme_micro_f1"],
               "dev_nosec_theme_micro_f1": bare["theme_micro_f1"]}
        log(f"  {frac:>5.0%} of train ({len(sub)} sentences): dev macro-F1 {row['dev_type_macro_f1']:.3f}, "
            f"without sections {row['dev_nosec_type_macro_f1']:.3f}, theme micro-F1 {row['dev_theme_micro_f1']:.3f}, "
            f"alone {row['dev_nosec_theme_micro_f1']:.3f}")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- #
# Hyperparameter search (dev split only; never the test split)
# --------------------------------------------------------------------------- #
SEARCH_GRID = {
    "type_C": [4.0, 8.0, 16.0, 32.0],
    "type_class_weight": [None, "balanced"],
    "theme_C": [8.0, 16.0],
}


def search_grid(mp0: ModelParams) -> Iterator[tuple[dict, ModelParams]]:
    """Each setting of SEARCH_GRID, and the model parameters with it applied."""
    for tc, cw, thc in itertools.product(*SEARCH_GRID.values()):
        mp = mp0.model_copy(update={
            "type_logreg": mp0.type_logreg.model_copy(update={"C": tc, "class_weight": cw}),
            "theme_logreg": mp0.theme_logreg.model_copy(update={"C": thc}),
        })
        yield {"type_C": tc, "type_class_weight": cw, "theme_C": thc}, mp


def run_search(params: Params, write_params: bool = False, log: Callable[[str], None] = print,
               each: Callable[[dict, dict[str, float]], None] | None = None) -> tuple[dict, list[dict]]:
    """Fit every setting of the grid and score it on dev; ``each(setting, dev metrics)`` is
    called per setting (tracking logs it). Returns the best setting and all rows;
    with ``write_params`` the best is written back to the params file."""
    ds = load_dataset(params)
    rows = []
    for setting, mp in search_grid(params.model):
        model = fit_model(ds.train, ds.dev, mp, extra=ds.weak, written=ds.written, contexts=ds.contexts)
        dev, _ = evaluate_rows(model, ds.dev, ds.contexts)
        if each is not None:
            each(setting, dev)
        row = {**setting, "dev_type_macro_f1": dev["type_macro_f1"], "dev_theme_micro_f1": dev["theme_micro_f1"]}
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
