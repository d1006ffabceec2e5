"""The platform on Google Cloud: Vertex AI training, registry, endpoint and feature store.

Checked with the protobuf messages of `google-cloud-aiplatform` (`aiplatform_v1`): building a
message from the body rejects an unknown field or a wrong type at any depth, as the API would.
The stream has no type there (Managed Kafka has its own client library), so it is listed
unchecked, and says so.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from dojo.features.spec import (
    MERCHANT_ENTITY_KEY,
    MERCHANT_FEATURE_VIEW,
    USER_ENTITY_KEY,
    USER_FEATURE_VIEW,
)
from dojo.settings import Settings
from dojo.teaching.cloud.plan import PlanError, Resource

CLOUD = "vertex"
CPU_METRIC = "aiplatform.googleapis.com/prediction/online/cpu/utilization"
CPU_TARGET_PERCENT = 70  # the HPA's CPU target in the Kubernetes manifests


def checker(type_name: str) -> tuple[Any, str]:
    """A function validating a body by building the `aiplatform_v1` message from it."""

    def check(body: dict[str, Any]) -> None:
        from google.cloud import aiplatform_v1

        message_type = getattr(aiplatform_v1, type_name)
        try:
            message_type(body)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise PlanError(f"aiplatform_v1.{type_name}: {error}") from error

    return check, f"aiplatform_v1.{type_name} " \
                  f"(google-cloud-aiplatform {version('google-cloud-aiplatform')})"


def _resource(name: str, type_name: str, replaces: str, body: dict[str, Any],
              note: str = "") -> Resource:
    check, checked_by = checker(type_name)
    return Resource(cloud=CLOUD, name=name, kind=f"Vertex AI {type_name}", replaces=replaces,
                    body=body, check=check, checked_by=checked_by, note=note)


def build(settings: Settings, image_tag: str) -> list[Resource]:
    project, region = settings.cloud_gcp_project, settings.cloud_gcp_region
    registry = f"{region}-docker.pkg.dev/{project}/dojo"
    bucket = f"gs://{project}-dojo"
    model = settings.registered_model
    share = settings.serving_canary_share if settings.serving_routing == "canary" else 0.0
    champion_percent = round(100 * (1 - share))
    traffic = {"champion": champion_percent}
    if share > 0:
        traffic["challenger"] = 100 - champion_percent
    def deployed(name: str, replicas: tuple[int, int]) -> dict[str, Any]:
        return {
            "id": name,  # a placeholder: Vertex assigns the id when the model is deployed
            "model": f"projects/{project}/locations/{region}/models/{model}@{name}",
            "display_name": f"{model}-{name}",
            "dedicated_resources": {
                "machine_spec": {"machine_type": "n2-standard-2"},
                "min_replica_count": replicas[0],
                "max_replica_count": replicas[1],
                "autoscaling_metric_specs": [{"metric_name": CPU_METRIC,
                                              "target": CPU_TARGET_PERCENT}],
            },
        }

    deployments = [deployed("champion", (settings.cloud_min_replicas,
                                         settings.cloud_max_replicas))]
    if share > 0:
        deployments.append(deployed("challenger", (1, max(1, settings.cloud_max_replicas // 2))))

    def feature_view(view: str, key: str) -> dict[str, Any]:
        return {
            "name": view,
            "big_query_source": {"uri": f"bq://{project}.dojo_features.{view}",
                                 "entity_id_columns": [key]},
            "sync_config": {"cron": "*/10 * * * *"},
        }

    return [
        Resource(cloud=CLOUD, name="kafka-cluster", kind="Managed Service for Apache Kafka",
                 replaces="Kafka broker (Tansu locally)", body={
                     "cluster_id": "dojo-events", "location": region,
                     "capacity_config": {"vcpu_count": 3, "memory_bytes": 3 * 2**30},
                     "topics": {"transactions": 6, "transactions.dlq": 1, "predictions": 3,
                                "labels": 3},
                 }, note="unchecked: its types live in google-cloud-managedkafka, not in the lock"),
        _resource("online-store", "FeatureOnlineStore",
                  "Feast online store (SQLite locally, Redis in compose)", {
                      "name": "dojo_online", "optimized": {},
                  }),
        _resource("feature-view-user", "FeatureView", f"Feast view {USER_FEATURE_VIEW}",
                  feature_view(USER_FEATURE_VIEW, USER_ENTITY_KEY),
                  note="synced from BigQuery on a schedule; streaming rows are written with "
                       "FeatureOnlineStoreService.WriteFeatureValues"),
        _resource("feature-view-merchant", "FeatureView", f"Feast view {MERCHANT_FEATURE_VIEW}",
                  feature_view(MERCHANT_FEATURE_VIEW, MERCHANT_ENTITY_KEY)),
        _resource("training-job", "CustomJob", "Airflow DAG fraud_training (one run)", {
            "display_name": f"{model}-training",
            "job_spec": {
                "worker_pool_specs": [{
                    "machine_spec": {"machine_type": "n2-standard-4"},
                    "replica_count": 1,
                    "container_spec": {
                        "image_uri": f"{registry}/dojo-platform:{image_tag}",
                        "command": ["dojo", "train"],
                        "env": [{"name": "DOJO_REGISTERED_MODEL", "value": model}],
                    },
                }],
                "base_output_directory": {"output_uri_prefix": f"{bucket}/training"},
            },
        }),
        _resource("model", "Model", f"MLflow registered model '{model}' (aliases)", {
            "display_name": model,
            "version_aliases": ["champion"],
            "artifact_uri": f"{bucket}/models/{model}",
            "container_spec": {
                "image_uri": f"{registry}/dojo-serving:{image_tag}",
                "ports": [{"container_port": settings.serving_port}],
                "predict_route": "/predict",
                "health_route": "/ready",
                "env": [{"name": "DOJO_REGISTERED_MODEL", "value": model}],
            },
        }, note="Vertex keeps aliases per model version, as MLflow does"),
        _resource("endpoint", "Endpoint",
                  f"model server + HPA + routing (DOJO_SERVING_ROUTING="
                  f"{settings.serving_routing})", {
                      "display_name": "fraud-scoring",
                      "deployed_models": deployments,
                      "traffic_split": traffic,
                  }, note="the traffic split is random per request: sticky canaries need the "
                          "caller to pick the deployed model"),
    ]
