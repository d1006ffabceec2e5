"""Lab 09's SageMaker plan: generated from the settings, checked by botocore's service models.

(The Vertex AI half imports google-cloud-aiplatform, ~10 s, so it lives in tests/integration.)
"""

from __future__ import annotations

import copy

import pytest

from dojo.settings import SettingsError, load_settings
from dojo.teaching.cloud.clouds import build_plan
from dojo.teaching.cloud.mapping import COMPONENTS
from dojo.teaching.cloud.plan import PlanError


def by_name(resources):
    return {r.name: r for r in resources}


def test_every_sagemaker_resource_passes_the_service_models() -> None:
    resources = build_plan("sagemaker", load_settings())
    assert len(resources) >= 9
    for resource in resources:
        assert resource.checked_by, f"{resource.name} has no SDK type"
        resource.validate()


@pytest.mark.parametrize(("change", "message"), [
    (lambda body: body.pop("RoleArn"), 'Missing required parameter in input: "RoleArn"'),
    (lambda body: body["ResourceConfig"].update(InstanceCount="two"), "InstanceCount"),
    (lambda body: body.update(Hyperparameters={}), 'Unknown parameter in input: "Hyperparameters"'),
])
def test_a_malformed_request_is_rejected_like_the_api_would(change, message) -> None:
    training = by_name(build_plan("sagemaker", load_settings()))["training-job"]
    body = copy.deepcopy(training.body)
    change(body)
    with pytest.raises(PlanError, match=message):
        training.check(body)


def test_routing_and_replicas_follow_the_settings() -> None:
    plain = by_name(build_plan("sagemaker", load_settings()))
    assert [v["VariantName"] for v in plain["endpoint-config"].body["ProductionVariants"]] \
        == ["champion"]
    canary = by_name(build_plan("sagemaker", load_settings(
        serving_routing="canary", serving_canary_share=0.25, cloud_min_replicas=3,
        cloud_max_replicas=12)))
    weights = {v["VariantName"]: v["InitialVariantWeight"]
               for v in canary["endpoint-config"].body["ProductionVariants"]}
    assert weights == {"champion": 0.75, "challenger": 0.25}
    target = canary["autoscaling-target"].body
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 12)
    shadow = by_name(build_plan("sagemaker", load_settings(serving_routing="shadow")))
    config = shadow["endpoint-config"].body
    assert [v["VariantName"] for v in config["ShadowProductionVariants"]] == ["shadow"]
    shadow["endpoint-config"].validate()


def test_a_replica_range_upside_down_names_both_variables() -> None:
    with pytest.raises(SettingsError, match=r"DOJO_CLOUD_MIN_REPLICAS.*DOJO_CLOUD_MAX_REPLICAS"):
        load_settings(cloud_min_replicas=5, cloud_max_replicas=2)


def test_the_mapping_covers_each_planned_component_once() -> None:
    locals_ = [row.local for row in COMPONENTS]
    assert len(locals_) == len(set(locals_))
    for needed in ("Kafka", "Feast online", "Feast offline", "Airflow", "MLflow registry",
                   "model server", "HPA", "drift monitor"):
        assert any(needed in local for local in locals_), needed
