"""pipeline.model on a few dozen synthetic sentences: fit, predict, save/load, and the scikit-learn contract."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from pipeline.config import default_params
from pipeline.model import NotATaggerModel, TaggerModel, is_furniture, normalise_text, section_tokens
from pipeline.schema import THEMES, TYPES
from pipeline.train import DATA_KEYS, fit_model, new_model
from tests.conftest import synthetic_rows


def _xy(rows):
    return [r.text for r in rows], [r.type for r in rows], [r.themes for r in rows], [r.section for r in rows]


def test_features():
    assert normalise_text("In 12 of 40 cases, 3.5%") == "in 0 of 0 cases, 0%"
    assert section_tokens("") == "sec_none grade_none"
    assert section_tokens("What needs to improve?") == "sec_improve grade_none"
    assert section_tokens("The experiences and progress of care leavers: good") == "sec_care_leavers grade_good"
    assert section_tokens("A heading of no known kind") == "sec_other grade_none"
    assert all(is_furniture(t) for t in ["Good", "Requires improvement to be good", "(Principle 1)", "Judgement Grade"])
    assert not is_furniture("Caseloads are manageable.")


def test_fit_and_predict_on_synthetic_sentences(tiny_model):
    rows = synthetic_rows(0)
    pred = tiny_model.predict([r.text for r in rows], [r.section for r in rows])
    assert len(pred.types) == len(rows) and set(pred.types) <= set(TYPES)
    assert pred.type_scores.shape == (len(rows), len(TYPES)) and pred.theme_scores.shape == (len(rows), len(THEMES))
    assert np.allclose(pred.type_scores.sum(axis=1), 1)
    assert np.allclose(pred.confidence, pred.type_scores.max(axis=1))
    accuracy = np.mean([p == r.type for p, r in zip(pred.types, rows)])
    assert accuracy >= 0.9, accuracy
    assert all(len(t) <= tiny_model.max_themes and set(t) <= set(THEMES) for t in pred.themes)
    assert all(len(e) <= tiny_model.evidence_words for e in pred.evidence)
    assert tiny_model.thresholds_.shape == (len(THEMES),)
    assert set(tiny_model.thresholds_) <= set(tiny_model.theme_threshold_grid) | {tiny_model.theme_default_threshold}


def test_furniture_is_neutral_and_empty_input(tiny_model):
    pred = tiny_model.predict(["Good", "(Principle 1)"])
    assert pred.types == ["neutral", "neutral"] and np.allclose(pred.confidence, 1)
    empty = tiny_model.predict([])
    assert empty.types == [] and empty.type_scores.shape == (0, len(TYPES))


def test_uncertainty_order(tiny_model):
    texts = ["Supervision is effective and timely.", "Something or other about the council.", "Good"]
    order = tiny_model.uncertainty_order(texts, ["a", "b", "c"])
    conf = dict(zip("abc", tiny_model.predict(texts).confidence))
    assert [conf[i] for i in order] == sorted(conf.values())


def test_save_and_load_give_the_same_predictions(tiny_model, tmp_path):
    path = tiny_model.save(tmp_path / "model.joblib")
    loaded = TaggerModel.load(path)
    texts = [r.text for r in synthetic_rows(1)]
    a, b = tiny_model.predict(texts), loaded.predict(texts)
    assert a.types == b.types and a.evidence == b.evidence and np.array_equal(a.type_scores, b.type_scores)
    assert loaded.get_params() == tiny_model.get_params()
    import joblib

    joblib.dump({"not": "a model"}, tmp_path / "other.joblib")
    with pytest.raises(NotATaggerModel):
        TaggerModel.load(tmp_path / "other.joblib")


def test_weak_rows_train_the_type_classifier_only():
    mp = default_params().model
    rows = synthetic_rows(0)
    texts, types, themes, sections = _xy(rows)
    weak = ["Caseloads are manageable and effective."]
    m = new_model(mp).fit(texts + weak, types + ["strength"], themes + [None], sections + [""],
                          sample_weight=[1.0] * len(rows) + [mp.weak_label_weight])
    assert len(m.type_clf_.classes_) == len(TYPES)
    assert m.predict(weak).types == ["strength"]


# --------------------------------------------------------------------------- #
# The scikit-learn contract
# --------------------------------------------------------------------------- #
def _unfitted() -> TaggerModel:
    return new_model(default_params().model)


def test_params_are_those_of_params_yaml():
    mp = default_params().model
    m = _unfitted()
    assert set(m.get_params()) == set(mp.model_dump()) - DATA_KEYS
    assert m.get_params()["type_logreg"] == mp.type_logreg.model_dump()
    assert "TaggerModel(" in repr(m)


def test_set_params_and_clone():
    m = _unfitted()
    assert m.set_params(max_themes=2) is m and m.max_themes == 2
    c = clone(m)
    assert c is not m and c.get_params() == m.get_params()
    with pytest.raises(ValueError):
        m.set_params(no_such_param=1)


def test_not_fitted_before_fit():
    m = _unfitted()
    with pytest.raises(NotFittedError):
        m.predict(["Caseloads are manageable."])
    with pytest.raises(NotFittedError):
        check_is_fitted(m)


def test_fit_returns_self_and_fitted_attributes_end_in_underscore():
    m = _unfitted()
    before = set(vars(m))
    texts, types, themes, sections = _xy(synthetic_rows(0))
    assert m.fit(texts, types, themes, sections) is m
    check_is_fitted(m)
    public_new = {k for k in set(vars(m)) - before if not k.startswith("_")}
    assert public_new == {"vectorizer_", "type_clf_", "theme_clf_", "theme_fold_", "thresholds_"}
    assert all(k.endswith("_") for k in public_new)
    assert m.get_params() == _unfitted().get_params()  # fit leaves the parameters alone
    fitted_clone = clone(m)
    with pytest.raises(NotFittedError):
        fitted_clone.predict(["x"])


def test_deterministic_with_random_state():
    mp = default_params().model
    rows, dev = synthetic_rows(0), synthetic_rows(1)
    a, b = fit_model(rows, dev, mp), fit_model(rows, dev, mp)
    texts = [r.text for r in dev]
    pa, pb = a.predict(texts), b.predict(texts)
    assert pa.types == pb.types and np.array_equal(pa.type_scores, pb.type_scores)
    assert np.array_equal(pa.theme_scores, pb.theme_scores) and np.array_equal(a.thresholds_, b.thresholds_)


def test_calibrated_type_classifier_uses_the_sklearn_path():
    mp = default_params().model
    m = new_model(mp).set_params(calibration="sigmoid", calibration_cv=2)
    texts, types, themes, sections = _xy(synthetic_rows(0) + synthetic_rows(1))
    m.fit(texts, types, themes, sections)
    assert m._type_linear is None
    p = m.predict(texts)
    assert np.allclose(p.type_scores.sum(axis=1), 1)


def test_pickles_without_derived_arrays(tiny_model):
    state = tiny_model.__getstate__()
    assert not any(k.startswith("_") for k in state)
    again = pickle.loads(pickle.dumps(tiny_model))
    assert np.array_equal(again._type_coef, tiny_model._type_coef)
