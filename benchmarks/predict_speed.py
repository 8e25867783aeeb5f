"""Prediction speed on one core: pre-cut sentences per second, and PDF -> tagged JSONL per report.

Targets (issue 4): >= 20,000 sentences/s; the 108 corpus PDFs at < 150 ms per report.
Needs a trained model (models/champion).  Run: .venv/bin/python benchmarks/predict_speed.py
"""

from __future__ import annotations

import io
import json
import time

from threadpoolctl import threadpool_limits

from pipeline.config import default_params
from pipeline.data import load_sentences
from pipeline.ingest import read_document
from pipeline.model import neighbour_texts
from pipeline.predict import load_model, tag_document


def main() -> None:
    p = default_params()
    model = load_model(None, p)
    rows = load_sentences(p)
    texts = [r["text"] for r in rows[:60000]]
    with threadpool_limits(1):
        model.predict(texts[:2000])  # warm up
        for evidence in (False, True):
            t0 = time.perf_counter()
            for i in range(0, len(texts), 5000):
                model.predict(texts[i : i + 5000], evidence=evidence)
            dt = time.perf_counter() - t0
            label = "with evidence words" if evidence else "type + themes only"
            print(f"pre-cut sentences ({label}): {len(texts) / dt:9.0f} sentences/s  ({len(texts)} in {dt:.2f} s)")
        # as in a report: the theme tagger also reads each sentence's neighbours (two more TF-IDF rows each)
        contexts = neighbour_texts(texts, [r["kind"] for r in rows[:60000]])
        t0 = time.perf_counter()
        for i in range(0, len(texts), 5000):
            model.predict(texts[i : i + 5000], evidence=False, contexts=contexts[i : i + 5000])
        dt = time.perf_counter() - t0
        print(f"sentences with their neighbours (type + themes): {len(texts) / dt:9.0f} sentences/s  ({len(texts)} in {dt:.2f} s)")
        pdfs = sorted(p.paths.corpus_pdf.glob("*.pdf"))
        t0 = time.perf_counter()
        n = 0
        for f in pdfs:
            recs = tag_document(model, read_document(f), p)
            buf = io.StringIO()
            for r in recs:
                buf.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += len(recs)
        dt = time.perf_counter() - t0
    print(f"PDF -> tagged JSONL: {len(pdfs)} reports, {n} sentences, {1000 * dt / len(pdfs):.1f} ms/report "
          f"(target < 150), {n / dt:.0f} sentences/s")


if __name__ == "__main__":
    main()
