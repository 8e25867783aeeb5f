"""Spark engine for ``analyse --engine spark``: the same tagging, scaled out.

Files are read and segmented on the executors (they must see the same paths,
e.g. a shared file system), sentences are scored by a pandas UDF that loads the
model once per Python worker — the exported champion or any MLflow URI such as
``models:/ofsted-tagger@champion`` — and the records are collected in the same
shape, order and values as the local engine's.  pyspark is an optional extra
(``pip install -e '.[spark]'``); ``--spark-master`` takes any cluster URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from pipeline.config import Params, load_params
from pipeline.errors import UserError

_MODEL_CACHE: dict[tuple[str, str], Any] = {}


def _segment_file(path: str, params_file: str) -> list[tuple]:
    """Executor side: one file -> sentence rows (or one error row)."""
    from pipeline.errors import InputError
    from pipeline.ingest import read_document
    from pipeline.segment import segment

    p = load_params(params_file)
    try:
        doc = read_document(path, p.ingest.max_file_mb)
    except InputError as exc:
        return [("", -1, 0, 0, "", None, "", "", "", str(exc))]
    except Exception as exc:  # a library failing on a malformed file
        return [("", -1, 0, 0, "", None, "", "", "", f"{path}: could not be read ({exc.__class__.__name__}); check the file.")]
    sents = segment(doc, p.segment.max_sentence_chars, p.segment.heading_max_words)
    return [(s.report, s.index, s.start, s.end, s.section, s.grade, s.kind, s.text, doc.title, "") for s in sents]


def _model(params_file: str, model_uri: str):
    key = (params_file, model_uri)
    if key not in _MODEL_CACHE:
        from pipeline.predict import load_model

        _MODEL_CACHE[key] = load_model(model_uri or None, load_params(params_file))
    return _MODEL_CACHE[key]


def _scores_json(model, texts: list[str], sections: list[str]) -> list[str]:
    """Model output for a batch, as JSON strings (the UDF's return column)."""
    from pipeline.predict import score_fields

    pred = model.predict(texts, sections)
    return [json.dumps(score_fields(pred, i)) for i in range(len(texts))]


def tag_with_spark(paths: Iterable[str], params: Params, model_uri: str | None, master: str,
                   errors: list[str]) -> tuple[list[dict], dict]:
    """Tag report files on Spark; returns (records, text-derived metadata) like the local engine."""
    try:
        import pandas as pd
        from pyspark.sql import SparkSession
        from pyspark.sql.functions import pandas_udf
        from pyspark.sql.types import IntegerType, StringType, StructField, StructType
    except ImportError:
        raise UserError("--engine spark needs pyspark: pip install -e '.[spark]' (and Java 17+), or use --engine local.")
    from pipeline.analyse import report_metadata_from_text
    from pipeline.ingest import iter_input_files
    from pipeline.predict import group_by_report

    files: list[str] = []
    for raw in paths:
        if not Path(raw).exists():
            errors.append(f"{raw}: no such file or directory; check the path.")
        else:
            files.extend(str(Path(f).resolve()) for f in iter_input_files([raw]))
    if not files:
        return [], {}
    params_file = str(params.source)
    uri = model_uri or ""
    _model(params_file, uri)  # fail early, on the driver, with one clear message
    import os
    import sys

    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this same environment
    try:
        spark = (SparkSession.builder.master(master).appName("ofsted-tagger")
                 .config("spark.ui.enabled", "false").config("spark.sql.execution.arrow.pyspark.enabled", "true")
                 .getOrCreate())
    except Exception as exc:
        raise UserError(f"cannot start Spark at {master} ({exc.__class__.__name__}); check Java 17+ and --spark-master.")
    try:
        schema = StructType([
            StructField("report", StringType()), StructField("index", IntegerType()), StructField("start", IntegerType()),
            StructField("end", IntegerType()), StructField("section", StringType()), StructField("grade", StringType()),
            StructField("kind", StringType()), StructField("text", StringType()), StructField("title", StringType()),
            StructField("error", StringType()),
        ])
        rdd = spark.sparkContext.parallelize(files, max(1, min(len(files), 64))).flatMap(
            lambda f: _segment_file(f, params_file))
        df = spark.createDataFrame(rdd, schema)

        def _score(text, section):
            model = _model(params_file, uri)
            return pd.Series(_scores_json(model, text.tolist(), section.tolist()))

        # real classes, not the postponed string annotations of this module, for Spark's inference
        _score.__annotations__ = {"text": pd.Series, "section": pd.Series, "return": pd.Series}
        score = pandas_udf(_score, StringType())

        sents = df.filter(df.error == "")
        try:
            scored = sents.withColumn("scores", score(sents.text, sents.section)).toPandas()
            bad = df.filter(df.error != "").select("error").toPandas()["error"]
        except Exception as exc:
            lines = [ln for ln in str(exc).splitlines() if "Error" in ln or "error" in ln]
            raise UserError(f"the Spark job failed ({(lines or [exc.__class__.__name__])[-1].strip()[:200]}); "
                            "check that executors have this project's Python environment.")
        errors.extend(bad)
    finally:
        spark.stop()
    scored = scored.sort_values(["report", "index"], kind="stable")
    records: list[dict] = []
    titles: dict[str, str] = {}
    for row in scored.itertuples(index=False):
        s = json.loads(row.scores)
        titles[row.report] = row.title
        records.append({"report": row.report, "index": int(row.index), "start": int(row.start), "end": int(row.end),
                        "section": row.section, "grade": row.grade if isinstance(row.grade, str) else None,
                        "kind": row.kind, "text": row.text, **s})
    # same report order as the local engine: input file order
    rank = {Path(f).stem: i for i, f in enumerate(files)}
    records.sort(key=lambda r: (rank.get(r["report"], len(rank)), r["index"]))
    metas = {rep: report_metadata_from_text(rep, titles.get(rep, ""), recs)
             for rep, recs in group_by_report(records).items()}
    return records, metas
