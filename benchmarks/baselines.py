"""Our model against simple baselines on the test split (type macro-F1 and per-class F1).

Baselines: majority class; cue-phrase rules (the weak-label vote, abstain -> majority);
a lexicon sentiment score (TextBlob polarity thresholds chosen on dev).
Needs a trained model.  Run: .venv/bin/python benchmarks/baselines.py
"""

from __future__ import annotations

import collections

from pipeline.config import default_params
from pipeline.data import weak_label_stats
from pipeline.evaluate import type_metrics
from pipeline.label import TYPES, Unit, lf_weights, weak_label
from pipeline.predict import load_model
from pipeline.segment import parse_grade
from pipeline.train import load_dataset


def main() -> None:
    from textblob import TextBlob

    p = default_params()
    ds = load_dataset(p)
    gold = [r.type for r in ds.test]
    majority = collections.Counter(r.type for r in ds.train).most_common(1)[0][0]
    results = {"majority class": [majority] * len(gold)}
    weights = lf_weights(weak_label_stats(p, ("train",)))
    results["cue-phrase rules"] = [
        weak_label(Unit(r.text, r.section, parse_grade(r.section)), weights)[0] or majority for r in ds.test
    ]

    def polarity(rows):
        return [TextBlob(r.text).sentiment.polarity for r in rows]

    dev_pol, test_pol = polarity(ds.dev), polarity(ds.test)
    best = max(((lo, hi) for lo in (-0.2, -0.1, -0.05, 0.0) for hi in (0.0, 0.05, 0.1, 0.2, 0.3)),
               key=lambda th: type_metrics([r.type for r in ds.dev],
                                           ["weakness" if x < th[0] else "strength" if x > th[1] else "neutral" for x in dev_pol])["type_macro_f1"])
    results[f"lexicon sentiment (TextBlob, {best})"] = [
        "weakness" if x < best[0] else "strength" if x > best[1] else "neutral" for x in test_pol
    ]
    model = load_model(None, p)
    results["ofsted-tagger (TF-IDF + LR)"] = model.predict([r.text for r in ds.test], [r.section for r in ds.test],
                                                         evidence=False).types
    print(f"test split: {len(gold)} sentences from {len({r.report for r in ds.test})} reports of councils unseen in training")
    print(f"{'method':44s} {'macro-F1':>8s} " + " ".join(f"{t[:10]:>10s}" for t in TYPES))
    for name, pred in results.items():
        m = type_metrics(gold, pred)
        print(f"{name:44s} {m['type_macro_f1']:8.3f} " + " ".join(f"{m[f'type_{t}_f1']:10.3f}" for t in TYPES))


if __name__ == "__main__":
    main()
