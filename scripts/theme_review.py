"""Review of disputed themes: more blind readings of train sentences whose themes are in doubt, and
a per-theme majority of three readings applied to hand.csv (through ``labels/adjudicated.csv``).

    .venv/bin/python scripts/theme_review.py deal-third OUTDIR          # sentences read twice whose themes differ
    .venv/bin/python scripts/theme_review.py deal-oof OUTDIR OOF.npz N   # N sentences an out-of-fold model disputes, twice
    .venv/bin/python scripts/theme_review.py apply                       # after readers wrote hand/threview*_*.csv
    .venv/bin/python scripts/theme_review.py score [MODEL]               # a model against dev's three readings

``deal-third`` takes the train sentences of the review of disputed types (first reading
``hand/batch_*.csv``, second ``hand/review_*.csv``) whose two readings give different theme sets and
that have no third reading, and deals them to 8 reader inputs ``OUTDIR/in_K.jsonl`` (id, report,
section, prev, text, next, as labelling batches are): the readers label type and themes blind, into
``hand/threview3_K.csv``.

``deal-oof`` ranks the train sentences read once by how strongly a council-grouped out-of-fold model
(``OOF.npz`` from ``scripts/cv_type.py --folds 4 --themes --save-oof OOF.npz``: ids, theme scores
``th`` and thresholds ``thr`` per sentence) disputes their themes (a
theme given that scores far under its threshold, or one left out that scores far over it) and deals
the top N (skipping sentences already dealt to OUTDIR or reviewed, so a second call adds N more)
twice, in chunks of 250 (most disputed first) shuffled differently, to ``OUTDIR/a_NN.jsonl``
and ``OUTDIR/b_NN.jsonl``: two independent blind readings by different readers, into
``hand/threview_a_NN.csv`` and ``hand/threview_b_NN.csv``.

``apply`` puts every sentence with three readings to a vote: a theme is kept when at least two of
the three readings give it (at most three, the most-voted first, ties in the first reading's order);
the type changes only when the two later readings agree against the first (as in the review of
disputed types). Decisions go to ``labels/adjudicated.csv`` (note ``theme review``), which
``ofsted-tagger data merge`` applies; agreement figures are printed. Writes are atomic.

``score`` reads the 1,000 random dev sentences read three times (``hand/devreread_*.csv`` beside
their first reading) and prints a model's theme micro-F1 and type macro-F1 against their first
reading (dev as it is) and against the majority of the three, with sections and without; MODEL
is anything ``--model`` takes (default: the exported champion).
"""
from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.data import THEME_REVIEW_NOTE, majority_of_three, read_decision_files, theme_review_readings  # noqa: E402
from pipeline.errors import atomic_write  # noqa: E402
from pipeline.label import parse_themes  # noqa: E402
from pipeline.schema import THEMES  # noqa: E402

LABELS = ROOT / "data" / "labels"
HAND = LABELS / "hand"
READERS = 8
CONTEXT_FIELDS = ("id", "report", "section", "prev", "text", "next")


def contexts() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for f in sorted((LABELS / "batches").glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            r = json.loads(line)
            out.setdefault(r["id"], r)
    return out


def write_reader_input(path: Path, ids: list[str], ctx: dict[str, dict]) -> None:
    """One reader's input: each sentence with its section and neighbours, as labelling batches are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        for i in ids:
            fh.write(json.dumps({f: ctx[i][f] for f in CONTEXT_FIELDS}) + "\n")


def write_inputs(out: Path, prefix: str, ids: list[str], seed: int) -> None:
    ctx = contexts()
    ids = list(ids)
    random.Random(seed).shuffle(ids)
    for k in range(READERS):
        write_reader_input(out / f"{prefix}{k}.jsonl", ids[k::READERS], ctx)
    print(f"{len(ids)} sentences dealt to {out}/{prefix}0..{READERS - 1}.jsonl")


def current() -> dict[str, dict]:
    return {r["id"]: r for r in csv.DictReader((LABELS / "hand.csv").open(encoding="utf-8", newline=""))}


def deal_third(out: Path) -> None:
    first = read_decision_files(HAND, "batch_*.csv")
    second = read_decision_files(HAND, "review_*.csv")
    third = read_decision_files(HAND, "review3_*.csv")
    double = read_decision_files(HAND, "double*.csv")
    ids = sorted(i for i in second if i in first and i not in third and i not in double
                 and set(parse_themes(first[i][1])) != set(parse_themes(second[i][1])))
    write_inputs(out, "in_", ids, seed=7)


def deal_oof(out: Path, oof: Path, n: int, chunk: int = 250) -> None:
    z = np.load(oof)
    hand = current()
    read = set(read_decision_files(HAND, "review_*.csv")) | set(read_decision_files(HAND, "double*.csv"))
    read |= set(read_decision_files(HAND, "threview_a_*.csv"))
    dealt = sorted(out.glob("a_*.jsonl"))  # a second call adds N more chunks after those already dealt
    for f in dealt:
        read |= {json.loads(line)["id"] for line in f.open(encoding="utf-8")}
    first_chunk = 1 + max((int(f.stem[2:]) for f in dealt), default=-1)
    scored = []
    for sid, th, thr in zip(z["ids"], z["th"], z["thr"]):
        sid = str(sid)
        if sid in read or sid not in hand:
            continue
        given = set(parse_themes(hand[sid]["themes"]))
        # log-odds past the theme's threshold; a dispute is a theme given under it or left out over it
        logit = np.log(np.clip(th, 1e-6, 1 - 1e-6) / np.clip(1 - th, 1e-6, 1)) - np.log(thr / (1 - thr))
        worst = max((abs(logit[j]) for j, t in enumerate(THEMES) if (t in given) != (logit[j] > 0)), default=0.0)
        if worst > 0:
            scored.append((-worst, sid))
    scored.sort()
    ids = [i for _, i in scored[:n]]
    print(f"{len(scored)} sentences read once are disputed; the top {len(ids)} (distance >= {-scored[len(ids) - 1][0]:.2f}) "
          f"in chunks of {chunk}, most disputed first")
    ctx = contexts()
    for c in range(0, len(ids), chunk):
        for reading, seed in (("a", 11), ("b", 13)):
            part = ids[c:c + chunk]
            random.Random(seed + c).shuffle(part)
            write_reader_input(out / f"{reading}_{first_chunk + c // chunk:02d}.jsonl", part, ctx)
    print(f"written {out}/a_NN.jsonl and b_NN.jsonl: two blind readings of each chunk, by different readers")


def apply() -> None:
    readings = theme_review_readings(LABELS)
    hand = current()
    decisions = {i: majority_of_three(rs) for i, rs in readings.items()}
    for name, pattern in (("third readings", "threview3_*.csv"), ("out-of-fold disputes", "threview_a_*.csv")):
        ids = [i for i in read_decision_files(HAND, pattern) if i in readings]
        if ids:
            same = sum(set(parse_themes(readings[i][0][1])) == set(parse_themes(readings[i][-1][1])) for i in ids)
            typ = sum(readings[i][0][0] == readings[i][-1][0] for i in ids)
            print(f"{name}: {len(ids)} sentences; the last reading gives the first reading's theme set on "
                  f"{same / len(ids):.1%}, its type on {typ / len(ids):.1%}")
    changed_themes = sum(set(th) != set(parse_themes(hand[i]["themes"])) for i, (_, th) in decisions.items())
    changed_type = sum(typ != hand[i]["type"] for i, (typ, _) in decisions.items())
    print(f"{len(decisions)} sentences with three readings; against hand.csv the vote changes themes on "
          f"{changed_themes}, the type on {changed_type}")
    path = LABELS / "adjudicated.csv"
    rows = [r for r in csv.DictReader(path.open(encoding="utf-8", newline=""))
            if not (r["note"] or "").startswith("theme review")]
    have = {r["id"]: r for r in rows}
    for i, (typ, th) in sorted(decisions.items()):
        first_type, first_themes = readings[i][0]
        if i in have:  # a decision of the type review (same type rule): the vote's themes replace its themes
            have[i]["themes"] = ";".join(th)
        elif typ != first_type or set(th) != set(parse_themes(first_themes)):
            rows.append({"id": i, "type": typ, "themes": ";".join(th), "note": THEME_REVIEW_NOTE})
    with atomic_write(path) as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "type", "themes", "note"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"{path}: {len(rows)} rows; `ofsted-tagger data merge` applies them")


def score(uri: str | None) -> None:
    from sklearn.metrics import f1_score

    from pipeline.config import default_params
    from pipeline.predict import load_model
    from pipeline.train import load_dataset

    params = default_params()
    ds = load_dataset(params)
    dev = {r.id: r for r in ds.dev}
    a = read_decision_files(HAND, "devreread_a_*.csv")
    b = read_decision_files(HAND, "devreread_b_*.csv")
    ids = sorted(i for i in a if i in b and i in dev)
    first = {i: (dev[i].type, ";".join(dev[i].themes)) for i in ids}
    gold = {"first reading": {i: (typ, parse_themes(th)) for i, (typ, th) in first.items()},
            "majority of three": {i: majority_of_three([first[i], a[i], b[i]]) for i in ids}}
    model = load_model(uri, params)

    def matrix(themes: list) -> list[list[bool]]:
        return [[t in th for t in THEMES] for th in themes]

    in_context = ([dev[i].section for i in ids], [ds.contexts.get(i) for i in ids] if ds.contexts else None)
    for name, (sections, contexts) in (("in context", in_context), ("alone", (None, None))):
        pred = model.predict([dev[i].text for i in ids], sections, evidence=False, contexts=contexts)
        for g, labels in gold.items():
            themes = f1_score(matrix([labels[i][1] for i in ids]), matrix(pred.themes), average="micro")
            types = f1_score([labels[i][0] for i in ids], pred.types, average="macro")
            print(f"{len(ids)} dev sentences {name}, against the {g}: theme micro-F1 {themes:.4f}, type macro-F1 {types:.4f}")


def main() -> None:
    cmd, *rest = sys.argv[1:] or ["help"]
    if cmd == "deal-third" and len(rest) == 1:
        deal_third(Path(rest[0]))
    elif cmd == "deal-oof" and len(rest) == 3:
        deal_oof(Path(rest[0]), Path(rest[1]), int(rest[2]))
    elif cmd == "apply" and not rest:
        apply()
    elif cmd == "score" and len(rest) <= 1:
        score(rest[0] if rest else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
