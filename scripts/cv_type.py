"""Council-grouped cross-validation of the type classifier over the train councils' hand labels,
for data and parameter decisions that dev (4,552 sentences) is too small to settle.

    .venv/bin/python scripts/cv_type.py                                   # params.yaml as it is
    .venv/bin/python scripts/cv_type.py --set blank_section_weight=1.0    # a model parameter changed
    .venv/bin/python scripts/cv_type.py --drop-written news5_             # without some written files
    .venv/bin/python scripts/cv_type.py --themes                          # themes too (full fits)
    .venv/bin/python scripts/cv_type.py --folds 4 --themes --save-oof F.npz  # and keep the out-of-fold theme scores

Each fold holds out a third of the train councils (never dev or test): the type classifier is
fitted by `ofsted-tagger train`'s own `fit_model` (``skip_themes``: the same vectoriser, word
weighting, no-section copies and their weight, written sentences; themes are not fitted) on the
other two thirds plus every written sentence, and scored on the held-out councils' hand labels with their sections (in
context) and without (alone, as `predict --sentences`). Prints macro-F1 per fold and the mean.
About 80 seconds a fold (4 minutes in all) on two cores. Deterministic.

With ``--themes`` each fold is a full fit as training makes it (theme thresholds tuned on dev, as
`ofsted-tagger train` tunes them) and the theme micro-F1 of the held-out councils is printed too:
an estimate, over 94 councils, of the figures on councils the model never saw (about 150 seconds
a fold).

``--save-oof F.npz`` (with ``--themes``) keeps each train sentence's out-of-fold theme scores in
context (``ids``, ``th``, and the fold's thresholds ``thr``): the input of
``scripts/theme_review.py deal-oof`` (the review of disputed themes used 4 folds).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import default_params  # noqa: E402
from pipeline.data import council_of, read_metadata  # noqa: E402
from pipeline.model import _features_input  # noqa: E402
from pipeline.schema import THEMES, theme_matrix  # noqa: E402
from pipeline.train import fit_model, load_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="a model: parameter of params.yaml, value as JSON (repeatable)")
    ap.add_argument("--drop-written", action="append", default=[], metavar="PREFIX",
                    help="leave out written files whose name starts with PREFIX (repeatable)")
    ap.add_argument("--themes", action="store_true",
                    help="full fits (theme thresholds tuned on dev) and theme micro-F1 too")
    ap.add_argument("--save-oof", type=Path, metavar="F.npz",
                    help="with --themes: save every train sentence's out-of-fold theme scores and thresholds")
    args = ap.parse_args()
    if args.save_oof and not args.themes:
        ap.error("--save-oof needs --themes")
    params = default_params()
    mp = params.model
    for kv in args.set:
        key, _, raw = kv.partition("=")
        mp = mp.model_copy(update={key: json.loads(raw)})
    mp = type(mp).model_validate(mp.model_dump())  # the changed values are validated as params.yaml's are
    ds = load_dataset(params)
    meta = read_metadata(params.paths.corpus_metadata)
    written = [r for r in ds.written if not any(r.source.startswith("written_" + p) for p in args.drop_written)]
    train = ds.train
    groups = [council_of(r.report, meta) for r in train]
    scores = []
    oof_th = np.zeros((len(train), len(THEMES)))
    oof_thr = np.zeros((len(train), len(THEMES)))
    for k, (fit_idx, held_idx) in enumerate(GroupKFold(args.folds).split(train, groups=groups)):
        t0 = time.time()
        model = fit_model([train[i] for i in fit_idx], ds.dev if args.themes else [], mp, written=written,
                          skip_themes=not args.themes, contexts=ds.contexts)
        vec, clf = model.vectorizer_, model.type_clf_
        held = [train[i] for i in held_idx]
        texts, gold = [r.text for r in held], [r.type for r in held]
        gold_themes = theme_matrix([r.themes for r in held]) if args.themes else None
        types, themes = [], []
        for sections in ([r.section for r in held], None):  # in context (section, neighbours), then alone
            types.append(f1_score(gold, clf.predict(vec.transform(_features_input(texts, sections))), average="macro"))
            if args.themes:
                ctx = [ds.contexts.get(r.id) for r in held] if sections is not None and ds.contexts else None
                pred = model.predict(texts, sections, evidence=False, contexts=ctx)
                themes.append(f1_score(gold_themes, theme_matrix(pred.themes), average="micro"))
                if args.save_oof and sections is not None:  # the in-context scores are the ones kept
                    oof_th[held_idx], oof_thr[held_idx] = pred.theme_scores, model.thresholds_
        row = types + themes
        scores.append(row)
        theme_note = f"; themes in context {row[2]:.4f}, alone {row[3]:.4f}" if args.themes else ""
        print(f"fold {k}: {len(held)} sentences of {len(set(groups[i] for i in held_idx))} councils, "
              f"in context {row[0]:.4f}, alone {row[1]:.4f}{theme_note} ({time.time() - t0:.0f} s)", flush=True)
    s = np.array(scores).mean(axis=0)
    theme_note = f"; themes in context {s[2]:.4f}, alone {s[3]:.4f}" if args.themes else ""
    print(f"mean: in context {s[0]:.4f}, alone {s[1]:.4f}{theme_note}")
    if args.save_oof:
        np.savez(args.save_oof, ids=np.array([r.id for r in train]), th=oof_th, thr=oof_thr)
        print(f"out-of-fold theme scores of {len(train)} train sentences in {args.save_oof}")


if __name__ == "__main__":
    main()
