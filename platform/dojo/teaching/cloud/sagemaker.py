"""The platform on AWS: SageMaker training, model registry, endpoint, feature store; MSK.

Checked with botocore's service models (the JSON API descriptions the AWS SDKs are generated
from): `validate_parameters` rejects a missing required field, an unknown field, a wrong type
or an out-of-range number, as the API would. No credentials and no network are involved.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from typing import Any

from dojo.features.spec import (
    MERCHANT_ENTITY_KEY,
    MERCHANT_FEATURES,
    TIMESTAMP_COLUMN,
    USER_COUNT_FEATURES,
    USER_ENTITY_KEY,
    USER_FLOAT_FEATURES,
)
from dojo.settings import Settings
from dojo.teaching.cloud.plan import PlanError, Resource

CLOUD = "sagemaker"
ENDPOINT = "fraud-scoring"


@cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def checker(service: str, operation: str) -> tuple[Any, str]:
    """A function validating a request body against `service`'s `operation` input shape."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    def check(body: dict[str, Any]) -> None:
        shape = _session().get_service_model(service).operation_model(operation).input_shape
        try:
            validate_parameters(body, shape)
        except ParamValidationError as error:
            reasons = str(error).removeprefix("Parameter validation failed:").strip()
            raise PlanError(f"{service}.{operation}: {reasons}") from error

    return check, f"botocore {version('botocore')} service model"


def _resource(name: str, service: str, operation: str, replaces: str, body: dict[str, Any],
              note: str = "") -> Resource:
    check, checked_by = checker(service, operation)
    return Resource(cloud=CLOUD, name=name, kind=f"{service} {operation}", replaces=replaces,
                    body=body, check=check, checked_by=checked_by, note=note)


def build(settings: Settings, image_tag: str) -> list[Resource]:
    account, region = settings.cloud_aws_account, settings.cloud_aws_region
    registry = f"{account}.dkr.ecr.{region}.amazonaws.com"
    role = f"arn:aws:iam::{account}:role/dojo-sagemaker"
    bucket = f"s3://dojo-{account}-{region}"
    model = settings.registered_model
    env = {"DOJO_REGISTERED_MODEL": model, "DOJO_ONLINE_STORE": "sagemaker-feature-store",
           "DOJO_SERVING_PORT": "8080"}
    share = settings.serving_canary_share if settings.serving_routing == "canary" else 0.0
    variants = [{
        "VariantName": "champion", "ModelName": f"{model}-champion",
        "InitialInstanceCount": settings.cloud_min_replicas, "InstanceType": "ml.c6i.large",
        "InitialVariantWeight": round(1.0 - share, 4),
    }]
    if share > 0:
        variants.append({
            "VariantName": "challenger", "ModelName": f"{model}-challenger",
            "InitialInstanceCount": 1, "InstanceType": "ml.c6i.large",
            "InitialVariantWeight": round(share, 4),
        })
    endpoint_config: dict[str, Any] = {"EndpointConfigName": f"{ENDPOINT}-config",
                                       "ProductionVariants": variants}
    if settings.serving_routing == "shadow":
        endpoint_config["ShadowProductionVariants"] = [{
            "VariantName": "shadow", "ModelName": f"{model}-challenger",
            "InitialInstanceCount": 1, "InstanceType": "ml.c6i.large",
            "InitialVariantWeight": 1.0,
        }]

    def feature_group(name: str, key: str, counts: tuple[str, ...], floats: tuple[str, ...],
                      replaces: str) -> Resource:
        """One Feast feature view as a feature group: entity key, event time, typed features."""
        definitions = ([{"FeatureName": key, "FeatureType": "String"},
                        {"FeatureName": TIMESTAMP_COLUMN, "FeatureType": "String"}]
                       + [{"FeatureName": n, "FeatureType": "Integral"} for n in counts]
                       + [{"FeatureName": n, "FeatureType": "Fractional"} for n in floats])
        return _resource(f"feature-group-{name.split('-')[0]}", "sagemaker",
                         "CreateFeatureGroup", replaces, {
                             "FeatureGroupName": name,
                             "RecordIdentifierFeatureName": key,
                             "EventTimeFeatureName": TIMESTAMP_COLUMN,
                             "FeatureDefinitions": definitions,
                             "OnlineStoreConfig": {"EnableOnlineStore": True},
                             "OfflineStoreConfig": {"S3StorageConfig": {
                                 "S3Uri": f"{bucket}/feature-store/"}},
                             "RoleArn": role,
                         })

    return [
        _resource("msk-cluster", "kafka", "CreateClusterV2", "Kafka broker (Tansu locally)", {
            "ClusterName": "dojo-events",
            "Serverless": {"VpcConfigs": [{"SubnetIds": ["subnet-dojo-a", "subnet-dojo-b"]}],
                           "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}},
        }, note="topics are still created by the platform (dojo topics), not by this call"),
        feature_group("user-txn-features", USER_ENTITY_KEY, USER_COUNT_FEATURES,
                      USER_FLOAT_FEATURES,
                      "Feast view user_txn_features (online SQLite/Redis, offline parquet)"),
        feature_group("merchant-label-features", MERCHANT_ENTITY_KEY, MERCHANT_FEATURES[:1],
                      MERCHANT_FEATURES[1:], "Feast view merchant_label_features"),
        _resource("training-job", "sagemaker", "CreateTrainingJob",
                  "Airflow DAG fraud_training (one run)", {
                      "TrainingJobName": f"{model}-training-{image_tag.replace('.', '-')}",
                      "AlgorithmSpecification": {
                          "TrainingImage": f"{registry}/dojo-platform:{image_tag}",
                          "TrainingInputMode": "File",
                          "ContainerEntrypoint": ["dojo", "train"],
                      },
                      "RoleArn": role,
                      "InputDataConfig": [{"ChannelName": "offline", "DataSource": {
                          "S3DataSource": {"S3DataType": "S3Prefix",
                                           "S3Uri": f"{bucket}/offline/transactions/"}}}],
                      "OutputDataConfig": {"S3OutputPath": f"{bucket}/models/"},
                      "ResourceConfig": {"InstanceType": "ml.m6i.xlarge", "InstanceCount": 1,
                                         "VolumeSizeInGB": 30},
                      "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                      "Environment": {"DOJO_REGISTERED_MODEL": model},
                  }),
        _resource("model-package-group", "sagemaker", "CreateModelPackageGroup",
                  f"MLflow registered model '{model}' (aliases champion/challenger)", {
                      "ModelPackageGroupName": model,
                      "ModelPackageGroupDescription": "Fraud scorer versions; the approved "
                      "one serves (the local `champion` alias).",
                  }),
        _resource("model-champion", "sagemaker", "CreateModel", "model server (dojo serve)", {
            "ModelName": f"{model}-champion",
            "PrimaryContainer": {"Image": f"{registry}/dojo-serving:{image_tag}",
                                 "Environment": env},
            "ExecutionRoleArn": role,
        }, note="SageMaker calls GET /ping and POST /invocations on port 8080"),
        _resource("endpoint-config", "sagemaker", "CreateEndpointConfig",
                  f"routing (DOJO_SERVING_ROUTING={settings.serving_routing})", endpoint_config),
        _resource("endpoint", "sagemaker", "CreateEndpoint", "model server behind its port", {
            "EndpointName": ENDPOINT, "EndpointConfigName": f"{ENDPOINT}-config",
        }),
        _resource("autoscaling-target", "application-autoscaling", "RegisterScalableTarget",
                  "Kubernetes HPA (min/max replicas)", {
                      "ServiceNamespace": "sagemaker",
                      "ResourceId": f"endpoint/{ENDPOINT}/variant/champion",
                      "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                      "MinCapacity": settings.cloud_min_replicas,
                      "MaxCapacity": settings.cloud_max_replicas,
                  }),
        _resource("autoscaling-policy", "application-autoscaling", "PutScalingPolicy",
                  "Kubernetes HPA (target per replica)", {
                      "PolicyName": f"{ENDPOINT}-invocations",
                      "ServiceNamespace": "sagemaker",
                      "ResourceId": f"endpoint/{ENDPOINT}/variant/champion",
                      "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                      "PolicyType": "TargetTrackingScaling",
                      "TargetTrackingScalingPolicyConfiguration": {
                          # Invocations per instance per minute.
                          "TargetValue": settings.cloud_target_rps_per_replica * 60,
                          "PredefinedMetricSpecification": {
                              "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                          "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
                      },
                  }),
    ]
