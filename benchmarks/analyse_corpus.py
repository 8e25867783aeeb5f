"""Analyse the whole corpus (428 text reports) with the local engine: wall time and sentences/s.

Target (issue 6): under 60 s on this machine.  Needs a trained model.
Run: .venv/bin/python benchmarks/analyse_corpus.py [OUTPUT_DIR]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from pipeline.config import default_params


def main() -> None:
    p = default_params()
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="analyse-"))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pipeline", "analyse", str(p.paths.corpus_text), "--output", str(out),
                        "--metadata", str(p.paths.corpus_metadata)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(r.stderr)
    n = len(pd.read_parquet(out / "sentences.parquet", columns=["report"]))
    reports = len(pd.read_csv(out / "reports.csv"))
    print(r.stdout.strip())
    print(f"analyse, local engine: {reports} reports, {n} sentences in {wall:.1f} s wall "
          f"({n / wall:.0f} sentences/s; target < 60 s) -> {out}")


if __name__ == "__main__":
    main()
