"""Add helper writers' CSVs (text,type,themes) to data/labels/written/, keeping only rows that are valid
by the codebook's vocabulary and new: a row is dropped when it repeats a written sentence already there
or comes near a held-out sentence: word Jaccard >= 0.5 with a sentence of the evaluation sets
(data/eval/, written the same way, so closeness means a shared frame), >= 0.8 with a sentence of the dev
and test councils' hand labels (a near copy; report stock phrases such as "leaders know their services
well" recur across councils, in the train councils' labels too, and stay).

    .venv/bin/python scripts/add_written.py /tmp/out/vocab_0.csv ...   # -> data/labels/written/vocab_0.csv ...

A file of the same name already in data/labels/written/ is replaced (rerunning is safe).
"""
from __future__ import annotations

import collections
import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import default_params  # noqa: E402
from pipeline.data import validate_row, written_dir  # noqa: E402
from pipeline.label import read_eval_file  # noqa: E402
from pipeline.train import load_dataset  # noqa: E402

WORD = re.compile(r"[a-z']+")
NEAR_EVAL = 0.5
NEAR_HELD_OUT = 0.8
COMMON = 1500  # words in more reference sentences than this do not propose candidates


def words(text: str) -> frozenset[str]:
    return frozenset(WORD.findall(text.lower()))


def main(sources: list[Path]) -> None:
    params = default_params()
    ref = [words(r.text) for f in sorted(params.paths.eval_sets.glob("*.csv")) for r in read_eval_file(f)]
    n_eval = len(ref)
    ds = load_dataset(params)
    ref += [words(r.text) for r in ds.dev + ds.test]
    index: dict[str, list[int]] = collections.defaultdict(list)
    for i, s in enumerate(ref):
        for w in s:
            index[w].append(i)
    replaced = {f"written_{p.stem}" for p in sources}
    seen = {r.text.strip().lower() for r in ds.written if r.source not in replaced}
    out_dir = written_dir(params)
    for src in sources:
        keep, dropped = [], collections.Counter()
        for r in csv.DictReader(src.open(encoding="utf-8", newline="")):
            s = words(r.get("text") or "")
            cand = {i for w in s if len(index.get(w, ())) < COMMON for i in index[w]}
            if validate_row({**r, "id": "x", "report": "written", "section": "", "source": "written_x"}):
                dropped["invalid"] += 1
            elif any(len(s & ref[i]) / len(s | ref[i]) >= NEAR_EVAL for i in cand if i < n_eval):
                dropped["near an evaluation-set sentence"] += 1
            elif any(len(s & ref[i]) / len(s | ref[i]) >= NEAR_HELD_OUT for i in cand if i >= n_eval):
                dropped["near a dev/test sentence"] += 1
            elif r["text"].strip().lower() in seen:
                dropped["repeated"] += 1
            else:
                seen.add(r["text"].strip().lower())
                keep.append(r)
        dst = out_dir / src.name
        tmp = dst.with_suffix(".csv.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["text", "type", "themes"], extrasaction="ignore")
            w.writeheader()
            w.writerows(keep)
        tmp.replace(dst)
        types = collections.Counter(r["type"] for r in keep)
        print(f"{dst.relative_to(ROOT)}: kept {len(keep)} {dict(types)}; dropped {dict(dropped)}")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]])
