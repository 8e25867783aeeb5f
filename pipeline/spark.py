"""Spark engine for ``analyse --engine spark``: the same tagging, scaled out.

Files are read and segmented on the executors (they must see the same paths,
e.g. a shared file system), sentences are scored by a pandas UDF that loads the
model once per Python worker — the exported champion or any MLflow URI such as
``models:/ofsted-tagger@champion`` — and the records are collected in the same
shape, order and values as the local engine's.  pyspark is an optional extra
(``pip install -e '.[spark]'``); ``--spark-master`` takes any cluster URL.
The rows' schema is generated from :data:`pipeline.schema.SENTENCE_COLUMNS`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable

from pipeline.config import Params, load_params
from pipeline.errors import InputError, UserError
from pipeline.ingest import ingest_limits, read_document
from pipeline.inputs import expand_paths, unique_inputs
from pipeline.model import neighbour_texts
from pipeline.predict import load_model, score_fields
from pipeline.schema import SENTENCE_COLUMNS, SENTENCE_FIELDS
from pipeline.segment import segment

_MODEL_CACHE: dict[tuple[str, str], Any] = {}
# each segmentation row: the sentence's fields, its neighbours' texts (the theme tagger's context),
# then its report's title and an error ('' if none)
ROW_FIELDS = (*SENTENCE_FIELDS, "prev", "next", "title", "error")


def _error_row(message: str) -> tuple:
    blank = {str: "", int: 0, str | None: None, int | None: None}
    return tuple(blank[c.type] for c in SENTENCE_COLUMNS) + ("", "", "", message)


def _segment_file(path: str, params_file: str) -> list[tuple]:
    """Executor side: one file -> sentence rows (or one error row)."""
    p = load_params(params_file)
    try:
        doc = read_document(path, p.ingest.max_file_mb, **ingest_limits(p.ingest))
    except InputError as exc:
        return [_error_row(str(exc))]
    except Exception as exc:  # a library failing on a malformed file
        return [_error_row(f"{path}: could not be read ({exc.__class__.__name__}); check the file.")]
    sents = segment(doc, p.segment.max_sentence_chars, p.segment.heading_max_words)
    contexts = neighbour_texts([s.text for s in sents], [s.kind for s in sents])
    return [(*(getattr(s, f) for f in SENTENCE_FIELDS), *ctx, doc.title, "") for s, ctx in zip(sents, contexts)]


def _model(params_file: str, model_uri: str):
    key = (params_file, model_uri)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = load_model(model_uri or None, load_params(params_file))
    return _MODEL_CACHE[key]


def _scores_json(model, texts: list[str], sections: list[str], kinds: list[str],
                 contexts: list[tuple[str, str]]) -> list[str]:
    """Model output for a batch, as JSON strings (the UDF's return column)."""
    pred = model.predict(texts, sections, kinds=kinds, contexts=contexts)
    return [json.dumps(score_fields(pred, i)) for i in range(len(texts))]


def _value(column_type: Any, v: Any) -> Any:
    """A value from pandas back to the record's Python type."""
    if column_type is int:
        return int(v)
    if column_type == str | None:
        return v if isinstance(v, str) else None
    if column_type == int | None:  # a column with nulls comes back from Spark as floats with NaN
        return None if v is None or v != v else int(v)
    return v


def tag_with_spark(paths: Iterable[str], params: Params, model_uri: str | None, master: str,
                   errors: list[str]) -> tuple[list[dict], dict[str, str]]:
    """Tag report files on Spark; returns the records (as the local engine's) and each report's title."""
    try:  # lazy: pyspark is an optional extra
        import pandas as pd
        from pyspark.sql import SparkSession
        from pyspark.sql.functions import pandas_udf
        from pyspark.sql.types import IntegerType, StringType, StructField, StructType
    except ImportError:
        raise UserError("--engine spark needs pyspark: pip install -e '.[spark]' (and Java 17+), or use --engine local.")
    files = [str(Path(f).resolve()) for f in unique_inputs(expand_paths(paths, errors, stdin=False), errors)]
    if not files:
        return [], {}
    params_file = str(params.source)
    uri = model_uri or ""
    _model(params_file, uri)  # fail early, on the driver, with one clear message
    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this same environment
    try:
        spark = (SparkSession.builder.master(master).appName("ofsted-tagger")
                 .config("spark.ui.enabled", "false").config("spark.sql.execution.arrow.pyspark.enabled", "true")
                 .getOrCreate())
    except Exception as exc:
        raise UserError(f"cannot start Spark at {master} ({exc.__class__.__name__}); check Java 17+ and --spark-master.")
    try:
        spark_type = {str: StringType(), int: IntegerType(), str | None: StringType(), int | None: IntegerType()}
        schema = StructType([StructField(c.name, spark_type[c.type]) for c in SENTENCE_COLUMNS]
                            + [StructField(f, StringType()) for f in ("prev", "next", "title", "error")])
        rdd = spark.sparkContext.parallelize(files, max(1, min(len(files), 64))).flatMap(
            lambda f: _segment_file(f, params_file))
        df = spark.createDataFrame(rdd, schema)

        def _score(text, section, kind, prev, nxt):
            model = _model(params_file, uri)
            return pd.Series(_scores_json(model, text.tolist(), section.tolist(), kind.tolist(),
                                          list(zip(prev.tolist(), nxt.tolist()))))

        # real classes, not the postponed string annotations of this module, for Spark's inference
        _score.__annotations__ = {"text": pd.Series, "section": pd.Series, "kind": pd.Series, "prev": pd.Series,
                                  "nxt": pd.Series, "return": pd.Series}
        score = pandas_udf(_score, StringType())

        sents = df.filter(df.error == "")
        try:
            scored = sents.withColumn("scores", score(sents.text, sents.section, sents.kind, sents.prev, sents.next)).toPandas()
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
    for row in scored.to_dict("records"):
        titles[row["report"]] = row["title"]
        records.append({**{c.name: _value(c.type, row[c.name]) for c in SENTENCE_COLUMNS}, **json.loads(row["scores"])})
    # same report order as the local engine: input file order
    rank = {Path(f).stem: i for i, f in enumerate(files)}
    records.sort(key=lambda r: (rank.get(r["report"], len(rank)), r["index"]))
    return records, titles
