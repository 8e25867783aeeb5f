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
    out.mkdir(parents=True, exist_ok=True)
    for k in range(8):
        (out / f"words_{k}.txt").write_text("\n".join(rare[k::8]) + "\n", encoding="utf-8")
    print(f"{len(rare)} of {len(items)} brainstormed items are in fewer than {MIN_SEEN} training sentences; "
          f"8 lists under {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]] or None)
