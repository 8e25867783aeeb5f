"""Shared fixtures: the real corpus and seeds, the project's params."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Params, default_params

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def params() -> Params:
    return default_params()


@pytest.fixture(scope="session")
def corpus_pdfs(params: Params) -> list[Path]:
    pdfs = sorted(params.paths.corpus_pdf.glob("*.pdf"))
    assert len(pdfs) == 108, f"expected the 108 corpus PDFs under {params.paths.corpus_pdf}"
    return pdfs


@pytest.fixture(scope="session")
def seeds(params: Params) -> list[Path]:
    files = sorted(params.paths.seeds.glob("*.txt"))
    assert len(files) == 5
    return files


def write_params(tmp: Path, serve: dict | None = None, ingest: dict | None = None, **paths: Path) -> Path:
    """A copy of params.yaml with absolute paths, some pointed into ``tmp``, and serve overrides."""
    import yaml

    base = default_params()
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw["paths"] = {k: str(getattr(base.paths, k)) for k in raw["paths"]}
    raw["paths"].update({k: str(v) for k, v in paths.items()})
    raw["serve"].update(serve or {})
    raw["ingest"].update(ingest or {})
    out = tmp / "params.yaml"
    out.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    """Train once for the session into a private MLflow store and models/ directory."""
    import os

    from pipeline.config import load_params
    from pipeline.tracking import run_training

    tmp = tmp_path_factory.mktemp("trained")
    pfile = write_params(tmp, models=tmp / "models", mlflow_db=tmp / "mlflow.db", mlflow_artifacts=tmp / "mlruns")
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        p = load_params(pfile)
        result = run_training(p, register=True, log=lambda *_: None)
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    return {"params_file": pfile, "params": p, "result": result, "model_dir": tmp / "models" / "champion"}


@pytest.fixture(scope="session")
def model(trained):
    from pipeline.predict import load_model

    return load_model(str(trained["model_dir"]), trained["params"])
