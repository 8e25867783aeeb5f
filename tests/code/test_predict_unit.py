"""pipeline.predict with a tiny synthetic model: loading (also models saved before pipeline.model), tagging."""

from __future__ import annotations

import json
import pickle

import joblib
import numpy as np
import pytest

import pipeline.model
import pipeline.train
from pipeline.errors import UserError
from pipeline.model import TaggerModel
from pipeline.predict import load_model, tag_paths, tag_sentences
from pipeline.schema import RECORD
from pipeline.config import default_params
from tests.conftest import synthetic_rows, write_params


def _params(tmp_path, **paths):
    from pipeline.config import load_params

    return load_params(write_params(tmp_path, **paths))


def test_records_follow_the_schema(tiny_model):
    recs = tag_sentences(tiny_model, ["Ensure that the early help offer improves.", "  Good  "], "r")
    assert [list(r) for r in recs] == [[c.name for c in RECORD]] * 2
    assert recs[0]["report"] == "r" and recs[0]["index"] == 0 and recs[1]["text"] == "Good"
    assert recs[1]["type"] == "neutral" and recs[0]["section"] == "" and recs[0]["grade"] is None
    assert list(recs[0]["type_scores"]) == ["strength", "weakness", "recommendation", "neutral"]
    json.dumps(recs)  # plain JSON types only


def test_tag_paths_reads_sentence_files_and_reports_bad_ones(tiny_model, tmp_path, params):
    f = tmp_path / "mine.txt"
    f.write_text("Caseloads are manageable.\n\n  Supervision is not always regular.  \n", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00broken")
    errors: list[str] = []
    recs = tag_paths(tiny_model, [str(f), str(bad)], params, errors, sentences=True)
    assert [r["text"] for r in recs] == ["Caseloads are manageable.", "Supervision is not always regular."]
    assert {r["report"] for r in recs} == {"mine"}
    assert len(errors) == 1 and "bad.txt: cannot read sentences" in errors[0]


def test_tag_paths_segments_documents(tiny_model, tmp_path, params, capsys):
    for i in range(3):
        (tmp_path / f"r{i}.txt").write_text("What needs to improve?\n\nEnsure that plans improve.\n", encoding="utf-8")
    errors: list[str] = []
    recs = tag_paths(tiny_model, [str(tmp_path), str(tmp_path / "missing.pdf")], params, errors)
    assert {r["report"] for r in recs} == {"r0", "r1", "r2"}
    assert any(r["section"] == "What needs to improve?" and r["kind"] == "sentence" for r in recs)
    assert errors == [f"{tmp_path / 'missing.pdf'}: no such file or directory; check the path."]
    assert capsys.readouterr().err == ""  # no progress bar when stderr is not a terminal


def test_load_model_messages(tmp_path, tiny_model):
    p = _params(tmp_path, models=tmp_path / "models")
    with pytest.raises(UserError, match="no trained model yet; run 'ofsted-tagger train' first"):
        load_model(None, p)
    with pytest.raises(UserError, match="no such model file"):
        load_model(str(tmp_path / "nope"), p)
    d = tmp_path / "models" / "champion"
    d.mkdir(parents=True)
    (d / "model.joblib").write_bytes(b"\x80\x04garbage")
    with pytest.raises(UserError, match="not a loadable model"):
        load_model(None, p)
    joblib.dump({"a": 1}, d / "model.joblib")
    with pytest.raises(UserError, match="holds a dict, not an ofsted-tagger model"):
        load_model(str(d), p)
    tiny_model.save(d / "model.joblib")
    assert isinstance(load_model(None, p), TaggerModel)
    assert isinstance(load_model(str(d / "model.joblib"), p), TaggerModel)


def test_a_model_saved_before_pipeline_model_existed_still_loads(tmp_path, monkeypatch):
    """Models of earlier versions were pickled as pipeline.train.TaggerModel with the fitted parts
    named vectorizer, type_clf, theme_clf, thresholds (and pipeline.train.normalise_text: no scope marks)."""
    from pipeline.train import fit_model

    mp = default_params().model.model_copy(update={"scope_marks": False, "position_marks": False, "adverb_stems": False,
                                                     "type_word_scale": 0.0, "theme_word_scale": 0.0,
                                                     "theme_context_weight": 0.0,  # nor context columns
                                                     "shape_weight": 0.0})  # nor shape columns
    tiny_model = fit_model(synthetic_rows(0), synthetic_rows(1), mp)
    legacy_state = {"vectorizer": tiny_model.vectorizer_, "type_clf": tiny_model.type_clf_,
                    "theme_clf": tiny_model.theme_clf_, "thresholds": tiny_model.thresholds_,
                    "max_themes": tiny_model.max_themes, "evidence_words": tiny_model.evidence_words,
                    "use_section": tiny_model.use_section, "info": {}}
    with monkeypatch.context() as m:
        m.setattr(TaggerModel, "__module__", "pipeline.train")
        m.setattr(pipeline.model.normalise_text, "__module__", "pipeline.train")
        m.setattr(TaggerModel, "__getstate__", lambda self: legacy_state)
        d = tmp_path / "old"
        d.mkdir()
        joblib.dump(tiny_model, d / "model.joblib", compress=3)
        raw = pickle.dumps(tiny_model)
    assert b"pipeline.train" in raw and b"pipeline.model" not in raw
    assert pipeline.train.TaggerModel is TaggerModel
    old = load_model(str(d), _params(tmp_path))
    assert isinstance(old, TaggerModel) and old.tfidf is None  # hyperparameters were not kept then
    texts = ["Ensure that the early help offer improves.", "Supervision by managers is not always effective."]
    a, b = old.predict(texts), tiny_model.predict(texts)
    assert a.types == b.types and a.themes == b.themes and a.evidence == b.evidence
    assert np.array_equal(a.type_scores, b.type_scores)
