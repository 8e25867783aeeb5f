"""Promotion in the registry: only a genuinely missing champion alias promotes; any other error stops."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException, RestException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST

from pipeline.errors import UserError
from pipeline.tracking import PROMOTE_METRIC, TIEBREAK_METRIC, beats, is_missing_alias, promote


class FakeClient:
    """The three registry calls promote() makes; ``alias_error`` is what reading the alias raises."""

    def __init__(self, alias_error: Exception | None = None, champion_metric: float | None = 0.8,
                 champion_tiebreak: float | None = None):
        self.alias_error = alias_error
        self.champion_metric = champion_metric
        self.champion_tiebreak = champion_tiebreak
        self.moved: list[tuple[str, str, str]] = []

    def get_model_version_by_alias(self, name, alias):
        if self.alias_error:
            raise self.alias_error
        return SimpleNamespace(run_id="r1", version="1")

    def get_run(self, run_id):
        metrics = {PROMOTE_METRIC: self.champion_metric}
        if self.champion_tiebreak is not None:
            metrics[TIEBREAK_METRIC] = self.champion_tiebreak
        return SimpleNamespace(data=SimpleNamespace(metrics=metrics))

    def set_registered_model_alias(self, name, alias, version):
        self.moved.append((name, alias, version))


MISSING_ALIAS = MlflowException("Registered model alias champion not found.", error_code=INVALID_PARAMETER_VALUE)
REST_MISSING_ALIAS = RestException({"error_code": "INVALID_PARAMETER_VALUE",
                                    "message": "Registered model alias champion not found."})
CONNECTION = MlflowException("API request to http://127.0.0.1:9/api/2.0/mlflow/registered-models/alias failed with "
                             "exception HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded",
                             error_code=INTERNAL_ERROR)


def test_the_missing_alias_is_recognised_and_nothing_else():
    assert is_missing_alias(MISSING_ALIAS) and is_missing_alias(REST_MISSING_ALIAS)
    assert not is_missing_alias(CONNECTION)
    assert not is_missing_alias(MlflowException("Registered Model with name=x not found", error_code=RESOURCE_DOES_NOT_EXIST))
    assert not is_missing_alias(ConnectionError("alias not found"))  # not from the registry


@pytest.mark.parametrize("error", [MISSING_ALIAS, REST_MISSING_ALIAS])
def test_no_champion_yet_promotes(error):
    c = FakeClient(alias_error=error)
    assert promote(c, "m", "champion", "1", 0.5, "sqlite:///x") == (True, None)
    assert c.moved == [("m", "champion", "1")]


def test_a_better_model_promotes_and_a_worse_one_does_not():
    better = FakeClient(champion_metric=0.8)
    assert promote(better, "m", "champion", "2", 0.81, "u") == (True, 0.8) and better.moved
    worse = FakeClient(champion_metric=0.8)
    assert promote(worse, "m", "champion", "2", 0.8, "u") == (False, 0.8) and not worse.moved


def test_a_tie_on_the_type_figure_goes_to_the_better_theme_figure():
    """A change to the theme tagger alone leaves the type classifier, and its dev figure, as they were."""
    better = FakeClient(champion_metric=0.8, champion_tiebreak=0.80)
    assert promote(better, "m", "champion", "2", 0.8, "u", 0.83) == (True, 0.8) and better.moved
    worse = FakeClient(champion_metric=0.8, champion_tiebreak=0.80)
    assert promote(worse, "m", "champion", "2", 0.8, "u", 0.79) == (False, 0.8) and not worse.moved
    older = FakeClient(champion_metric=0.8)  # a champion logged without the theme figure
    assert promote(older, "m", "champion", "2", 0.8, "u", 0.9) == (False, 0.8) and not older.moved
    assert beats(0.81, 0.5, 0.8, 0.9) and not beats(0.79, 0.99, 0.8, 0.5) and beats(0.8, 0.5, None, None)


@pytest.mark.parametrize("error", [CONNECTION, ConnectionError("connection refused"), OSError("network unreachable")])
def test_a_registry_or_connection_error_stops_and_promotes_nothing(error):
    c = FakeClient(alias_error=error)
    with pytest.raises(UserError) as exc:
        promote(c, "m", "champion", "3", 0.99, "http://127.0.0.1:9")
    assert c.moved == []
    msg = str(exc.value)
    assert msg.startswith("MLflow registry at http://127.0.0.1:9: could not read m@champion")
    assert "version 3 of m was registered but nothing was promoted or exported" in msg


def test_an_unreadable_champion_run_stops_too():
    c = FakeClient()
    c.get_run = lambda run_id: (_ for _ in ()).throw(CONNECTION)
    with pytest.raises(UserError, match="could not read the run of m@champion"):
        promote(c, "m", "champion", "3", 0.99, "u")
    assert c.moved == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.slow
def test_against_real_stores(tmp_path, monkeypatch):
    """A local SQLite registry raises the real 'alias not found' (promotes); a closed loopback port stops."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("m")
    mv = client.create_model_version("m", source=str(tmp_path))
    assert promote(client, "m", "champion", str(mv.version), 0.5, uri) == (True, None)
    assert client.get_model_version_by_alias("m", "champion").version == mv.version

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    dead = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(UserError, match=f"MLflow registry at {dead}: could not read m@champion"):
        promote(MlflowClient(tracking_uri=dead, registry_uri=dead), "m", "champion", "2", 0.9, dead)
