"""Time ingest + segment of the 108 corpus PDFs against plain pypdf extraction of the same files.

Target (issue 2): ours at most 0.15x pypdf's time.  Run: .venv/bin/python benchmarks/ingest_segment.py
"""

from __future__ import annotations

import time

from pipeline.config import default_params
from pipeline.ingest import read_document
from pipeline.segment import segment


def main() -> None:
    from pypdf import PdfReader

    p = default_params()
    pdfs = sorted(p.paths.corpus_pdf.glob("*.pdf"))
    t0 = time.perf_counter()
    n_sent = 0
    for f in pdfs:
        n_sent += len(segment(read_document(f)))
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    chars = 0
    for f in pdfs:
        chars += sum(len(page.extract_text() or "") for page in PdfReader(str(f)).pages)
    base = time.perf_counter() - t0
    print(f"files: {len(pdfs)} PDFs")
    print(f"ours  (pypdfium2 + clean + segment): {ours:7.2f} s  {1000 * ours / len(pdfs):6.1f} ms/report  {n_sent} sentences")
    print(f"pypdf (text extraction only):        {base:7.2f} s  {1000 * base / len(pdfs):6.1f} ms/report")
    print(f"ratio ours/pypdf: {ours / base:.3f}  (target <= 0.15)")


if __name__ == "__main__":
    main()
