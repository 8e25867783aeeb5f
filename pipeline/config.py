"""Configuration: ``params.yaml`` read once, validated, passed down.

Every path, threshold and hyperparameter the pipeline uses lives in
``params.yaml``; this module turns it into typed, frozen objects.  Relative
paths are resolved against the directory holding the params file, so the CLI
behaves the same from any working directory.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Paths(_Frozen):
    corpus_text: Path
    corpus_pdf: Path
    corpus_metadata: Path
    seeds: Path
    data: Path
    models: Path
    mlflow_db: Path
    mlflow_artifacts: Path
    sample_report: Path
    eval_sets: Path
    la_lookup: Path | None = None  # councils' codes, region, type and statistical neighbours (analyse --lookup)


class EvaluationParams(_Frozen):
    bootstrap_samples: int = Field(ge=10)
    bootstrap_seed: int
    learning_curve: list[float] = Field(min_length=1)

    @field_validator("learning_curve")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        if any(not 0 < f <= 1 for f in v):
            raise ValueError("learning_curve fractions must be in (0, 1]")
        return sorted(v)


class IngestParams(_Frozen):
    max_file_mb: float = Field(gt=0, allow_inf_nan=False)
    pdf_timeout_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)  # older name of serve.parse_timeout_s
    # limits on what a file inflates to (defaults as in params.yaml, for older params files)
    max_text_mb: float = Field(default=50, gt=0, allow_inf_nan=False)
    max_inflated_mb: float = Field(default=200, gt=0, allow_inf_nan=False)
    max_zip_ratio: float = Field(default=100, ge=1, allow_inf_nan=False)


class SegmentParams(_Frozen):
    max_sentence_chars: int = Field(gt=50)
    heading_max_words: int = Field(gt=2)


class SplitParams(_Frozen):
    seed: int
    dev_fraction: float = Field(gt=0, lt=0.5)
    test_fraction: float = Field(gt=0, lt=0.5)


class TfidfParams(_Frozen):
    ngram_max: int = Field(ge=1, le=3)
    min_df: int = Field(ge=1)
    max_df: float = Field(gt=0, le=1)
    sublinear_tf: bool
    max_features: int | None = None


class LogRegParams(_Frozen):
    C: float = Field(gt=0)
    class_weight: str | None = None
    max_iter: int = Field(ge=50)

    @field_validator("class_weight")
    @classmethod
    def _cw(cls, v: str | None) -> str | None:
        if v not in (None, "balanced"):
            raise ValueError("class_weight must be null or 'balanced'")
        return v


class ModelParams(_Frozen):
    tfidf: TfidfParams
    type_logreg: LogRegParams
    theme_logreg: LogRegParams
    use_section: bool
    augment_blank_section: bool
    blank_section_weight: float = Field(default=1.0, gt=0, le=10)
    scope_marks: bool
    position_marks: bool
    adverb_stems: bool
    no_longer_reverses: bool = False
    type_word_scale: float = Field(default=0.0, ge=0, le=2)
    theme_word_scale: float = Field(default=0.0, ge=0, le=2)
    theme_context_weight: float = Field(default=0.0, ge=0, le=5)
    shape_weight: float = Field(default=0.0, ge=0, le=5)
    use_written: bool
    written_weight: float = Field(gt=0, le=10)
    use_weak_labels: bool
    weak_label_weight: float = Field(ge=0, le=1)
    weak_min_confidence: float = Field(ge=0, le=1)
    calibration: str
    calibration_cv: int = Field(ge=2)

    @field_validator("calibration")
    @classmethod
    def _cal(cls, v: str) -> str:
        if v not in ("sigmoid", "isotonic", "none"):
            raise ValueError("calibration must be sigmoid, isotonic or none")
        return v

    theme_threshold_grid: list[float]
    theme_default_threshold: float = Field(gt=0, lt=1)
    max_themes: int = Field(ge=1, le=3)
    evidence_words: int = Field(ge=1)
    random_state: int
    n_jobs: int = Field(ge=1, le=64)


class TrackingParams(_Frozen):
    experiment: str
    registered_model: str
    alias: str


class ServeParams(_Frozen):
    host: str
    port: int = Field(ge=1, le=65535)
    max_sentences: int = Field(ge=1)
    max_upload_mb: float = Field(gt=0, allow_inf_nan=False)
    # the parse workers (defaults as in params.yaml, for older params files)
    parse_workers: int = Field(default=2, ge=1, le=64)
    parse_timeout_s: float = Field(default=30, gt=0, allow_inf_nan=False)
    parse_memory_mb: float = Field(default=2048, ge=256, allow_inf_nan=False)


class PlanParams(_Frozen):
    """The ``plan`` command (defaults as in params.yaml, for older params files)."""

    review_confidence: float = Field(default=0.6, gt=0, lt=1)
    many_weaknesses: int = Field(default=4, ge=1)
    evidence_per_action: int = Field(default=3, ge=1)
    strengths_per_action: int = Field(default=2, ge=0)
    min_similarity: float = Field(default=0.1, ge=0, lt=1)
    duplicate_similarity: float = Field(default=0.9, gt=0, le=1)


class TrackParams(_Frozen):
    """``track`` and analyse's recurring-weaknesses section (defaults as in params.yaml)."""

    similarity_threshold: float = Field(default=0.35, gt=0, le=1)
    types: list[str] = Field(default_factory=lambda: ["weakness", "recommendation"], min_length=1)
    min_confidence: float = Field(default=0.5, ge=0, lt=1)
    ngram_max: int = Field(default=1, ge=1, le=3)
    max_quotes: int = Field(default=3, ge=1)

    @field_validator("types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - {"weakness", "recommendation", "strength", "neutral"})
        if bad:
            raise ValueError(f"unknown type(s) {', '.join(bad)}")
        return v


class Params(_Frozen):
    paths: Paths
    ingest: IngestParams
    segment: SegmentParams
    split: SplitParams
    model: ModelParams
    evaluation: EvaluationParams
    tracking: TrackingParams
    serve: ServeParams
    plan: PlanParams = PlanParams()
    track: TrackParams = TrackParams()
    source: Path = Field(exclude=True)


def _resolve(base: Path, raw: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw.get("paths") or {}, dict):
        return raw  # validation names 'paths' as not a mapping
    paths = dict(raw.get("paths") or {})
    for key, value in paths.items():
        if value is None:
            continue
        p = Path(str(value)).expanduser()
        paths[key] = p if p.is_absolute() else (base / p).resolve()
    return {**raw, "paths": paths}


def load_params(path: Path | str | None = None) -> Params:
    """Read and validate a params file; raises UserError with the file named."""
    source = Path(path) if path else DEFAULT_PARAMS
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{source}: params file not found; pass --params with a valid params.yaml.")
    except IsADirectoryError:
        raise UserError(f"{source}: is a directory, not a params file; pass --params with a valid params.yaml.")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8 and retry.")
    except OSError as exc:
        raise UserError(f"{source}: cannot be read ({exc.strerror}); check the file.")
    except yaml.YAMLError as exc:
        raise UserError(f"{source}: not valid YAML ({exc.__class__.__name__}); fix the file and retry.")
    if not isinstance(raw, dict):
        raise UserError(f"{source}: expected a mapping of sections at the top level.")
    try:
        return Params(**_resolve(source.resolve().parent, raw), source=source.resolve())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UserError(f"{source}: invalid value at '{where}': {first['msg']}.")
    except (TypeError, ValueError) as exc:  # e.g. a section that is a list where a mapping is expected
        raise UserError(f"{source}: invalid structure ({exc}); compare it with the project's params.yaml.")


@lru_cache(maxsize=4)
def default_params() -> Params:
    return load_params(DEFAULT_PARAMS)


def tracking_uri(params: Params) -> str:
    """Where MLflow runs and the registry live: MLFLOW_TRACKING_URI, else the project's local SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{params.paths.mlflow_db}"
