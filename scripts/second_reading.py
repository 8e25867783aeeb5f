"""Second, blind reading of written sentences (data/labels/written/review/, prompt PROMPT.md).

    .venv/bin/python scripts/second_reading.py deal OUTDIR FILE.csv ...   # OUTDIR/in_K.csv (n,text) for 8 readers
    .venv/bin/python scripts/second_reading.py deal-in-order OUTDIR FILE.csv ...  # one reader per file, article order
    .venv/bin/python scripts/second_reading.py apply OUTDIR               # after the readers wrote OUTDIR/out_K.csv

``deal`` shuffles the files' sentences (seeded) into 8 inputs of ``n,text`` for helper readers and keeps
the first reading in OUTDIR/../<name>_key.csv, outside the readers' directory; ``deal-in-order`` gives each file to one reader unshuffled, for
news articles whose sentences are read in their article (prompt PROMPT_news.md). ``apply`` prints type
agreement and Cohen's kappa per file group, appends every second reading to review/second_reading.csv
(file,text,type,themes) and removes from the written files each sentence whose two readings disagree on
type (an ambiguous training sentence teaches nothing; themes stay the writer's). Writes are atomic.
"""
from __future__ import annotations

import collections
import csv
import random
import re
import sys
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.errors import atomic_write  # noqa: E402

WRITTEN = ROOT / "data" / "labels" / "written"
REVIEW = WRITTEN / "review" / "second_reading.csv"
READERS = 8


def key_path(out: Path) -> Path:
    return out.parent / f"{out.name}_key.csv"


def deal(out: Path, files: list[Path], in_order: bool = False) -> None:
    per_file = [[(f.name, r["text"], r["type"], r["themes"]) for r in csv.DictReader(f.open(encoding="utf-8", newline=""))]
                for f in files]
    if in_order:
        parts = per_file
    else:
        rows = [r for rs in per_file for r in rs]
        random.Random(42).shuffle(rows)
        parts = [rows[k::READERS] for k in range(READERS)]
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(key_path(out)) as kf:
        key = csv.writer(kf)
        key.writerow(["n", "file", "text", "type", "themes"])
        for k, part in enumerate(parts):
            with atomic_write(out / f"in_{k}.csv") as fh:
                w = csv.writer(fh)
                w.writerow(["n", "text"])
                for i, r in enumerate(part):
                    w.writerow([f"{k}-{i}", r[1]])
                    key.writerow([f"{k}-{i}", *r])
    print(f"{sum(map(len, parts))} sentences dealt to {len(parts)} inputs under {out}; first reading in {key_path(out)}")


def apply(out: Path) -> None:
    key = {r["n"]: r for r in csv.DictReader(key_path(out).open(encoding="utf-8", newline=""))}
    second = {r["n"]: r for f in sorted(out.glob("out_*.csv"))
              for r in csv.DictReader(f.open(encoding="utf-8", newline=""))}
    missing = sorted(set(key) - set(second))
    if missing:
        sys.exit(f"{out}: {len(missing)} sentences have no second reading (first: {missing[0]}); finish them first.")
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for n, r in key.items():
        groups[re.sub(r"_\w+$", "", r["file"][:-4])].append(n)
    for g, ns in sorted(groups.items()):
        a, b = [key[n]["type"] for n in ns], [second[n]["type"] for n in ns]
        agree = sum(x == y for x, y in zip(a, b)) / len(ns)
        print(f"{g}: {len(ns)} sentences, type agreement {agree:.4f}, Cohen's kappa {cohen_kappa_score(a, b):.3f}")
    drop: dict[str, set[str]] = collections.defaultdict(set)
    for n, r in key.items():
        if r["type"] != second[n]["type"]:
            drop[r["file"]].add(r["text"])
    old = list(csv.reader(REVIEW.open(encoding="utf-8", newline=""))) if REVIEW.is_file() else [["file", "text", "type", "themes"]]
    seen = {(r[0], r[1]) for r in old[1:]}
    new = [[r["file"], r["text"], second[n]["type"], second[n]["themes"]] for n, r in key.items() if (r["file"], r["text"]) not in seen]
    with atomic_write(REVIEW) as fh:
        csv.writer(fh).writerows(old + new)
    for name, texts in sorted(drop.items()):
        path = WRITTEN / name
        rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
        kept = [rows[0]] + [r for r in rows[1:] if r[0] not in texts]
        with atomic_write(path) as fh:
            csv.writer(fh).writerows(kept)
    print(f"{len(new)} second readings added to {REVIEW.relative_to(ROOT)}; "
          f"{sum(map(len, drop.values()))} sentences read differently removed from {len(drop)} files")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] in ("deal", "deal-in-order"):
        deal(Path(sys.argv[2]), [Path(a) for a in sys.argv[3:]], in_order=sys.argv[1] == "deal-in-order")
    elif len(sys.argv) == 3 and sys.argv[1] == "apply":
        apply(Path(sys.argv[2]))
    else:
        sys.exit(__doc__)
