"""Words for the second vocabulary sweep (data/labels/written/vocab_*.csv): evaluative words and
phrases brainstormed by helper writers from their own knowledge of English, field by field
(data/lexicon/brainstorm/field_*.txt: critical and praising adjectives, verbs of failure and of
success, degree and frequency words, evaluative nouns, idioms, press words), kept when they occur
in fewer than 3 training sentences (hand labels of the train councils plus every written sentence
so far), with their inflections counted (-s, -es, -d, -ed, -ing, -ly; a doubled final consonant too). The general sentiment
lexicons of the first sweep (scripts/lexicon_sweep_words.py) miss much of the formal register of
inspection and audit prose ("perfunctory", "dearth"); this sweep covers it.

    .venv/bin/python scripts/vocab_sweep_words.py OUTDIR [FIELD_FILE...]

(round 1: fields 0-7, the default being every field file; round 2: the fields 8-15 only — social-work
jargon of weak and of strong practice, plans and records, leadership and culture, children's own words,
pace and consistency, hedges and intensifiers, resources and capacity).

dealt round-robin into 8 lists for helper writers (prompt: data/labels/written/PROMPT_vocab.md,
the word list being OUTDIR/words_K.txt).

Round 4 (``vocab4_*.csv``, prompt PROMPT_vocab4.md) selects by what a fitted model learnt instead of
by count: ``--weak-coef MODEL`` keeps every brainstormed item whose weakness-minus-strength weight
in MODEL's type classifier (its words and bigrams summed) is below 1.5 either way, or leans the wrong
way for its field (critical adjectives, verbs of failure and evaluative nouns should lean weak;
praising adjectives and verbs of success strong). Seen in a few sentences, such a word still loses
to the sentence's subject: "Risk assessments are cursory." was tagged strength.

    .venv/bin/python scripts/vocab_sweep_words.py --weak-coef MODEL OUTDIR   # MODEL: a fitted model, e.g. models/champion/model.joblib
"""
from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import default_params  # noqa: E402
from pipeline.train import load_dataset  # noqa: E402

BRAINSTORM = ROOT / "data" / "lexicon" / "brainstorm"
ITEM = re.compile(r"[a-z][a-z' -]*[a-z]")
MIN_SEEN = 3


def read_items(paths: list[Path] | None = None) -> list[str]:
    items: set[str] = set()
    for path in paths or sorted(BRAINSTORM.glob("field_*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = " ".join(line.split("#", 1)[0].strip().lower().split())
            if ITEM.fullmatch(item):
                items.add(item)
    return sorted(items)


def pattern(item: str) -> re.Pattern:
    """A phrase as whole words, its first and last words with or without a common inflection."""
    words = [re.escape(w) for w in item.split()]
    for i in (0, -1):
        words[i] = "(?:" + "|".join(re.escape(w) for w in sorted(inflections(item.split()[i]))) + ")"
    return re.compile(r"\b" + r"\s+".join(words) + r"\b")


def inflections(word: str) -> set[str]:
    """The word and its common inflected forms (over-generous: a form that is no word matches nothing)."""
    stem = word[:-1] if word.endswith(("e", "y")) else word
    forms = {word} | {stem + end for end in ("s", "es", "d", "ed", "ing", "ly", "ies", "ied", "ily")}
    return forms | {word + word[-1] + end for end in ("ed", "ing")}


WEAK_COEF = 1.5  # |weakness - strength| weight below which an item counts as weakly learnt
LEANS_WEAK = ("field_0", "field_2", "field_5")  # critical adjectives, verbs of failure, evaluative nouns
LEANS_STRONG = ("field_1", "field_3")  # praising adjectives, verbs of success


def weakly_learnt(model_path: Path) -> list[str]:
    """Brainstormed items the model weighs too lightly, or the wrong way for their field."""
    from pipeline.model import TYPES, TaggerModel, normalise_text

    model = TaggerModel.load(model_path)
    column = {w: i for i, w in enumerate(model._words)}
    lean = model._type_coef[TYPES.index("weakness")] - model._type_coef[TYPES.index("strength")]
    chosen: dict[str, None] = {}  # in field order, each item once
    for path in sorted(BRAINSTORM.glob("field_*.txt")):
        for item in read_items([path]):
            toks = re.findall(r"[a-z0-9]+", normalise_text(item))
            feats = toks + [a + " " + b for a, b in zip(toks, toks[1:])]
            score = float(sum(lean[column[f]] for f in feats if f in column))
            wrong = (path.stem in LEANS_WEAK and score < WEAK_COEF) or (path.stem in LEANS_STRONG and score > -WEAK_COEF)
            if abs(score) < WEAK_COEF or wrong:
                chosen.setdefault(item)
    return list(chosen)


def deal(items: list[str], out: Path, why: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for k in range(8):
        (out / f"words_{k}.txt").write_text("\n".join(items[k::8]) + "\n", encoding="utf-8")
    print(f"{len(items)} brainstormed items {why}; 8 lists under {out}")


def main(out: Path, fields: list[Path] | None = None) -> None:
    ds = load_dataset(default_params())
    texts = [r.text.lower() for r in [*ds.train, *ds.written]]
    per_sentence: collections.Counter = collections.Counter()  # sentences each word occurs in
    for t in texts:
        per_sentence.update(set(re.findall(r"[a-z][a-z'-]*", t)))
    joined = "\n".join(texts)
    rare = []
    items = read_items(fields)
    for item in items:
        if " " not in item:
            seen = sum(per_sentence[w] for w in inflections(item))
        else:
            seen = 0
            for _ in pattern(item).finditer(joined):
                seen += 1
                if seen >= MIN_SEEN:
                    break
        if seen < MIN_SEEN:
            rare.append(item)
    deal(rare, out, f"of {len(items)} are in fewer than {MIN_SEEN} training sentences")


if __name__ == "__main__":
    if sys.argv[1] == "--weak-coef":
        deal(weakly_learnt(Path(sys.argv[2])), Path(sys.argv[3]), f"are weighed below {WEAK_COEF} or the wrong way")
    else:
        main(Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]] or None)
