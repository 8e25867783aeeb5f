"""pipeline.config: params.yaml read once, validated, with one clear message per problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import DEFAULT_PARAMS, load_params, tracking_uri
from pipeline.errors import UserError


def _write(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    change(raw)
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return f


def test_the_project_params_load_and_paths_resolve_against_the_file(tmp_path):
    p = load_params(DEFAULT_PARAMS)
    assert p.source == DEFAULT_PARAMS.resolve() and p.paths.data == DEFAULT_PARAMS.parent / "data"
    f = _write(tmp_path, lambda raw: None)
    assert load_params(f).paths.models == tmp_path / "models"


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw["model"].update(calibration="platt"), "invalid value at 'model.calibration'"),
    (lambda raw: raw["model"]["type_logreg"].update(C=-1), "invalid value at 'model.type_logreg.C'"),
    (lambda raw: raw["model"]["type_logreg"].update(class_weight="heavy"), "class_weight must be null or 'balanced'"),
    (lambda raw: raw["serve"].update(port=70000), "invalid value at 'serve.port'"),
    (lambda raw: raw["split"].update(dev_fraction=0.6), "invalid value at 'split.dev_fraction'"),
    (lambda raw: raw["model"].update(surprise=1), "invalid value at 'model.surprise'"),
    (lambda raw: raw.pop("tracking"), "invalid value at 'tracking'"),
])
def test_invalid_values_name_the_file_and_the_key(tmp_path, change, message):
    f = _write(tmp_path, change)
    with pytest.raises(UserError, match=message) as exc:
        load_params(f)
    assert str(exc.value).startswith(f"{f}: ")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(UserError, match="params file not found"):
        load_params(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed", encoding="utf-8")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(UserError, match="expected a mapping"):
        load_params(bad)


def test_params_are_frozen():
    p = load_params(DEFAULT_PARAMS)
    with pytest.raises(Exception):
        p.model.max_themes = 2  # type: ignore[misc]


def test_tracking_uri(monkeypatch):
    p = load_params(DEFAULT_PARAMS)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(p) == f"sqlite:///{p.paths.mlflow_db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(p) == "http://127.0.0.1:5000"
