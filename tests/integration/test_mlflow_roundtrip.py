"""An MLflow run logged and a model version registered through the tracking server."""

from __future__ import annotations

import uuid

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from dojo.settings import Settings


def test_run_logged_model_registered_and_read_back(healthy_stack: Settings) -> None:
    uri = healthy_stack.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)  # registered_model_name= goes through the registry URI
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = f"roundtrip-{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    labels = (features[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(features, labels)

    experiment_id = client.create_experiment(name)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_metric("accuracy", float(model.score(features, labels)))
        info = mlflow.sklearn.log_model(model, name="model", input_example=features[:2],
                                        registered_model_name=name)

    stored = client.get_run(run.info.run_id)
    assert stored.data.params == {"C": "1.0"}
    assert stored.data.metrics["accuracy"] > 0.9
    (version,) = client.search_model_versions(f"name='{name}'")
    assert version.run_id == run.info.run_id
    client.set_registered_model_alias(name, "champion", version.version)
    assert client.get_model_version_by_alias(name, "champion").version == version.version

    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(loaded.predict(features[:5]), model.predict(features[:5]))
    assert info.model_uri
