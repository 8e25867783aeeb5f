"""Round 5 of hand labelling (issue 10): after round 4 is merged and the champion retrained
on it, choose more sentences where the model is least sure, more dev sentences (so model
choices rest on a larger dev set), and a large random share of the train councils' remaining
sentences (one per distinct text).

    .venv/bin/python scripts/sample_round5.py [MODEL_URI]   # default: the exported champion

Writes data/labels/batches/r5_NNN.jsonl (800 each: uncertain first, then dev and random
interleaved) and appends to data/labels/round4_pools.csv's sibling round5_pools.csv.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import default_params  # noqa: E402
from pipeline.data import council_of, labels_path, load_sentences, read_metadata, read_split, split_path, with_context  # noqa: E402
from pipeline.label import read_labels  # noqa: E402
from pipeline.predict import load_model  # noqa: E402

SEED = 20261203
BATCH = 800
SIZES = {"uncertain": 8000, "dev_random": 2400, "random": 30000}
PER_REPORT_UNCERTAIN = 30


def main() -> None:
    params = default_params()
    rng = random.Random(SEED)
    rows = list(with_context(load_sentences(params)))
    meta = read_metadata(params.paths.corpus_metadata)
    split = read_split(split_path(params))
    done = {r.id for r in read_labels(labels_path(params))}
    for f in (ROOT / "data" / "labels").glob("round*_pools.csv"):  # handed out, maybe not merged yet
        with f.open(encoding="utf-8") as fh:
            done |= {r["id"] for r in csv.DictReader(fh)}
    side = {r["id"]: split.get(council_of(r["report"], meta), "train") for r in rows}
    seen_text: set[str] = set()
    cand = []
    for r in rows:
        key = " ".join(r["text"].lower().split())
        if r["id"] in done or len(key) <= 1 or r["report"].startswith("seed_") or key in seen_text:
            continue
        seen_text.add(key)
        cand.append(r)
    by_side = defaultdict(list)
    for r in cand:
        by_side[side[r["id"]]].append(r)
    for s in by_side.values():
        rng.shuffle(s)
    train = by_side["train"]
    model = load_model(sys.argv[1] if len(sys.argv) > 1 else None, params)
    pred = model.predict([r["text"] for r in train], [r["section"] or "" for r in train], evidence=False)
    per_report: Counter = Counter()
    uncertain = []
    for i in sorted(range(len(train)), key=lambda i: pred.confidence[i]):
        if per_report[train[i]["report"]] < PER_REPORT_UNCERTAIN and len(train[i]["text"].split()) > 3:
            per_report[train[i]["report"]] += 1
            uncertain.append(train[i])
        if len(uncertain) >= SIZES["uncertain"]:
            break
    taken = {r["id"]: "uncertain" for r in uncertain}
    dev = by_side["dev"][: SIZES["dev_random"]]
    taken.update({r["id"]: "dev_random" for r in dev})
    rand = [r for r in train if r["id"] not in taken][: SIZES["random"]]
    taken.update({r["id"]: "random" for r in rand})
    rng.shuffle(uncertain)
    queue = list(uncertain)
    # dev spread evenly through the random batches
    step = max(1, len(rand) // max(1, len(dev)))
    for i, r in enumerate(rand):
        queue.append(r)
        if i % step == 0 and dev:
            queue.append(dev.pop())
    queue.extend(dev)
    pos = {r["id"]: (r["report"], r["index"]) for r in rows}
    fields = ("id", "report", "section", "prev", "text", "next")
    out_dir = ROOT / "data" / "labels" / "batches"
    for b in range(0, len(queue), BATCH):
        chunk = sorted(queue[b : b + BATCH], key=lambda r: pos[r["id"]])
        with (out_dir / f"r5_{b // BATCH:03d}.jsonl").open("w", encoding="utf-8") as fh:
            for r in chunk:
                fh.write(json.dumps({k: r[k] for k in fields}, ensure_ascii=False) + "\n")
    with (ROOT / "data" / "labels" / "round5_pools.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "pool"])
        for r in queue:
            w.writerow([r["id"], taken[r["id"]]])
    print({k: sum(1 for v in taken.values() if v == k) for k in SIZES}, file=sys.stderr)
    print(f"{len(queue)} sentences in {(len(queue) + BATCH - 1) // BATCH} batches", file=sys.stderr)


if __name__ == "__main__":
    main()
