"""pipeline.model on a few dozen synthetic sentences: fit, predict, save/load, and the scikit-learn contract."""

from __future__ import annotations

import copy
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
    assert public_new == {"vectorizer_", "type_clf_", "theme_clf_", "theme_fold_", "context_map_", "thresholds_",
                          "thresholds_alone_"}
    assert all(k.endswith("_") for k in public_new)
    assert m.get_params() == _unfitted().get_params()  # fit leaves the parameters alone
    fitted_clone = clone(m)
    with pytest.raises(NotFittedError):
        fitted_clone.predict(["x"])


def test_sentences_alone_get_the_thresholds_tuned_for_sentences_alone(tiny_model):
    rows = synthetic_rows(0)
    texts, secs = [r.text for r in rows], [r.section for r in rows]
    assert tiny_model.thresholds_alone_ is not None  # its dev sentences had sections, so alone differs
    m = copy.copy(tiny_model)
    m.thresholds_alone_ = np.full(len(THEMES), 1.01)  # nothing passes when a sentence is alone
    thr = m.theme_thresholds(secs, [("", "")] * len(rows))
    sectioned = np.array([bool(s) for s in secs])
    assert sectioned.any() and not sectioned.all()
    assert np.array_equal(thr[sectioned], np.broadcast_to(m.thresholds_, (sectioned.sum(), len(THEMES))))
    assert (thr[~sectioned] == 1.01).all()
    assert not any(m.predict(texts, evidence=False).themes)  # alone: the alone thresholds
    ctx = [("Caseloads are manageable.", "")] * len(rows)
    with_neighbours = m.predict(texts, evidence=False, contexts=ctx)
    assert with_neighbours.themes == tiny_model.predict(texts, evidence=False, contexts=ctx).themes
    assert any(with_neighbours.themes)  # a neighbour makes it a sentence in a document
    m.thresholds_alone_ = None  # a model saved before them: one set for all
    assert m.predict(texts, evidence=False).themes == [
        [THEMES[j] for j in np.argsort(-row)[: m.max_themes] if row[j] >= m.thresholds_[j]]
        for row in m.predict(texts, evidence=False).theme_scores]


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


def test_neighbour_texts_are_the_nearest_sentences_around_a_unit_headings_skipped(params):
    """On a real report: a sentence's context is the sentence before and after it in reading order,
    never a heading or judgement row, and nothing past either end of the report."""
    from pipeline.ingest import read_document
    from pipeline.model import neighbour_texts
    from pipeline.segment import segment

    doc = read_document(params.paths.corpus_text / "barnsley_2014-08-08.txt", params.ingest.max_file_mb)
    units = segment(doc, params.segment.max_sentence_chars, params.segment.heading_max_words)
    texts, kinds = [u.text for u in units], [u.kind for u in units]
    ctx = neighbour_texts(texts, kinds)
    assert len(ctx) == len(units)
    sentences = [i for i, (t, k) in enumerate(zip(texts, kinds)) if not is_furniture(t, k)]
    assert len(sentences) > 200 and len(sentences) < len(units)  # the report has headings to skip
    assert ctx[sentences[0]][0] == "" and ctx[sentences[-1]][1] == ""
    for a, b, c in zip(sentences, sentences[1:], sentences[2:]):
        assert ctx[b] == (texts[a], texts[c])
    heading = next(i for i in range(sentences[0] + 1, len(units)) if i not in set(sentences))
    before = max(i for i in sentences if i < heading)
    after = min(i for i in sentences if i > heading)
    assert ctx[heading] == (texts[before], texts[after])  # a heading is tagged neutral anyway; its neighbours are sentences
    assert ctx[after][0] == texts[before]  # the heading between them is skipped


def test_the_theme_tagger_reads_a_sentence_s_neighbours_only_when_it_has_them():
    """The same words ("This is not yet consistent across teams.") take the theme of what the
    sentence before them is about; given alone they lean to no theme in particular."""
    from pipeline.label import LabelRow
    from tests.conftest import SUBJECTS

    target = "This is not yet consistent across teams."
    rows = synthetic_rows(0) + [LabelRow(f"ctx-{t}", "synthetic", "", target, "weakness", (t,), "test") for t in SUBJECTS]
    contexts = {f"ctx-{t}": (f"Inspectors examined {s}.", "") for t, s in SUBJECTS.items()}
    m = fit_model(rows, synthetic_rows(1), default_params().model, contexts=contexts)
    alone = m.predict([target]).theme_scores[0]
    for theme, subject in SUBJECTS.items():
        scores = m.predict([target], contexts=[(f"Inspectors examined {subject}.", "")]).theme_scores[0]
        assert THEMES[int(np.argmax(scores))] == theme
        assert scores[THEMES.index(theme)] > alone[THEMES.index(theme)]
    assert np.allclose(m.predict([target], contexts=[("", "")]).theme_scores, m.predict([target]).theme_scores)
    # in a document the neighbours are sentences of the same batch: their rows are reused, same scores
    from pipeline.model import neighbour_texts

    doc = ["Inspectors examined the early help offer.", target, "Ensure that supervision by managers improves."]
    ctx = neighbour_texts(doc)
    X = m.transform(doc)
    assert np.array_equal(m.theme_proba(X, ctx, doc), m.theme_proba(X, ctx))
    assert THEMES[int(np.argmax(m.predict(doc, contexts=ctx).theme_scores[1]))] == "early_help"
    off = fit_model(rows, synthetic_rows(1), default_params().model.model_copy(update={"theme_context_weight": 0.0}),
                    contexts=contexts)
    assert off.context_map_ is None
    with_ctx = off.predict([target], contexts=[("Inspectors examined the early help offer.", "")])
    assert np.array_equal(with_ctx.theme_scores, off.predict([target]).theme_scores)
