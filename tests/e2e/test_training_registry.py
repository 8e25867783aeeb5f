"""run_training against a local MLflow store with a small synthetic model: the first run promotes;
a registry error on a later run stops with one message and promotes and exports nothing."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR

import pipeline.tracking
from pipeline.config import load_params
from pipeline.errors import UserError
from pipeline.evaluate import evaluate_rows
from pipeline.train import Dataset, Trained, fit_model
from tests.conftest import synthetic_rows, write_params

pytestmark = pytest.mark.slow  # MLflow logging and a pyfunc model: several seconds


def _synthetic_training(params) -> Trained:
    train, dev = synthetic_rows(0), synthetic_rows(1)
    model = fit_model(train, dev, params.model)
    (dev_m, dev_p), (test_m, test_p) = evaluate_rows(model, dev), evaluate_rows(model, dev)
    ds = Dataset(train, dev, dev, [], {"train": "t", "dev": "d", "test": "d"})
    return Trained(model, ds, dev_m, test_m, dev_p, test_p, 0.1)


def test_registry_error_promotes_and_exports_nothing(tmp_path, monkeypatch):
    pf = write_params(tmp_path, models=tmp_path / "models", mlflow_db=tmp_path / "m.db", mlflow_artifacts=tmp_path / "art")
    p = load_params(pf)
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):  # mlflow.set_tracking_uri exports them: undone at the end
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(pipeline.tracking, "train_and_evaluate", _synthetic_training)
    first = pipeline.tracking.run_training(p, log=lambda *_: None)
    assert first.version == "1" and first.promoted and first.exported
    assert (tmp_path / "art").is_dir()  # the local store's artifacts go where params.yaml says
    card = tmp_path / "models" / "champion" / "model_card.json"
    assert json.loads(card.read_text())["version"] == "1"

    def unreachable(self, name, alias):
        raise MlflowException("API request to http://127.0.0.1:9/api/2.0/mlflow/registered-models/alias failed "
                              "with exception ConnectionError", error_code=INTERNAL_ERROR)

    with monkeypatch.context() as m:
        m.setattr(MlflowClient, "get_model_version_by_alias", unreachable)
        with pytest.raises(UserError, match="could not read ofsted-tagger@champion .*version 2 of ofsted-tagger was "
                                            "registered but nothing was promoted or exported"):
            pipeline.tracking.run_training(p, log=lambda *_: None)
    uri = f"sqlite:///{p.paths.mlflow_db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias("ofsted-tagger", "champion").version) == "1"
    assert {str(v.version) for v in client.search_model_versions("name='ofsted-tagger'")} == {"1", "2"}
    assert json.loads(card.read_text())["version"] == "1"
