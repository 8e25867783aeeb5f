"""Scope marks, furniture (codebook rule 6), evidence terms, written sentences and the
evaluation helpers: fast units, no corpus model needed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from pipeline.config import default_params
from pipeline.data import read_written
from pipeline.evaluate import bootstrap_ci, eval_set_metrics, type_macro_f1
from pipeline.model import is_evidence_term, is_furniture, mark_scopes, topic_fold


def test_negation_scope_marks_the_words_a_negator_reaches():
    marked = mark_scopes("There are no widespread or serious failures that leave children at risk.")
    assert "neg_serious" in marked and "neg_failures" in marked
    assert "neg_leave" not in marked  # the clause break ("that") ends the scope
    assert "neg_" not in mark_scopes("Failures are widespread and serious.")
    assert "neg_always" in mark_scopes("Supervision doesn't always address practice.")


def test_no_longer_reverses_the_words_it_reaches():
    backlog = "The designated officer no longer has a backlog of allegations awaiting review."
    plain = mark_scopes(backlog).split()
    assert "backlog" in plain and "neg_backlog" in plain  # without reversal: plain words and negation marks
    rev = mark_scopes(backlog, reversal=True).split()
    assert "backlog" not in rev and "rev_backlog" in rev and "neg_backlog" in rev
    assert rev[:4] == ["the", "designated", "officer", "review"]  # beyond the scope, plain again
    assert "no" not in rev and "rev_no" in rev  # "no" is no weakness word here
    after = mark_scopes("Children no longer wait; plans are reviewed regularly.", reversal=True).split()
    assert "reviewed" in after and "rev_wait" in after  # punctuation ends the reach
    assert mark_scopes("Plans are longer than they were.", reversal=True) == mark_scopes("Plans are longer than they were.")
    # the themes read a reversed word as its plain word, the type does not
    names = np.array(["text__allegations", "text__rev_allegations", "text__neg_allegations", "text__rev_backlog"])
    fold = topic_fold(names).toarray()
    assert fold[1, 0] == 1 and fold[2].sum() == 0 and fold[3].sum() == 0


def test_concession_and_contrast_clauses_are_marked_and_only_the_deciding_clause_stays_plain():
    a = mark_scopes("Although supervision is mostly regular, it does not always address practice.").split()
    assert "sub_regular" in a and "regular" not in a and "practice" in a and "sub_practice" not in a
    b = mark_scopes("Most plans are detailed, but a small number lack clear actions.").split()
    assert "pre_detailed" in b and "detailed" not in b and "small" in b and "pre_small" not in b
    c = mark_scopes("Too many care leavers live in unsuitable accommodation; however, they are well supported.").split()
    assert "pre_unsuitable" in c and "supported" in c
    # "but also" adds, it does not contrast; a concession after the main clause is still subordinate
    assert "pre_detailed" not in mark_scopes("Plans are not only detailed but also timely.")
    d = mark_scopes("Caseloads are manageable, although staff turnover remains high.").split()
    assert "manageable" in d and "sub_high" in d and "high" not in d
    assert mark_scopes("Caseloads are manageable.") == "caseloads are manageable"


def test_scope_marking_is_linear_in_length():
    text = ("not " * 50_000) + ("although , " * 50_000) + ("but x " * 50_000)
    t0 = time.perf_counter()
    mark_scopes(text)
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("text,kind", [
    ("Children who need help and protection Inadequate", None),
    ("The experiences and progress of children in care and care leavers: Good", None),
    ("1. Children who need help and protection", None),
    ("Isle of Wight Council", None),
    ("Good", None),
    ("(Principle 1)", None),
    ("Information about this local authority area including its large rural population", "heading"),
])
def test_headings_and_judgement_rows_are_furniture(text, kind):
    assert is_furniture(text, kind)


@pytest.mark.parametrize("text,kind", [
    ("Caseloads are manageable.", None),
    ("The timeliness of return home interviews", None),  # a bare recommendation item without a full stop
    ("Social workers visit children regularly and their practice is good", None),
    ("However, a waiting list is in operation. (Recommendation)", "heading"),
])
def test_sentences_are_not_furniture(text, kind):
    assert not is_furniture(text, kind)


def test_evidence_terms_are_content_words_or_phrases():
    assert is_evidence_term("delay") and is_evidence_term("not always") and is_evidence_term("too many")
    assert not is_evidence_term("are") and not is_evidence_term("and is") and not is_evidence_term("0")
    assert not is_evidence_term("neg_serious") and not is_evidence_term("sub_plans sub_lack")


def test_written_sentences_load_with_their_source():
    rows = read_written(default_params())
    assert len(rows) > 4000
    assert {r.report for r in rows} == {"written"} and all(r.section == "" for r in rows)
    assert all(r.source.startswith("written_") for r in rows)
    assert len({r.id for r in rows}) > 0.99 * len(rows)


def test_bootstrap_interval_brackets_the_point_estimate():
    rng = np.random.default_rng(0)
    gold = list(rng.choice(["strength", "weakness", "recommendation", "neutral"], 500))
    pred = [g if rng.random() < 0.85 else "strength" for g in gold]
    lo, hi = bootstrap_ci(gold, pred, type_macro_f1, samples=200, seed=1)
    assert lo < type_macro_f1(gold, pred) < hi and hi - lo < 0.15


def test_test_split_intervals_equal_the_generic_bootstrap_on_real_labels():
    """interval_metrics counts true and false positives per row instead of calling scikit-learn per
    resample: the same resamples give the same interval, to the last digit."""
    from pipeline.evaluate import interval_metrics, theme_micro_f1
    from pipeline.model import Prediction
    from pipeline.schema import THEMES, TYPES

    rows = sectioned_hand_rows(read=1000)[:500]
    rng = np.random.default_rng(3)  # a prediction that is right about 85% of the time
    types = [r.type if rng.random() < 0.85 else TYPES[int(rng.integers(4))] for r in rows]
    themes = [list(r.themes) if rng.random() < 0.8 else [THEMES[int(rng.integers(18))]] for r in rows]
    pred = Prediction(types, np.ones(len(rows)), np.zeros((len(rows), 4)), themes, np.zeros((len(rows), 18)))
    got = interval_metrics(rows, pred, samples=300, seed=5)
    lo, hi = bootstrap_ci([r.type for r in rows], types, type_macro_f1, samples=300, seed=5)
    tlo, thi = bootstrap_ci([r.themes for r in rows], themes, theme_micro_f1, samples=300, seed=5)
    assert got == pytest.approx({"type_macro_f1_ci_low": lo, "type_macro_f1_ci_high": hi,
                                 "theme_micro_f1_ci_low": tlo, "theme_micro_f1_ci_high": thi}, abs=1e-12)
    assert lo < type_macro_f1([r.type for r in rows], types) < hi


def test_evaluation_sets_are_scored(tiny_model):
    m = eval_set_metrics(tiny_model, default_params().paths.eval_sets)
    assert m["contrast_n"] >= 300 and m["news_n"] >= 300 and m["plain_n"] >= 200
    assert 0 <= m["contrast_pairs_right"] <= 1 and 0 <= m["news_swn_macro_f1"] <= 1


def test_position_mark_is_the_first_word():
    from pipeline.model import MARK_PREFIXES, prepare_text

    assert prepare_text("Improve the timeliness of assessments.").endswith(" first_improve")
    assert prepare_text("• 1. The quality of supervision.").endswith(" first_the")
    assert prepare_text("Caseloads are manageable.", position=False) == "caseloads are manageable"
    assert prepare_text("12 34") == "0 0"  # no word, no mark
    assert not is_evidence_term("first_improve") and "first_" in MARK_PREFIXES


def test_adverbs_are_also_read_as_their_adjectives():
    from pipeline.model import prepare_text

    out = prepare_text("Thresholds are applied inconsistently and satisfactorily, monthly.", position=False).split()
    assert out[-3:] == ["inconsistent", "satisfactory", "month"]
    assert prepare_text("Only one family.", position=False) == "only one family fami"  # short stems stay out
    assert prepare_text("Caseloads are manageable.", position=False, stems=False) == "caseloads are manageable"


def test_topic_fold_maps_clause_marks_to_plain_words_and_drops_negation_marks():
    from pipeline.model import topic_fold

    names = ["text__mash", "text__sub_mash", "text__mash calm", "text__sub_mash sub_calm", "text__pre_calm",
             "text__calm", "text__neg_calm", "text__sub_unseen", "section__sec_improve", "shape__p_%"]
    fold = topic_fold(names).toarray()
    target = {i: np.flatnonzero(fold[i]).tolist() for i in range(len(names))}
    assert target == {0: [0], 1: [0], 2: [2], 3: [2], 4: [5], 5: [5], 6: [], 7: [], 8: [8], 9: []}


def test_shape_features_read_what_word_tokens_drop(tiny_model):
    """A real report sentence (a corpus text): numbers keep their form, punctuation marks
    and the length in words are read; the themes do not see them; a model fitted without them has none."""
    from pipeline.model import shape_tokens
    from pipeline.train import fit_model
    from tests.conftest import synthetic_rows

    text = (default_params().paths.corpus_text / "plymouth_2015-01-06.txt").read_text(encoding="utf-8")
    fact = next(line for line in text.splitlines() if "%" in line and len(line.split()) > 5)
    tokens = shape_tokens(fact)
    assert "p_%" in tokens and any(t.startswith("sh_") and "d" in t and "%" in t for t in tokens)
    assert tokens[-1] == f"len_{min(len(fact.split()) // 5, 12)}"
    assert shape_tokens("Children who need help and protection Inadequate") == ["len_1"]
    assert shape_tokens("“Staff are brilliant,” she said.")[:2] == ["sh_“Xx", "sh_x,”"]
    on = fit_model(synthetic_rows(0), synthetic_rows(1), default_params().model.model_copy(update={"shape_weight": 1.0}))
    names = on.vectorizer_.get_feature_names_out()
    shape_cols = [i for i, n in enumerate(names) if n.startswith("shape__")]
    assert shape_cols and on._shape_vec is not None
    assert on.theme_fold_[shape_cols].nnz == 0  # the themes ignore a sentence's form
    X = on.transform(["Only 12 (2.6%) of care leavers are not in touch."])
    assert X[:, shape_cols].nnz > 0 and X.shape[1] == len(names)
    from pipeline.model import _features_input

    texts = [fact, "Only 12 (2.6%) of care leavers are not in touch.", "Good"]
    fast = on.type_proba(on.transform(texts))  # the fast path weighs the shape columns as the vectoriser does
    slow = on.type_clf_.predict_proba(on.vectorizer_.transform(_features_input(texts, None)))[:, on._type_order]
    assert np.allclose(fast, slow, atol=1e-6)
    off = tiny_model  # params.yaml: shape_weight 0, measured and not adopted
    assert off._shape_vec is None and not any(n.startswith("shape__") for n in off.vectorizer_.get_feature_names_out())


@pytest.mark.slow  # reads every label
def test_written_sentences_stay_apart_from_held_out_sentences():
    """No written training sentence is near an evaluation-set sentence (word Jaccard >= 0.5) or a
    near copy (>= 0.8) of a dev/test council's sentence (scripts/add_written.py enforces it)."""
    import collections
    import re

    from pipeline.label import read_eval_file
    from pipeline.train import load_dataset

    def words(text: str) -> frozenset[str]:
        return frozenset(re.findall(r"[a-z']+", text.lower()))

    params = default_params()
    ds = load_dataset(params)
    ref = [(words(r.text), 0.5) for f in sorted(params.paths.eval_sets.glob("*.csv")) for r in read_eval_file(f)]
    ref += [(words(r.text), 0.8) for r in ds.dev + ds.test]
    index = collections.defaultdict(list)
    for i, (s, _) in enumerate(ref):
        for w in s:
            index[w].append(i)
    near = []
    for r in ds.written:
        s = words(r.text)
        # a near pair shares most words, so its uncommon ones: candidates come from those (the
        # common ones only for a sentence of common words)
        cutoff = 100 if any(len(index[w]) < 100 for w in s) else 2000
        cand = {i for w in s if len(index[w]) < cutoff for i in index[w]}
        if any(len(s & ref[i][0]) / len(s | ref[i][0]) >= ref[i][1] for i in cand
               if min(len(s), len(ref[i][0])) >= ref[i][1] * max(len(s), len(ref[i][0]))):
            near.append(r.text)
    assert len(ref) > 8000 and not near, near[:5]


def test_word_scale_weighs_words_that_tell_one_type_apart():
    """NB log-count-ratio weights on real hand labels: a word seen only in weaknesses outweighs a
    function word; section columns keep weight 1."""
    import csv

    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    from pipeline.data import labels_path
    from pipeline.model import word_scale

    with labels_path(default_params()).open(encoding="utf-8") as fh:  # the first 6,000 rows only: fast tier
        rows = [r for _, r in zip(range(6000), csv.DictReader(fh))]
    vec = TfidfVectorizer(min_df=2)
    X = sp.hstack([vec.fit_transform([r["text"] for r in rows]), np.ones((len(rows), 2))], format="csr")
    scale = word_scale(X, np.array([r["type"] for r in rows]), len(vec.vocabulary_), 0.5)
    col = vec.vocabulary_
    assert scale.shape == (X.shape[1],) and (scale[-2:] == 1).all()
    assert scale[col["inadequate"]] > 2 * scale[col["the"]]
    assert scale[col["ensure"]] > scale[col["children"]]
    assert (scale[: len(col)] >= 0).all()


def test_word_scaled_logistic_regression_folds_the_weights_into_its_coefficients(tiny_model):
    """Fitted on weighted columns, it predicts from unweighted ones exactly as a plain logistic
    regression fitted and applied on the weighted columns; power 0 is a plain logistic regression."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    from pipeline.model import WordScaledLogisticRegression, word_scale
    from tests.conftest import synthetic_rows

    rows = synthetic_rows(0)
    X = tiny_model.transform([r.text for r in rows], [r.section for r in rows])
    y = np.array([r.type for r in rows])
    n_text = tiny_model._n_text
    scaled = WordScaledLogisticRegression(power=0.5, n_text=n_text, C=4.0, max_iter=2000).fit(X, y)
    Xs = X @ sp.diags(word_scale(X, y, n_text, 0.5))
    plain = LogisticRegression(C=4.0, max_iter=2000).fit(Xs, y)
    assert np.allclose(scaled.predict_proba(X), plain.predict_proba(Xs), atol=1e-5)
    off = WordScaledLogisticRegression(power=0.0, C=4.0, max_iter=2000).fit(X, y)
    assert np.allclose(off.coef_, LogisticRegression(C=4.0, max_iter=2000).fit(X, y).coef_)
    assert type(tiny_model.type_clf_).__name__ == "WordScaledLogisticRegression"  # params.yaml turns it on


def test_blank_section_weight_weighs_the_sentences_given_alone_in_the_type_classifier_only():
    """On real hand labels: weighing the blank-section copies more fits sentences given alone more
    closely (a weighted convex loss cannot rise on the rows weighed more), and leaves themes as they were."""
    from sklearn.metrics import log_loss

    from pipeline.train import fit_model

    rows = sectioned_hand_rows(read=1000)[:600]  # 600 sectioned rows: fast tier
    mp = default_params().model.model_copy(update={"n_jobs": 1})
    one, four = (fit_model(rows, [], mp.model_copy(update={"blank_section_weight": w})) for w in (1.0, 4.0))
    y = [r.type for r in rows]

    def alone_loss(m):
        return log_loss(y, m.type_clf_.predict_proba(m.transform([r.text for r in rows], None)),
                        labels=m.type_clf_.classes_)

    assert alone_loss(four) < alone_loss(one)
    assert np.allclose(one.theme_proba(one.transform([r.text for r in rows[:50]], None)),
                       four.theme_proba(four.transform([r.text for r in rows[:50]], None)))


def test_test_split_intervals_are_given_with_and_without_sections(tiny_model):
    """Training reports 95% intervals for the test split as a report reads (sections) and as
    `predict --sentences` reads (alone), each around its own point estimate; the text summary shows both."""
    from pipeline.evaluate import behaviour_table
    from pipeline.train import Dataset, score_splits

    params = default_params()
    rows = sectioned_hand_rows(read=1500)
    small = Dataset(train=[], dev=rows[:300], test=rows[300:900], weak=[], hashes={})
    params = params.model_copy(update={"evaluation": params.evaluation.model_copy(update={"bootstrap_samples": 100})})
    dev, test, _, _ = score_splits(tiny_model, small, params)
    for prefix in ("", "nosec_"):
        for metric in ("type_macro_f1", "theme_micro_f1"):
            assert test[f"{prefix}{metric}_ci_low"] <= test[f"{prefix}{metric}"] <= test[f"{prefix}{metric}_ci_high"]
    assert "nosec_type_macro_f1_ci_low" not in dev
    assert "without sections, 95% interval: type macro-F1" in behaviour_table(dev, test, {})


def sectioned_hand_rows(read: int) -> list:
    """The hand-labelled report sentences with a section among the first ``read`` rows of
    hand.csv, read directly (the project reader loads all 118k rows: too slow for the fast tier)."""
    import csv

    from pipeline.data import labels_path
    from pipeline.label import LabelRow, parse_themes

    with labels_path(default_params()).open(encoding="utf-8", newline="") as fh:
        return [LabelRow(r["id"], r["report"], r["section"], r["text"], r["type"], parse_themes(r["themes"]))
                for _, r in zip(range(read), csv.DictReader(fh)) if r["section"]]
