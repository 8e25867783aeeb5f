"""Model: the tagger — word TF-IDF plus section features, a type classifier and a theme tagger.

:class:`TaggerModel` is a scikit-learn-style estimator (``get_params``/``set_params``,
``clone``, ``fit`` returning ``self``, fitted attributes ending in ``_``): one word
1-2-gram TF-IDF (numbers folded to ``0``) plus section tokens, shared by a 4-class
logistic regression for the **type** (optionally calibrated) and 18 one-vs-rest
logistic regressions for **themes** with per-theme thresholds tuned on held-out
sentences; in a document the themes also read each sentence's neighbours
(:func:`neighbour_texts`, :func:`context_map`).  :meth:`TaggerModel.predict` is vectorised end to end and also returns
the evidence words.  Its hyperparameters are the ``model:`` section of
``params.yaml`` (built by :func:`pipeline.train.new_model`).

This module depends on nothing of the package but :mod:`pipeline.schema`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pipeline.schema import GRADE_ONLY, GRADE_ROW, HEADING_RE, THEMES, TYPES, parse_grade, section_kind, theme_matrix

# --------------------------------------------------------------------------- #
# Features
# --------------------------------------------------------------------------- #
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_PAREN_CELL = re.compile(r"^\(.*\)\.?$")
_END_PUNCT = (".", "?", "!", '"', "”", "’")


def normalise_text(text: str) -> str:
    """What the TF-IDF sees: lower case, every number folded to '0' (numbers carry no polarity)."""
    return _DIGITS.sub("0", text.lower())


# Scope marks (codebook rules 2-3): a bag of words cannot tell "no serious failures" from
# "serious failures", or which clause of "Although X, Y" decides. The plain words are those of
# the deciding clause only: words of a concession clause ("Although/While/Despite ...") appear
# as ``sub_word`` and words before a "but"/"however" as ``pre_word`` instead, so "Although
# turnover is high, caseloads are manageable" is read as "caseloads are manageable" plus marks.
# Words in the scope of a negator also appear as ``neg_word``. Measured on dev (sentences
# alone): contrast pairs right 0.78 -> 0.82, strength/weakness flips 20 -> 13, with the
# marks added beside every word instead.
# "No longer" reverses what follows it (codebook rule 4: "no longer has a backlog" is an
# improvement achieved, "no longer receive regular supervision" a decline), so with
# ``reversal`` the words in its scope appear as ``rev_word`` (and ``neg_word``), not as plain
# words: a plain "backlog" would otherwise still vote weakness. The themes read ``rev_word`` as
# its plain word (``topic_fold``): "allegations" still tells the topic. "No longer" is rare in the labels
# (130 of 118,812), so the model cannot learn the reversal from examples. Measured with the
# type refitted: dev 0.9162 -> 0.9165 in context, 0.9026 -> 0.9014 alone (noise: a refit
# moves a few sentences either way); the sentences with "no longer" in the evaluation sets
# all right.
_TOKEN = re.compile(r"[a-z0-9]+|[.,;:!?()]")
_PUNCT = frozenset(".,;:!?()")
NEGATORS = frozenset({"not", "no", "never", "without", "nor", "neither", "cannot", "none", "nobody", "nothing",
                      "lack", "lacks", "lacking", "absence", "absent", "fail", "fails", "failed", "unable", "seldom",
                      "rarely", "hardly", "barely", "insufficient", "insufficiently"})
_CONCESSION = frozenset({"although", "though", "while", "whilst", "despite", "notwithstanding"})
_CONTRAST = frozenset({"but", "however", "nevertheless", "nonetheless"})
_CLAUSE_BREAK = frozenset({"because", "whereas", "which", "who", "that", "where", "when"})
NEGATION_SCOPE = 6  # words a negator reaches, at most (to the next punctuation or clause break)
SCOPE_PREFIXES = ("neg_", "sub_", "pre_", "rev_")
_MAIN, _SUB, _PRE, _REV = "", "sub_", "pre_", "rev_"


def mark_scopes(text: str, reversal: bool = False) -> str:
    """``normalise_text`` read by clause: the deciding clause's words, then the scope tokens
    (one linear pass: each word changes role at most once); with ``reversal`` the words "no
    longer" reaches (and "no longer" itself) appear as ``rev_word`` instead of plain."""
    tokens = _TOKEN.findall(normalise_text(text).replace("n't", " not"))
    words: list[str] = []
    roles: list[str] = []
    negated: list[str] = []
    neg, sub, since_contrast, rev = 0, False, 0, 0
    for i, w in enumerate(tokens):
        if w in _PUNCT:
            neg, sub, rev = 0, False, 0
            continue
        if w in _CONCESSION:
            neg, sub, rev = 0, True, 0
            continue
        if w in _CONTRAST and not (w == "but" and i + 1 < len(tokens) and tokens[i + 1] == "also"):
            for j in range(since_contrast, len(roles)):  # the clause before "but" loses (rule 2)
                if roles[j] == _MAIN:
                    roles[j] = _PRE
            since_contrast = len(roles)
            neg, sub, rev = 0, False, 0
            continue
        if w in _CLAUSE_BREAK:
            neg, rev = 0, 0
        words.append(w)
        roles.append(_SUB if sub else _MAIN)
        if neg:
            negated.append("neg_" + w)
            neg -= 1
        if reversal and w == "longer" and i and tokens[i - 1] == "no":
            rev = NEGATION_SCOPE + 1  # "longer" and the words it reaches
            if len(roles) > 1 and roles[-2] == _MAIN:
                roles[-2] = _REV  # and "no": not a plain "no" (weakness evidence) in an improvement
        if rev:
            rev -= 1
            if roles[-1] == _MAIN:
                roles[-1] = _REV
        if w in NEGATORS:
            neg = NEGATION_SCOPE
    main = [w for w, r in zip(words, roles) if r == _MAIN]
    marks = [r + w for w, r in zip(words, roles) if r != _MAIN] + negated
    return " ".join(main + marks)


# Position mark: the sentence's first word as ``first_word``. Improvement lists open with an
# imperative ("Improve ...", "Ensure ...", "Take action ...") or a bare noun phrase ("The
# timeliness of ..."), findings with a subject; given alone, without the list's heading, that
# first word is what tells them apart (codebook rule 1). Measured on dev, sentences alone:
# type macro-F1 0.874 -> 0.889, recommendation F1 0.850 -> 0.889.
_FIRST_WORD = re.compile(r"[a-z]+")
MARK_PREFIXES = SCOPE_PREFIXES + ("first_",)
# Adverb stems: an -ly adverb is also read as its adjective ("applied inconsistently" ->
# "inconsistent", "satisfactorily" -> "satisfactory"), so a rare adverb borrows what the
# labels taught about its common adjective. Measured in full training on dev: type macro-F1
# 0.910 -> 0.908, sentences alone 0.888 -> 0.891 (noise), so params.yaml leaves it off.
_LY_ADVERB = re.compile(r"\b([a-z]{4,}?)(i?)ly\b")


def prepare_text(text: str, scopes: bool = True, position: bool = True, stems: bool = True,
                 reversal: bool = False) -> str:
    """What the TF-IDF reads: ``mark_scopes`` (or plain ``normalise_text``), then the position
    mark and the adjectives of -ly adverbs."""
    out = mark_scopes(text, reversal) if scopes else normalise_text(text)
    low = text.lower()
    if position:
        m = _FIRST_WORD.search(low)
        if m:
            out += " first_" + m.group()
    if stems:
        adjectives = [m.group(1) + ("y" if m.group(2) else "") for m in _LY_ADVERB.finditer(low)]
        if adjectives:
            out += " " + " ".join(adjectives)
    return out


# Evidence shows content words and phrases: never stop words alone, nor scope marks; the
# function words that carry an evaluation ("not always", "too few") stay.
_KEEP_FUNCTION_WORDS = frozenset({"not", "no", "nor", "never", "none", "always", "too", "few", "fewer", "many", "much",
                                  "more", "most", "only", "some", "all", "well", "still", "yet", "without", "cannot",
                                  "less", "least", "enough", "very", "rather", "often", "seldom", "rarely", "against"})
EVIDENCE_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS - _KEEP_FUNCTION_WORDS) | {"0"}


def is_evidence_term(term: str) -> bool:
    """A feature that may be shown as evidence: a content word, or a phrase with one."""
    words = term.split()
    return not any(w.startswith(MARK_PREFIXES) for w in words) and not all(w in EVIDENCE_STOP_WORDS for w in words)


_WHITESPACE_TOKEN = re.compile(r"\S+")
_PUNCT_MARK = re.compile(r"[^\w\s]")
_UPPER, _LOWER, _NUMBER = re.compile(r"[A-Z]+"), re.compile(r"[a-z]+"), re.compile(r"\d+")
SHAPE_LENGTH_BIN, SHAPE_LENGTH_MAX = 5, 12  # sentence length in words, in bins of five, the last open


def token_shape(token: str) -> str:
    """A token's form: capitals as X, lower case as x, digits as d, marks kept ("12%" -> "d%")."""
    return _NUMBER.sub("d", _LOWER.sub("x", _UPPER.sub("X", token)))


def shape_tokens(text: str) -> list[str]:
    """What the word features drop: the form of every token that is not a plain word ("(2.6%)" ->
    ``sh_(d.d%)``, "2014–15" -> ``sh_d–d``, "children's" -> ``sh_x'x``), every punctuation mark
    (``p_%``, ``p_:``, ``p_"``) and the length in words (``len_3``: 15-19 words). Numbers against
    averages, dates, quotations, reference cells and headings are facts more often than findings.
    Off by default (``model.shape_weight``): a council-grouped cross-validation over the train councils
    (``scripts/cv_type.py``) read type 0.9028 -> 0.9052 in context and 0.8812 -> 0.8836 alone, but dev
    alone did not rise and a plain sentence flipped ("seldom" read as praise)."""
    words = _WHITESPACE_TOKEN.findall(text)
    out = ["sh_" + token_shape(w) for w in words if not w.isalpha()]
    out += ["p_" + c for c in _PUNCT_MARK.findall(text)]
    out.append(f"len_{min(len(words) // SHAPE_LENGTH_BIN, SHAPE_LENGTH_MAX)}")
    return out


def topic_fold(feature_names: Sequence[str]) -> sp.csr_matrix:
    """A 0/1 matrix mapping each feature to the plain feature the themes should see: a clause
    mark (``sub_word``, ``pre_word``, a reversed ``rev_word``, and bigrams of them) to its plain word or bigram, a plain
    feature to itself; negation marks to nothing. The type needs the clause marks (rule 2), the
    themes need the topic words of every clause: "Although the MASH is calm, ..." is about the
    front door. Measured on dev: theme micro-F1 0.795 -> 0.798, without sections 0.736 -> 0.745."""
    index = {n: i for i, n in enumerate(feature_names)}
    rows, cols = [], []
    for i, name in enumerate(feature_names):
        if name.startswith("shape__"):  # a sentence's form is the type's evidence, not a topic
            continue
        words = name.split()
        if any(w.startswith("neg_") or "__neg_" in w for w in words):
            continue
        plain = " ".join(w.replace("__sub_", "__").replace("__pre_", "__").replace("__rev_", "__") if "__" in w
                         else (w[4:] if w.startswith(("sub_", "pre_", "rev_")) else w) for w in words)
        j = index.get(plain)
        if j is not None:
            rows.append(i)
            cols.append(j)
    n = len(feature_names)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))


def section_tokens(section: str) -> str:
    """``"sec_improve grade_none"``-style tokens describing a sentence's section."""
    return f"sec_{section_kind(section)} grade_{parse_grade(section or '') or 'none'}"


HEADING_MAX_CHARS = 200  # a heading or judgement row is short; longer text is never taken for one


def is_furniture(text: str, kind: str | None = None) -> bool:
    """Codebook rule 6 made exact: headings, judgement rows and table cells are neutral and
    theme-less. That is a unit segmentation marked as a heading (``kind``), a grade alone,
    a parenthesised reference, four words or fewer without end punctuation, one of
    Ofsted's section headings, or a judgement row ("Children who need help and protection
    Inadequate", "The experiences and progress of care leavers: Good")."""
    t = text.strip()
    if _PAREN_CELL.match(t) or GRADE_ONLY.match(t):
        return True
    if t.endswith(_END_PUNCT) or len(t) > HEADING_MAX_CHARS:
        return False
    if kind == "heading" and ". " not in t and not t.endswith(")"):
        return True
    return len(t.split()) <= 4 or bool(HEADING_RE.match(t)) or bool(GRADE_ROW.search(t))


Context = tuple[str, str]  # the text of the previous and the next sentence ("" where there is none)
NO_CONTEXT: Context = ("", "")


def neighbour_texts(texts: Sequence[str], kinds: Sequence[str | None] | None = None) -> list[Context]:
    """Each unit's context in a document given in reading order: the nearest unit before and
    after it that is not furniture (:func:`is_furniture`: headings, judgement rows), or "".
    The theme tagger reads them: "This is not yet consistent." is about what the paragraph is about."""
    ks = kinds if kinds is not None else [None] * len(texts)
    keep = [i for i, (t, k) in enumerate(zip(texts, ks)) if not is_furniture(t, k)]
    prev, nxt = [""] * len(texts), [""] * len(texts)
    j = 0  # keep[j] is the first sentence after i
    for i in range(len(texts)):
        while j < len(keep) and keep[j] <= i:
            j += 1
        if j < len(keep):
            nxt[i] = texts[keep[j]]
        before = j - 1 if (j and keep[j - 1] < i) else j - 2
        if before >= 0:
            prev[i] = texts[keep[before]]
    return list(zip(prev, nxt))


def has_neighbour(context: Context | None) -> bool:
    """Does this sentence have a neighbour's text?"""
    return bool(context and (context[0] or context[1]))


def has_context(contexts: Sequence[Context | None] | None) -> bool:
    """Does any sentence have a neighbour's text?"""
    return contexts is not None and any(has_neighbour(c) for c in contexts)


def context_map(feature_names: Sequence[str], fold: sp.spmatrix | None) -> sp.csr_matrix:
    """A 0/1 matrix from the text TF-IDF columns to the plain single words the context block
    keeps: a neighbour sentence counts by its topic words, not its bigrams or marks (a clause or
    negated word counts as its plain word through ``fold``; ``first_`` marks count as nothing)."""
    words = [n[len("text__"):] for n in feature_names if n.startswith("text__")]
    cols = np.array([i for i, w in enumerate(words) if " " not in w and not w.startswith(MARK_PREFIXES)], dtype=int)
    pick = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (cols, np.arange(len(cols)))),
                         shape=(len(words), len(cols)))
    return (fold[: len(words), : len(words)] @ pick).tocsr() if fold is not None else pick


def _features_input(texts: Sequence[str], sections: Sequence[str] | None) -> np.ndarray:
    """The two input columns of the vectoriser: text, section tokens."""
    secs = sections if sections is not None else [""] * len(texts)
    arr = np.empty((len(texts), 2), dtype=object)
    arr[:, 0] = list(texts)
    arr[:, 1] = [section_tokens(s) for s in secs]
    return arr


def word_scale(X: sp.spmatrix, y: np.ndarray, n_text: int, power: float) -> np.ndarray:
    """Per-column weights: a word column is multiplied by how strongly the word tells one class
    of ``y`` from the rest, ``max_class |log(P(word | class) / P(word | other classes))|``
    (document frequencies, add-one smoothed: the naive-Bayes log-count ratio of NBSVM, Wang and
    Manning 2012) to the power ``power``; columns from ``n_text`` on (section features) keep 1."""
    Xb = (X[:, :n_text] > 0).astype(np.float64).tocsr()
    y = np.asarray(y)
    classes = np.unique(y)
    ratio = np.zeros((len(classes), n_text))
    for k, c in enumerate(classes):
        pos = np.asarray(Xb[y == c].sum(axis=0)).ravel() + 1.0
        neg = np.asarray(Xb[y != c].sum(axis=0)).ravel() + 1.0
        ratio[k] = np.log((pos / pos.sum()) / (neg / neg.sum()))
    scale = np.ones(X.shape[1])
    scale[:n_text] = np.abs(ratio).max(axis=0) ** power
    return scale.astype(np.float32)


class WordScaledLogisticRegression(LogisticRegression):
    """Logistic regression fitted on word columns weighted by ``word_scale`` (``power`` 0: plain).

    A rare word that only ever appears in one class ("cursory", "demoralised" in weaknesses) is
    then not outweighed by the sentence's subject ("risk assessments are") under the same
    regularisation. After fitting, the weights are folded into ``coef_``, so the estimator reads
    unweighted features and predicts at the cost of a plain logistic regression."""

    def __init__(self, *, power: float = 0.0, n_text: int | None = None, C: float = 1.0,
                 class_weight=None, max_iter: int = 100, random_state=None):
        super().__init__(C=C, class_weight=class_weight, max_iter=max_iter, random_state=random_state)
        self.power = power
        self.n_text = n_text

    def fit(self, X, y, sample_weight=None):
        if not self.power:
            return super().fit(X, y, sample_weight=sample_weight)
        scale = word_scale(X, y, X.shape[1] if self.n_text is None else self.n_text, self.power)
        super().fit(X @ sp.diags(scale), y, sample_weight=sample_weight)
        self.coef_ = self.coef_ * scale
        return self


def tune_thresholds(scores: np.ndarray, gold: np.ndarray, grid: Sequence[float], default: float) -> np.ndarray:
    """Per-theme threshold maximising F1 on held-out sentences; the default where they have no positives."""
    out = np.full(scores.shape[1], default)
    for j in range(scores.shape[1]):
        if gold[:, j].sum() == 0:
            continue
        f1s = [f1_score(gold[:, j], scores[:, j] >= t, zero_division=0) for t in grid]
        out[j] = grid[int(np.argmax(f1s))]
    return out


# --------------------------------------------------------------------------- #
# The model
# --------------------------------------------------------------------------- #
@dataclass
class Prediction:
    """Scores for a batch of sentences (arrays row-aligned with the input)."""

    types: list[str]
    confidence: np.ndarray
    type_scores: np.ndarray  # n x 4, columns in TYPES order
    themes: list[list[str]]
    theme_scores: np.ndarray  # n x 18, columns in THEMES order
    evidence: list[list[str]] = field(default_factory=list)


class NotATaggerModel(TypeError):
    """A model file that unpickles to something else."""


# the fitted parts' attribute names in models pickled before this module existed (as pipeline.train.TaggerModel)
_LEGACY_NAMES = {"vectorizer": "vectorizer_", "type_clf": "type_clf_", "theme_clf": "theme_clf_",
                 "thresholds": "thresholds_"}


class TaggerModel(BaseEstimator):
    """Type classifier and theme tagger over one shared vectoriser.

    Parameters are those of ``params.yaml``'s ``model:`` section: ``tfidf``,
    ``type_logreg`` and ``theme_logreg`` are dicts of their keys; the rest plain values.
    """

    def __init__(self, *, tfidf: dict, type_logreg: dict, theme_logreg: dict, use_section: bool,
                 augment_blank_section: bool, scope_marks: bool, calibration: str, calibration_cv: int,
                 position_marks: bool = False, adverb_stems: bool = False, no_longer_reverses: bool = False,
                 type_word_scale: float = 0.0,
                 theme_word_scale: float = 0.0, blank_section_weight: float = 1.0, theme_context_weight: float = 0.0,
                 shape_weight: float = 0.0,
                 theme_threshold_grid: Sequence[float], theme_default_threshold: float, max_themes: int,
                 evidence_words: int, random_state: int, n_jobs: int = 1):
        self.tfidf = tfidf
        self.type_logreg = type_logreg
        self.theme_logreg = theme_logreg
        self.use_section = use_section
        self.augment_blank_section = augment_blank_section
        self.scope_marks = scope_marks
        self.position_marks = position_marks
        self.adverb_stems = adverb_stems
        self.no_longer_reverses = no_longer_reverses
        self.type_word_scale = type_word_scale
        self.theme_word_scale = theme_word_scale
        self.blank_section_weight = blank_section_weight
        self.theme_context_weight = theme_context_weight
        self.shape_weight = shape_weight
        self.calibration = calibration
        self.calibration_cv = calibration_cv
        self.theme_threshold_grid = theme_threshold_grid
        self.theme_default_threshold = theme_default_threshold
        self.max_themes = max_themes
        self.evidence_words = evidence_words
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ----------------------------------------------------------------- fitting
    def fit(self, texts: Sequence[str], types: Sequence[str], themes: Sequence[Sequence[str] | None],
            sections: Sequence[str] | None = None, *, sample_weight: Sequence[float] | None = None,
            dev_texts: Sequence[str] | None = None, dev_themes: Sequence[Sequence[str]] | None = None,
            dev_sections: Sequence[str] | None = None, skip_themes: bool = False,
            contexts: Sequence[Context | None] | None = None,
            dev_contexts: Sequence[Context | None] | None = None) -> TaggerModel:
        """Fit on labelled sentences; returns self.

        ``themes[i]`` is None for a row that trains the type classifier only (a weak
        label). With ``dev_*`` the per-theme thresholds are tuned on those sentences,
        else every theme gets ``theme_default_threshold``. ``skip_themes`` stops after the
        vectoriser and the type classifier (``vectorizer_``, ``type_clf_``): no themes, so
        the model is not ready to predict; for measuring the type classifier alone
        (``scripts/cv_type.py``). ``contexts[i]`` is sentence i's neighbours in its report
        (:func:`neighbour_texts`; None or absent: none), read by the theme tagger when
        ``theme_context_weight`` is above 0; the no-section copies are fitted without them, so
        sentences given alone keep their themes.
        """
        n = len(texts)
        secs = list(sections) if sections is not None else [""] * n
        weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        hand = [i for i in range(n) if themes[i] is not None]
        # each sectioned sentence is also seen without its section, so sentences given alone score well
        blank = [i for i in hand if secs[i]] if self.use_section and self.augment_blank_section else []
        type_only = [i for i in range(n) if themes[i] is None]
        order = hand + blank + type_only
        # the type classifier weighs the blank-section copies ``blank_section_weight`` times their row
        type_weights = weights[order] * np.r_[np.ones(len(hand)),
                                              np.full(len(blank), self.blank_section_weight),
                                              np.ones(len(type_only))]
        all_secs = [secs[i] for i in hand] + [""] * len(blank) + [secs[i] for i in type_only]
        self.vectorizer_ = self._new_vectorizer()
        X = self.vectorizer_.fit_transform(
            _features_input([texts[i] for i in order], all_secs if self.use_section else None))
        y_type = np.array([types[i] for i in order])
        n_text = len(self.vectorizer_.named_transformers_["text"].vocabulary_)
        base = self._new_logreg(self.type_logreg, self.type_word_scale, n_text)
        if self.calibration == "none":
            self.type_clf_ = base.fit(X, y_type, sample_weight=type_weights)
        else:
            cv = StratifiedKFold(n_splits=self.calibration_cv, shuffle=True, random_state=self.random_state)
            self.type_clf_ = CalibratedClassifierCV(base, method=self.calibration, cv=cv, ensemble=False)
            self.type_clf_.fit(X, y_type, sample_weight=type_weights)
        if skip_themes:
            return self
        # themes are fitted on every labelled sentence and on the blank-section copies too, so
        # themes of sentences given alone score well: dev theme micro-F1 without sections
        # 0.766 -> 0.792, with sections 0.800 -> 0.803 (fitted once: half the theme fit time)
        Y = theme_matrix([themes[i] for i in hand] + [themes[i] for i in blank])
        Xt = X[: len(hand) + len(blank)]
        names = self.vectorizer_.get_feature_names_out()
        self.theme_fold_ = topic_fold(names) if self.scope_marks else None
        if self.theme_fold_ is not None:
            Xt = Xt @ self.theme_fold_
        self.context_map_ = context_map(names, self.theme_fold_) if self.theme_context_weight else None
        if self.context_map_ is not None:
            ctx = [contexts[i] if contexts is not None else None for i in hand] + [None] * len(blank)
            Xt = sp.hstack([Xt, self._context_block(ctx, texts=[texts[i] for i in hand], X=X)], format="csr")
        self.theme_clf_ = OneVsRestClassifier(self._new_logreg(self.theme_logreg, self.theme_word_scale, n_text),
                                              n_jobs=self.n_jobs).fit(Xt, Y)
        self.thresholds_ = np.full(len(THEMES), self.theme_default_threshold)
        self.thresholds_alone_ = None
        self._prepare()
        if dev_texts is not None and len(dev_texts):
            gold = theme_matrix(dev_themes)
            scores = self.theme_proba(self.transform(dev_texts, dev_sections), dev_contexts, dev_texts)
            self.thresholds_ = tune_thresholds(scores, gold, self.theme_threshold_grid, self.theme_default_threshold)
            if (dev_sections is not None and any(dev_sections)) or has_context(dev_contexts):
                # a sentence given alone (no section, no neighbours) scores differently: its own thresholds,
                # tuned on the same dev sentences given alone. Measured on dev by halves of its councils
                # (tuned on one, scored on the other, 40 draws): alone 0.792 -> 0.795, 38 of 40 up
                alone = self.theme_proba(self.transform(dev_texts, None))
                self.thresholds_alone_ = tune_thresholds(alone, gold, self.theme_threshold_grid,
                                                         self.theme_default_threshold)
        return self

    def theme_thresholds(self, sections: Sequence[str] | None = None,
                         contexts: Sequence[Context | None] | None = None, n: int = 0) -> np.ndarray:
        """The n x 18 thresholds of a batch: ``thresholds_alone_`` for a sentence with neither a section
        nor a neighbour (as ``predict --sentences`` gives them), ``thresholds_`` for the others."""
        n = len(sections) if sections is not None else (len(contexts) if contexts is not None else n)
        alone_thr = getattr(self, "thresholds_alone_", None)  # models before it have none
        if alone_thr is None:
            return np.broadcast_to(self.thresholds_, (n, len(THEMES)))
        secs = sections if (sections is not None and self.use_section) else [""] * n
        ctx = contexts if contexts is not None else [None] * n
        alone = np.fromiter((not s and not has_neighbour(c) for s, c in zip(secs, ctx)), dtype=bool, count=n)
        return np.where(alone[:, None], alone_thr, self.thresholds_)

    def _new_vectorizer(self) -> ColumnTransformer:
        t = self.tfidf
        text = TfidfVectorizer(
            ngram_range=(1, t["ngram_max"]), min_df=t["min_df"], max_df=t["max_df"], sublinear_tf=t["sublinear_tf"],
            max_features=t["max_features"], preprocessor=self._preprocessor(),
            dtype=np.float32,
        )
        section = CountVectorizer(token_pattern=r"\S+", binary=True, lowercase=False, dtype=np.float32)
        parts = [("text", text, 0), ("section", section, 1)]
        if not self.shape_weight:  # the vectoriser earlier models were pickled with
            return ColumnTransformer(parts, sparse_threshold=1.0)
        shape = TfidfVectorizer(analyzer=shape_tokens, min_df=3, sublinear_tf=True, dtype=np.float32)
        return ColumnTransformer(parts + [("shape", shape, 0)], sparse_threshold=1.0,
                                 transformer_weights={"shape": self.shape_weight})

    def _preprocessor(self):
        if not (self.position_marks or self.adverb_stems or (self.scope_marks and self.no_longer_reverses)):
            # the functions earlier models were pickled with
            return mark_scopes if self.scope_marks else normalise_text
        kw = {"reversal": True} if self.scope_marks and self.no_longer_reverses else {}  # earlier models: no keyword
        return functools.partial(prepare_text, scopes=bool(self.scope_marks), position=bool(self.position_marks),
                                 stems=bool(self.adverb_stems), **kw)

    def _new_logreg(self, p: dict, power: float = 0.0, n_text: int | None = None) -> LogisticRegression:
        if not power:  # the class earlier models were pickled with
            return LogisticRegression(C=p["C"], class_weight=p["class_weight"], max_iter=p["max_iter"],
                                      random_state=self.random_state)
        return WordScaledLogisticRegression(power=power, n_text=n_text, C=p["C"], class_weight=p["class_weight"],
                                            max_iter=p["max_iter"], random_state=self.random_state)

    def _prepare(self) -> None:
        """Derive lookup arrays used at prediction time (not pickled: cheap to rebuild)."""
        names = self.vectorizer_.get_feature_names_out()
        self._n_text = int(sum(1 for n in names if n.startswith("text__")))
        self._words = np.array([n[len("text__"):] for n in names[: self._n_text]], dtype=object)
        self._evidence_ok = np.fromiter((is_evidence_term(w) for w in self._words), dtype=bool, count=self._n_text)
        base = self._base_type_estimator()
        order = [list(base.classes_).index(t) for t in TYPES]
        coef = np.asarray(base.coef_)
        self._type_coef = coef[order][:, : self._n_text]
        self._type_order = [list(self.type_clf_.classes_).index(t) for t in TYPES]
        # Fast path: the fitted linear algebra without sklearn's per-call validation
        # (identical numbers; a single-sentence request pays ~0.3 ms instead of ~10 ms).
        self._text_vec = self.vectorizer_.named_transformers_["text"]
        self._section_vec = self.vectorizer_.named_transformers_["section"]
        self._shape_vec = self.vectorizer_.named_transformers_.get("shape")  # models before it have none
        self._shape_weight = np.float32((self.vectorizer_.transformer_weights or {}).get("shape", 1.0))
        self._type_linear = None
        if not hasattr(self.type_clf_, "calibrated_classifiers_") and np.asarray(base.coef_).shape[0] == len(TYPES):
            self._type_linear = (coef[order].T.copy(), np.asarray(base.intercept_)[order].copy())
        ests = getattr(self.theme_clf_, "estimators_", [])
        self._theme_linear = None
        if len(ests) == len(THEMES) and all(hasattr(e, "coef_") for e in ests):
            w = np.vstack([e.coef_ for e in ests]).T
            fold = getattr(self, "theme_fold_", None)  # models before the fold have none
            n_sent = fold.shape[1] if fold is not None else w.shape[0] - self._n_context_columns()
            self._theme_context_coef = w[n_sent:].copy() if self._n_context_columns() else None
            w = w[:n_sent]
            self._theme_linear = ((np.asarray(fold @ w) if fold is not None else w).copy(),
                                  np.array([e.intercept_[0] for e in ests]))

    def _n_context_columns(self) -> int:
        cmap = getattr(self, "context_map_", None)  # models before the context block have none
        return 0 if cmap is None else 2 * cmap.shape[1]

    def _context_block(self, contexts: Sequence[Context | None] | None, n: int | None = None,
                       texts: Sequence[str] = (), X=None) -> sp.csr_matrix:
        """The theme tagger's context columns: the previous sentence's plain words, then the next
        one's (TF-IDF through :func:`context_map`), times ``theme_context_weight``; zeros for a
        sentence without context. A neighbour that is one of ``texts`` (rows of the already
        vectorised ``X``: in a document, every neighbour) takes its row from ``X`` instead of
        being vectorised again; each other distinct neighbour is vectorised once."""
        n = len(contexts) if contexts is not None else int(n or 0)
        k = self.context_map_.shape[1]
        if not has_context(contexts):
            return sp.csr_matrix((n, 2 * k), dtype=np.float32)
        vec = self.vectorizer_.named_transformers_["text"]
        n_text = len(vec.vocabulary_)
        known = {t: i for i, t in enumerate(texts)} if X is not None else {}
        pairs = [c or NO_CONTEXT for c in contexts]
        others = list(dict.fromkeys(t for c in pairs for t in c if t and t not in known))
        first = len(texts) if X is not None else 0  # others' rows follow X's
        at = {t: first + i for i, t in enumerate(others)}
        blank = first + len(others)
        parts = ([sp.csr_matrix(X)[: len(texts), :n_text]] if X is not None else []) + \
            ([vec.transform(others)] if others else []) + [sp.csr_matrix((1, n_text), dtype=np.float32)]
        rows = sp.vstack(parts, format="csr") @ self.context_map_ * np.float32(self.theme_context_weight)
        where = [[known.get(t, at.get(t, blank)) if t else blank for t in side] for side in zip(*pairs)]
        return sp.hstack([rows[where[0]], rows[where[1]]], format="csr")

    def _base_type_estimator(self):
        clf = self.type_clf_
        if hasattr(clf, "calibrated_classifiers_"):
            return clf.calibrated_classifiers_[0].estimator
        return clf

    # ------------------------------------------------------------- pickling
    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict) -> None:
        state = {_LEGACY_NAMES.get(k, k): v for k, v in state.items() if k != "info"}
        self.__dict__.update(state)
        for name in self._get_param_names():  # a legacy model kept only what prediction needs
            self.__dict__.setdefault(name, None)
        if "vectorizer_" in state:
            self._prepare()

    def save(self, path: Path | str) -> Path:
        """Write the fitted model to ``path`` (joblib, compressed)."""
        joblib.dump(self, path, compress=3)
        return Path(path)

    @classmethod
    def load(cls, path: Path | str) -> TaggerModel:
        """The model saved at ``path``; raises NotATaggerModel if the file holds something else."""
        obj = joblib.load(path)
        if not isinstance(obj, cls):
            raise NotATaggerModel(type(obj).__name__)
        return obj

    # ------------------------------------------------------------ predicting
    def _check_fitted(self) -> None:
        if not hasattr(self, "vectorizer_"):
            raise NotFittedError("This TaggerModel is not fitted yet; call fit() first.")

    def transform(self, texts: Sequence[str], sections: Sequence[str] | None = None):
        """The feature matrix of sentences (TF-IDF columns, then section columns, then shape columns)."""
        self._check_fitted()
        secs = sections if (sections is not None and self.use_section) else [""] * len(texts)
        parts = [self._text_vec.transform(texts), self._section_vec.transform([section_tokens(s) for s in secs])]
        if self._shape_vec is not None:
            parts.append(self._shape_vec.transform(texts) * self._shape_weight)
        return sp.hstack(parts, format="csr")

    def type_proba(self, X) -> np.ndarray:
        """Type probabilities, columns in TYPES order."""
        if self._type_linear is None:
            return self.type_clf_.predict_proba(X)[:, self._type_order]
        z = np.asarray(X @ self._type_linear[0]) + self._type_linear[1]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def theme_proba(self, X, contexts: Sequence[Context | None] | None = None, texts: Sequence[str] = ()) -> np.ndarray:
        """Per-theme probabilities, columns in THEMES order; ``contexts`` as in :meth:`predict`
        (``texts``: the sentences ``X`` was made from, whose rows neighbours may reuse)."""
        n_ctx = self._n_context_columns()
        if self._theme_linear is None:
            fold = getattr(self, "theme_fold_", None)
            Xt = X if fold is None else X @ fold
            if n_ctx:
                Xt = sp.hstack([Xt, self._context_block(contexts, X.shape[0], texts, X if len(texts) else None)],
                               format="csr")
            return self.theme_clf_.predict_proba(Xt)
        z = np.asarray(X @ self._theme_linear[0]) + self._theme_linear[1]
        if n_ctx and has_context(contexts):
            z += np.asarray(self._context_block(contexts, texts=texts, X=X if len(texts) else None)
                            @ self._theme_context_coef)
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, texts: Sequence[str], sections: Sequence[str] | None = None, evidence: bool = True,
                kinds: Sequence[str] | None = None, contexts: Sequence[Context | None] | None = None) -> Prediction:
        """Type, themes and evidence of each sentence; ``kinds`` are segmentation's unit kinds
        (a ``heading`` is furniture: neutral, no themes); ``contexts`` each sentence's neighbours
        in its document (:func:`neighbour_texts`), read by the theme tagger; None for sentences
        given alone."""
        self._check_fitted()
        if len(texts) == 0:
            return Prediction([], np.zeros(0), np.zeros((0, len(TYPES))), [], np.zeros((0, len(THEMES))), [])
        X = self.transform(texts, sections)
        proba = self.type_proba(X)
        ks = kinds if kinds is not None else [None] * len(texts)
        furniture = np.fromiter((is_furniture(t, k) for t, k in zip(texts, ks)), dtype=bool, count=len(texts))
        proba[furniture] = np.eye(len(TYPES))[TYPES.index("neutral")]
        pred_idx = proba.argmax(axis=1)
        theme_scores = self.theme_proba(X, contexts, texts)
        chosen = (theme_scores >= self.theme_thresholds(sections, contexts, len(texts))) & ~furniture[:, None]
        # keep at most max_themes, highest scores first
        order = np.argsort(-theme_scores, axis=1)[:, : self.max_themes]
        themes = [[THEMES[j] for j in order[r] if chosen[r, j]] for r in range(len(texts))]
        ev = self._evidence(X, pred_idx) if evidence else []
        return Prediction([TYPES[i] for i in pred_idx], proba.max(axis=1), proba, themes, theme_scores, ev)

    def _evidence(self, X, pred_idx: np.ndarray) -> list[list[str]]:
        """Words whose TF-IDF weight times the predicted class's coefficient is largest."""
        Xt = X[:, : self._n_text].tocsr()
        n = Xt.shape[0]
        rows = np.repeat(np.arange(n), np.diff(Xt.indptr))
        if rows.size == 0:
            return [[] for _ in range(n)]
        contrib = Xt.data * self._type_coef[pred_idx[rows], Xt.indices]
        keep = (contrib > 0) & self._evidence_ok[Xt.indices]
        rows, cols, contrib = rows[keep], Xt.indices[keep], contrib[keep]
        order = np.lexsort((-contrib, rows))
        rows, cols = rows[order], cols[order]
        starts = np.searchsorted(rows, np.arange(n))
        ends = np.searchsorted(rows, np.arange(n), side="right")
        k = self.evidence_words
        return [list(self._words[cols[s : min(e, s + k)]]) for s, e in zip(starts, ends)]

    def uncertainty_order(self, texts: Sequence[str], ids: Sequence[str], sections: Sequence[str] | None = None) -> list[str]:
        """Ids ordered from least to most confident type prediction (active learning)."""
        pred = self.predict(texts, sections, evidence=False)
        return [ids[i] for i in np.argsort(pred.confidence, kind="stable")]
