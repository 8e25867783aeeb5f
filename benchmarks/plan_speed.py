"""Plan speed: seconds per report from a corpus PDF to its improvement plan, in every format.

Target (issue 12): under one second a report. Each report is read, segmented, tagged,
planned and rendered as docx, xlsx, html and md (the model is loaded once, as by
``ofsted-tagger plan`` over many reports).  Needs a trained model (models/champion).
Run: .venv/bin/python benchmarks/plan_speed.py [N]   (N corpus PDFs, default all 108)
"""

from __future__ import annotations

import statistics
import sys
import time

from threadpoolctl import threadpool_limits

from pipeline.config import default_params
from pipeline.ingest import read_document
from pipeline.plan import plan_document, render_plans
from pipeline.predict import load_model


def main() -> None:
    p = default_params()
    model = load_model(None, p)
    pdfs = sorted(p.paths.corpus_pdf.glob("*.pdf"))
    if len(sys.argv) > 1:
        pdfs = pdfs[: int(sys.argv[1])]
    with threadpool_limits(1):
        plan_document(model, read_document(pdfs[0]), p)  # warm up (imports)
        times, build, actions = [], [], 0
        for f in pdfs:
            t0 = time.perf_counter()
            plan = plan_document(model, read_document(f), p)
            t1 = time.perf_counter()
            for fmt in ("docx", "xlsx", "html", "md"):
                render_plans([plan], fmt)
            times.append(time.perf_counter() - t0)
            build.append(t1 - t0)
            actions += len(plan.actions)
    q = statistics.quantiles(times, n=20)
    print(f"{len(pdfs)} corpus PDFs, {actions} actions; seconds per report, one core:")
    print(f"  PDF -> plan (read, segment, tag, plan):  mean {statistics.mean(build):.3f}  max {max(build):.3f}")
    print(f"  PDF -> plan in all four formats:         mean {statistics.mean(times):.3f}  median "
          f"{statistics.median(times):.3f}  p95 {q[-1]:.3f}  max {max(times):.3f}")
    print(f"  target < 1 s a report: {'met' if max(times) < 1 else 'NOT met'} (slowest {pdfs[times.index(max(times))].stem})")


if __name__ == "__main__":
    main()
