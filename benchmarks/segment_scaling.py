"""Ingest + segment time against input size, for realistic report text and for a mix of the
pathological lines of issue 13 (runs of digits, years, blanks, punctuation, headings followed by
thousands of blanks, a run with no space): linear means a flat time per MB.

Each input is written to a .txt file and read with read_document (text path: page split, cleaning)
and cut with segment; limits are raised to 60 MB so that the 50 MB inputs are measured, not refused.
Run: .venv/bin/python benchmarks/segment_scaling.py [--max-mb 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pipeline.config import default_params
from pipeline.ingest import _BOILERPLATE_START, read_document
from pipeline.segment import segment

SIZES = [("1 KB", 1 << 10), ("10 KB", 10 << 10), ("100 KB", 100 << 10), ("1 MB", 1 << 20), ("10 MB", 10 << 20),
         ("50 MB", 50 << 20)]
PATHOLOGICAL = [
    "1" * 40 + "a",
    " ".join(str(y) for y in range(2019, 2028)) + " total",
    "Inspection of children's services" + " 1" * 200,
    "Inspection of Barnet local authority children’s services (10 to 14 June" + " 2" * 200,
    "Overview" + " " * 2000 + "x",
    "Overall effectiveness:" + " " * 2000 + "1",
    "The experiences and progress of care leavers:" + " " * 2000 + "1",
    "Section 1: abc" + " " * 2000 + "x",
    "Barnet" + " " * 2000 + "Inspection of x",
    "10 to 14 June 2024 " * 50 + "x",
    "1 " * 1000 + "x",
    "(-,.)" * 200 + "x",
    "x" * 5000,
    "\n" * 2000,
    "word\n" * 500,
    "The council is good. Children are safe and well supported.",
]


def _realistic(n: int) -> str:
    """Corpus reports end to end, each without its closing Ofsted boilerplate (the first
    boilerplate line ends a document: all that follows it would be skipped, not measured)."""
    p = default_params()
    out, size = [], 0
    files = sorted(p.paths.corpus_text.glob("*.txt"))
    while size < n:
        for f in files:
            lines = f.read_text(encoding="utf-8").split("\n")
            end = next((i for i, ln in enumerate(lines) if _BOILERPLATE_START.match(ln.strip())), len(lines))
            t = "\n".join(lines[:end])
            out.append(t)
            size += len(t.encode("utf-8"))
            if size >= n:
                break
    return _cut("\n".join(out), n)


def _pathological(n: int) -> str:
    block = "\n".join(PATHOLOGICAL) + "\n"
    return _cut(block * (n // len(block.encode("utf-8")) + 1), n)


def _cut(text: str, n: int) -> str:
    data = text.encode("utf-8")[:n]
    return data.decode("utf-8", "ignore")


def _run(path: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    doc = read_document(path, max_mb=60, max_text_mb=60)
    units = segment(doc)
    return time.perf_counter() - t0, len(units)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-mb", type=float, default=50, help="largest input to time (default 50)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind, make in (("realistic report text", _realistic), ("pathological line mix", _pathological)):
            print(f"{kind}:")
            print(f"  {'size':>7}  {'time':>9}  {'s per MB':>9}  {'units':>9}")
            for label, n in SIZES:
                if n > args.max_mb * (1 << 20):
                    continue
                f = Path(tmp) / "input.txt"
                f.write_text(make(n), encoding="utf-8")
                reps = 5 if n <= 100 << 10 else 1
                best, units = min(_run(f) for _ in range(reps))
                print(f"  {label:>7}  {best:8.3f}s  {best / (n / (1 << 20)):8.3f}s  {units:9d}")
            print()


if __name__ == "__main__":
    main()
