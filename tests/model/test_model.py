"""Behaviour of the trained model (CheckList-style) and the quality floor on our own splits."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from pipeline.predict import tag_sentences
from pipeline.model import MARK_PREFIXES, is_furniture
from pipeline.train import fit_model, load_dataset


def _types(model, sentences):
    return [r["type"] for r in tag_sentences(model, sentences)]


@pytest.mark.slow
def test_minimum_functionality(model):
    assert _types(model, [
        "Caseloads are manageable.",
        "Ensure that return home interviews are timely.",
        "Too many children experience delay in having their needs assessed.",
        "Inspectors visited the local authority on 20 and 21 February 2024.",
        "The timeliness of return home interviews.",
    ]) == ["strength", "recommendation", "weakness", "neutral", "recommendation"]


@pytest.mark.slow
def test_codebook_examples(model):
    recs = tag_sentences(model, [
        "The 'front door' provides an accessible single point of contact for families and professionals who are seeking help.",
        "However, the triaging of domestic abuse notifications is not as effective as it should be.",
        "Allegations against professionals are robustly managed.",
        "Consent is routinely and appropriately sought.",
    ])
    assert [r["type"] for r in recs] == ["strength", "weakness", "strength", "strength"]
    assert "domestic_abuse_neglect" in recs[1]["themes"]
    assert recs[2]["themes"][0] == "allegations"


@pytest.mark.slow
def test_invariance_to_council_names_and_numbers(model):
    base = "Social workers in Barnsley visit children regularly and know them well."
    variants = [base.replace("Barnsley", c) for c in ("Wokingham", "Swindon", "Kensington and Chelsea")]
    assert len(set(_types(model, [base, *variants]))) == 1
    nums = [f"In {n} of the cases seen, plans were reviewed on time." for n in ("12", "27", "40")]
    assert len(set(_types(model, nums))) == 1


@pytest.mark.slow
def test_directional_not_always_turns_strength_into_weakness(model):
    pairs = [
        ("Supervision is regular and reflective.", "Supervision is not always regular and reflective."),
        ("Plans are clear and specific.", "Plans are not always clear and specific."),
        ("Return home interviews are timely.", "Return home interviews are not always timely."),
    ]
    for pos, neg in pairs:
        assert _types(model, [pos, neg]) == ["strength", "weakness"], (pos, neg)


@pytest.mark.slow
def test_headings_and_table_cells_are_neutral(model):
    cells = ["Good", "Requires improvement to be good", "(Principle 1)", "Judgement Grade", "Overall effectiveness"]
    assert all(is_furniture(c) for c in cells[:4])
    assert _types(model, cells) == ["neutral"] * len(cells)


@pytest.mark.slow
def test_probabilities_and_evidence(model):
    r = tag_sentences(model, ["Supervision is not always regular."])[0]
    assert abs(sum(r["type_scores"].values()) - 1) < 1e-3
    assert len(r["theme_scores"]) == 18
    assert r["confidence"] == max(r["type_scores"].values())
    assert "not" in r["evidence"] or "not always" in r["evidence"]


@pytest.mark.slow
def test_quality_floor_on_our_test_split(trained):
    """Regression floors a little under the committed model's figures (training is deterministic):
    test type macro-F1 0.909 (interval 0.897-0.920), sentences alone 0.894 (classes 0.926 / 0.911 / 0.882 /
    0.858; 95% interval 0.881-0.908), theme micro-F1 in a report (sections and neighbours) 0.840 (interval
    0.831-0.849), 0.812 alone (interval 0.803-0.822), run 1a6528c7."""
    test = trained["result"].test
    classes = ("strength", "weakness", "recommendation", "neutral")
    assert test["type_macro_f1"] >= 0.90 and test["type_macro_f1_ci_low"] >= 0.89
    assert min(test[f"type_{t}_f1"] for t in classes) >= 0.85
    assert test["nosec_type_macro_f1"] >= 0.888  # sentences given alone, as predict --sentences
    assert test["nosec_type_macro_f1_ci_low"] >= 0.875 and test["nosec_theme_micro_f1_ci_low"] >= 0.795
    assert min(test[f"nosec_type_{t}_f1"] for t in classes) >= 0.85
    assert test["theme_micro_f1"] >= 0.83 and test["theme_micro_f1_ci_low"] >= 0.82
    assert test["nosec_theme_micro_f1"] >= 0.805
    assert test["type_ece"] < 0.05


@pytest.mark.slow
def test_whole_pdfs_of_councils_never_trained_on(model, trained):
    """Issue 10's "whole PDFs" row on our side: the test councils' 20 original PDFs tagged as
    ``predict report.pdf`` tags them (PDF reader, segmentation, sections, neighbours), scored on the hand
    labels of their sentences, which were read on the corpus text. Run 1a6528c7's model: 936 of 944
    labelled sentences found, type macro-F1 0.890 (neutral 0.825), theme micro-F1 0.843, the same as
    those reports' corpus text gives (the PDF path loses nothing)."""
    from pipeline.data import labels_path, split_report_files
    from pipeline.evaluate import score_records
    from pipeline.label import read_eval_file
    from pipeline.predict import tag_paths
    from pipeline.schema import TYPES

    params = trained["params"]
    pdfs = split_report_files(params, "test")
    texts = [params.paths.corpus_text / f"{p.stem}.txt" for p in pdfs]
    wanted = {p.stem for p in pdfs}
    rows = [r for r in read_eval_file(labels_path(params)) if r.report in wanted]
    errors: list[str] = []
    pdf = score_records(tag_paths(model, [str(p) for p in pdfs], params, errors), rows)
    text = score_records(tag_paths(model, [str(p) for p in texts], params, errors), rows)
    assert not errors and len(pdfs) == 20 and pdf.reports == 20
    assert pdf.found >= 0.98 * pdf.labelled
    m = pdf.metrics
    assert m["type_macro_f1"] >= 0.88 and min(m[f"type_{t}_f1"] for t in TYPES) >= 0.80, m
    assert abs(m["type_macro_f1"] - text.metrics["type_macro_f1"]) <= 0.01
    assert m["theme_micro_f1"] >= 0.82


@pytest.mark.slow
def test_written_evaluation_sets(trained):
    """Behaviour sets written from the codebook and never trained on (data/eval): regression floors
    (the committed model, run 1a6528c7: contrast 93.6% of sentences, 87.2% of pairs, 12 flips; news 0.944,
    2 flips; plain 99.0%, no flip: issue 10 asks for none)."""
    b = trained["result"].behaviour
    assert b["contrast_accuracy"] >= 0.92 and b["contrast_pairs_right"] >= 0.85 and b["contrast_sw_flips"] <= 14
    assert b["news_swn_macro_f1"] >= 0.93
    assert b["plain_accuracy"] >= 0.97 and b["plain_sw_flips"] == 0


@pytest.mark.slow
def test_scope_contrasts(model):
    """Negation, rare negative wording, concession order, "no longer" and reactions (codebook rules 2-5)."""
    sentences = {
        "Children in care no longer wait months for a health assessment.": "strength",
        "The front door no longer has a backlog of contacts waiting to be screened.": "strength",
        "Care leavers no longer receive help from a personal adviser once they turn 21.": "weakness",
        "Failures are widespread and serious.": "weakness",
        "Services are fragmented and chaotic.": "weakness",
        "Safety planning is largely absent.": "weakness",
        "Although supervision is mostly regular, it does not always address practice.": "weakness",
        "While some plans lack detail, most children are well supported.": "strength",
        "The council leader said she was delighted with the report.": "neutral",
    }
    got = dict(zip(sentences, _types(model, list(sentences))))
    assert got == sentences


@pytest.mark.slow
def test_headings_and_judgement_rows_are_neutral_in_report_mode(model, trained):
    from pipeline.predict import tag_paths

    errors: list[str] = []
    recs = tag_paths(model, [str(trained["params"].paths.sample_report)], trained["params"], errors)
    assert not errors
    heads = [r for r in recs if r["kind"] == "heading" and ". " not in r["text"] and not r["text"].endswith(")")]
    assert heads and all(r["type"] == "neutral" and r["themes"] == [] for r in heads)
    assert all(r["type"] == "neutral" and not r["themes"] for r in tag_sentences(model, [
        "Children who need help and protection Inadequate",
        "The experiences and progress of children in care and care leavers: Good",
        "1. Children who need help and protection",
        "Isle of Wight Council",
    ]))


@pytest.mark.slow
def test_evidence_words_are_content_words(model):
    from pipeline.model import EVIDENCE_STOP_WORDS

    recs = tag_sentences(model, ["Services are fragmented and chaotic.", "Caseloads are manageable.",
                                 "Supervision is not always regular."])
    for r in recs:
        assert r["evidence"] and not any(e in EVIDENCE_STOP_WORDS or e.startswith(MARK_PREFIXES)
                                         for e in r["evidence"]), r


@pytest.mark.slow
def test_training_is_deterministic(trained):
    p = trained["params"]
    ds = load_dataset(p)
    a = fit_model(ds.train[:1500], ds.dev[:300], p.model)
    b = fit_model(ds.train[:1500], ds.dev[:300], p.model)
    texts = [r.text for r in ds.test[:200]]
    pa, pb = a.predict(texts), b.predict(texts)
    assert pa.types == pb.types and np.allclose(pa.type_scores, pb.type_scores)
    assert np.array_equal(a.thresholds_, b.thresholds_)


@pytest.mark.slow
def test_mlflow_pyfunc_tags_reports_and_sentences(trained, seeds):
    import mlflow

    from pipeline.tracking import configure_tracking

    configure_tracking(trained["params"])
    pm = mlflow.pyfunc.load_model(f"runs:/{trained['result'].run_id}/model")
    out = pm.predict([{"text": "Caseloads are manageable.", "mode": "sentence", "report": "x"}])
    assert out[0]["type"] == "strength"
    text = seeds[0].read_text(encoding="utf-8")
    rows = pm.predict([{"text": text, "mode": "report", "report": "wokingham"}])
    assert len(rows) > 20 and {r["report"] for r in rows} == {"wokingham"}
    assert any(r["type"] == "recommendation" for r in rows)
    import pandas as pd

    df_rows = pm.predict(pd.DataFrame({"text": ["Ensure that plans are reviewed."], "mode": ["sentence"], "report": ["x"]}))
    assert df_rows[0]["type"] == "recommendation"


@pytest.mark.slow
def test_fast_path_equals_sklearn(model, trained):
    from pipeline.model import _features_input
    from pipeline.train import load_dataset

    ds = load_dataset(trained["params"])
    texts, secs = [r.text for r in ds.test], [r.section for r in ds.test]
    X = model.transform(texts, secs)
    assert abs(X - model.vectorizer_.transform(_features_input(texts, secs))).max() == 0
    assert np.allclose(model.type_proba(X), model.type_clf_.predict_proba(X)[:, model._type_order], atol=1e-5)
    # the themes read the clause marks folded onto their plain words (pipeline.model.topic_fold)
    assert model.theme_fold_ is not None
    blank = model._context_block(None, X.shape[0])  # a sentence alone: no neighbours
    assert np.allclose(model.theme_proba(X), model.theme_clf_.predict_proba(sp.hstack([X @ model.theme_fold_, blank])),
                       atol=1e-5)
    # in a report they also read the neighbours' plain words (pipeline.model.context_map)
    ctx = [ds.contexts.get(r.id) for r in ds.test]
    Xt = sp.hstack([X @ model.theme_fold_, model._context_block(ctx)], format="csr")
    assert np.allclose(model.theme_proba(X, ctx), model.theme_clf_.predict_proba(Xt), atol=1e-5)


@pytest.mark.slow
def test_neighbours_give_report_sentences_better_themes(model, trained):
    """On the dev councils' reports (never trained on), the theme tagger reading each sentence's
    neighbours beats the same model reading the sentence alone, each with its section."""
    from pipeline.evaluate import evaluate_rows
    from pipeline.train import load_dataset

    ds = load_dataset(trained["params"])
    with_ctx, _ = evaluate_rows(model, ds.dev, ds.contexts)
    without, _ = evaluate_rows(model, ds.dev)
    assert with_ctx["theme_micro_f1"] >= without["theme_micro_f1"] + 0.02
    assert with_ctx["type_macro_f1"] == without["type_macro_f1"]  # the type reads the sentence alone


def test_search_writes_best_params_back_keeping_comments(tmp_path):
    from pipeline.config import DEFAULT_PARAMS, load_params
    from pipeline.train import write_best_params

    f = tmp_path / "params.yaml"
    f.write_text(DEFAULT_PARAMS.read_text(encoding="utf-8"), encoding="utf-8")
    write_best_params(f, {"type_C": 4.0, "type_class_weight": "balanced", "theme_C": 32.0})
    text = f.read_text(encoding="utf-8")
    assert "# ofsted-tagger configuration" in text
    p = load_params(f)
    assert (p.model.type_logreg.C, p.model.type_logreg.class_weight, p.model.theme_logreg.C) == (4.0, "balanced", 32.0)


def test_search_writes_best_params_into_a_block_style_file(tmp_path):
    import yaml

    from pipeline.config import DEFAULT_PARAMS, load_params
    from pipeline.train import write_best_params

    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))), encoding="utf-8")
    write_best_params(f, {"type_C": 8.0, "type_class_weight": None, "theme_C": 4.0})
    p = load_params(f)
    assert (p.model.type_logreg.C, p.model.type_logreg.class_weight, p.model.theme_logreg.C) == (8.0, None, 4.0)
