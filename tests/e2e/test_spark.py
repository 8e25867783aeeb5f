"""analyse --engine spark on local[2] with the registered MLflow model: equal to the local engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # real processes, servers, a browser or Spark, and a corpus model

ROOT = Path(__file__).resolve().parents[2]


def test_spark_engine_equals_local(trained, params, tmp_path):
    pytest.importorskip("pyspark")
    if not shutil.which("java"):
        pytest.skip("no Java on this machine: the Spark engine needs Java 17+")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for rid in ("bury_2021-12-17", "barnet_2024-07-23", "barnsley_2014-08-08"):
        shutil.copy(params.paths.corpus_text / f"{rid}.txt", inputs)
    shutil.copy(params.paths.corpus_pdf / "bromley_2019-01-07.pdf", inputs)
    pf = str(trained["params_file"])

    def analyse(*extra: str) -> Path:
        out = tmp_path / ("spark" if extra else "local")
        r = subprocess.run([sys.executable, "-m", "pipeline", "--params", pf, "analyse", str(inputs), "-o", str(out), *extra],
                           cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        return out

    local = analyse()
    spark = analyse("--engine", "spark", "--spark-master", "local[2]", "--model", "models:/ofsted-tagger@champion")
    a, b = pd.read_parquet(local / "sentences.parquet"), pd.read_parquet(spark / "sentences.parquet")
    assert len(a) > 500
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pd.read_csv(local / "reports.csv"), pd.read_csv(spark / "reports.csv"))
