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


def test_whole_reports_are_scored_on_the_labels_of_their_sentences():
    """score_records (``evaluate --reports``): real hand labels of two councils' reports against records
    shaped as ``predict`` writes them; a label is matched by its report and whitespace-normalised text,
    labels of reports not tagged are left out, a sentence segmented differently is not found."""
    from pipeline.evaluate import score_records
    from pipeline.label import LabelRow
    from tests.conftest import hand_records

    records, _ = hand_records({"sandwell", "surrey"})
    rows = [LabelRow(f"r{i}", r["report"], r["section"], r["text"], r["type"], r["themes"], "hand")
            for i, r in enumerate(records)]
    first = records[0]["report"]
    tagged = [dict(r, text="  " + r["text"].replace(" ", "\n", 1)) for r in records if r["report"] != first]
    score = score_records(tagged, rows)
    mine = sum(1 for r in rows if r.report != first)
    assert (score.found, score.labelled) == (mine, mine) and score.reports == len({r["report"] for r in tagged})
    assert score.metrics["type_macro_f1"] == 1.0 and score.metrics["theme_micro_f1"] == 1.0
    wrong = [dict(r, type="neutral" if r["type"] == "strength" else r["type"]) for r in tagged]
    assert score_records(wrong, rows).metrics["type_strength_recall"] == 0.0
    cut = [dict(r, text=r["text"][:-1]) if i % 2 else r for i, r in enumerate(tagged)]
    assert score_records(cut, rows).found < mine
    assert score_records([], rows).found == 0
