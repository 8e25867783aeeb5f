"""pipeline.train and pipeline.evaluate on synthetic labelled rows (no corpus, no MLflow)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import default_params
from pipeline.errors import UserError
from pipeline.evaluate import evaluate_file, evaluate_rows, summary_table
from pipeline.train import SEARCH_GRID, fit_model, new_model, search_grid
from tests.conftest import synthetic_rows


def test_fit_model_tunes_thresholds_on_dev_and_evaluates(tiny_model):
    metrics, pred = evaluate_rows(tiny_model, synthetic_rows(1))
    assert metrics["type_n"] == 72 and 0 <= metrics["type_macro_f1"] <= 1
    assert {"type_ece", "type_brier", "theme_micro_f1", "theme_front_door_f1"} <= set(metrics)
    assert len(pred.types) == 72
    assert "type macro-F1" in summary_table(metrics)


def test_without_dev_every_theme_gets_the_default_threshold():
    mp = default_params().model
    m = fit_model(synthetic_rows(0), [], mp)
    assert np.all(m.thresholds_ == mp.theme_default_threshold)


def test_skip_themes_fits_the_same_type_classifier_and_no_themes(tiny_model):
    """scripts/cv_type.py measures the type classifier that training fits, without the themes."""
    m = fit_model(synthetic_rows(0), synthetic_rows(1), default_params().model, skip_themes=True)
    assert np.allclose(m.type_clf_.coef_, tiny_model.type_clf_.coef_)
    assert not hasattr(m, "theme_clf_")


def test_new_model_takes_params_yaml():
    mp = default_params().model
    m = new_model(mp)
    assert m.tfidf == mp.tfidf.model_dump() and m.random_state == mp.random_state


def test_search_grid_covers_every_setting():
    mp0 = default_params().model
    grid = list(search_grid(mp0))
    assert len(grid) == np.prod([len(v) for v in SEARCH_GRID.values()])
    setting, mp = grid[-1]
    assert (mp.type_logreg.C, mp.type_logreg.class_weight, mp.theme_logreg.C) == (
        setting["type_C"], setting["type_class_weight"], setting["theme_C"])
    assert mp.tfidf == mp0.tfidf


def test_evaluate_file(tiny_model, tmp_path):
    f = tmp_path / "gold.csv"
    f.write_text("text,type,themes,section\n"
                 "Ensure that the early help offer improves.,recommendation,early_help,\n"
                 "Supervision by managers is not always effective.,weakness,management_oversight,\n", encoding="utf-8")
    loads = []
    metrics = evaluate_file(f, lambda: loads.append(1) or tiny_model)
    assert metrics["type_n"] == 2 and loads == [1]
    f.write_text("text,type,themes\nGood work.,praise,\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"gold.csv:2: type 'praise'"):
        evaluate_file(f, lambda: pytest.fail("the model is loaded only for a valid file"))
