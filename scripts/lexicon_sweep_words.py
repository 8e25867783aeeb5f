"""Words for the lexicon sweep (data/labels/written/lex_*.csv): the polar words of the MIT-licensed
VADER (|valence| >= 1.0) and TextBlob (|polarity| >= 0.3) lexicons and our domain terms that occur in
fewer than 3 training sentences (hand labels of the train councils plus the sentences
written before the sweep), dealt round-robin into 8 lists for helper writers (prompt: data/labels/written/PROMPT_lex.md).

    .venv/bin/python scripts/lexicon_sweep_words.py OUTDIR
"""
from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from pipeline.config import default_params  # noqa: E402
from pipeline.train import load_dataset  # noqa: E402
from sample_round4 import polar_words  # noqa: E402

WORD = re.compile(r"[a-z][a-z-]+")


def main(out: Path) -> None:
    words = polar_words(vader_min=1.0, textblob_min=0.3, word=WORD)
    for line in (ROOT / "data" / "lexicon" / "domain_terms.txt").read_text(encoding="utf-8").splitlines():
        t = line.split("#", 1)[0].strip().lower()
        if t and " " not in t:
            words.add(t)
    ds = load_dataset(default_params())
    seen: collections.Counter = collections.Counter()
    for r in [*ds.train, *(w for w in ds.written if not w.source.startswith(("written_lex_", "written_struct_")))]:
        seen.update(set(re.findall(r"[a-z][a-z'-]*", r.text.lower())))
    rare = sorted(w for w in words if seen[w] < 3)
    out.mkdir(parents=True, exist_ok=True)
    for k in range(8):
        (out / f"words_{k}.txt").write_text("\n".join(rare[k::8]) + "\n", encoding="utf-8")
    print(f"{len(rare)} rare polar words in 8 lists under {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
