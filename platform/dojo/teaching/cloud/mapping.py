"""Each local component, its managed counterparts, and what changes when it moves.

Kept as data so the CLI, the lab and the tests read one table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mapping:
    local: str
    vertex: str
    sagemaker: str
    changes: str


COMPONENTS: tuple[Mapping, ...] = (
    Mapping("Kafka broker (Tansu, memory only)", "Managed Service for Apache Kafka (or Pub/Sub)",
            "Amazon MSK Serverless (or Kinesis)",
            "IAM/SASL auth instead of plaintext; topics and partitions still planned by the "
            "platform; Pub/Sub or Kinesis would change the client and the ordering guarantees"),
    Mapping("stream processor (dojo stream)", "Dataflow, or the same container on GKE",
            "Managed Flink, or the same container on ECS/EKS",
            "the consumer group and the at-least-once commit stay; the online write goes to "
            "the managed feature store's write API"),
    Mapping("Feast online store (SQLite/Redis)", "Vertex AI Feature Store (FeatureOnlineStore)",
            "SageMaker Feature Store, online",
            "point reads by entity key stay; the managed store syncs batch views on a schedule "
            "and takes streaming rows through a separate write call"),
    Mapping("Feast offline store (parquet)", "BigQuery tables behind FeatureViews",
            "SageMaker Feature Store offline (S3, Glue/Athena)",
            "point-in-time joins run in the warehouse; the event-time column is still the key "
            "to leakage-free training sets"),
    Mapping("Airflow DAG fraud_training", "Vertex AI Pipelines, or a CustomJob per run",
            "SageMaker Pipelines, or a TrainingJob per run",
            "the gates (data checks, metric floors, champion comparison) become pipeline "
            "steps; the schedule moves to Cloud Scheduler or EventBridge"),
    Mapping("MLflow tracking", "Vertex AI Experiments", "SageMaker Experiments",
            "or keep MLflow on a small VM or container: both clouds run it"),
    Mapping("MLflow registry and aliases", "Vertex AI Model Registry (version aliases)",
            "SageMaker Model Registry (package groups, approval status)",
            "Vertex has aliases like MLflow; SageMaker expresses champion as an approved "
            "package and the rest as pending or rejected"),
    Mapping("model server (dojo serve, /predict)", "Vertex AI Endpoint, custom container",
            "SageMaker real-time Endpoint, bring-your-own container",
            "SageMaker calls GET /ping and POST /invocations on port 8080; Vertex takes the "
            "routes and port from the model's container spec"),
    Mapping("shadow / canary routing", "traffic_split between deployed models",
            "production variant weights; ShadowProductionVariants",
            "managed splits are random per request: a canary sticky per user needs the "
            "caller to choose the variant (TargetVariant) or a router in front"),
    Mapping("Kubernetes HPA (min/max, CPU)", "autoscaling_metric_specs on the deployment",
            "Application Auto Scaling, target tracking",
            "scale on invocations per instance or CPU; scale-in cool-downs are minutes, not "
            "seconds"),
    Mapping("Prometheus and Alertmanager", "Cloud Monitoring (managed Prometheus)",
            "CloudWatch (or Amazon Managed Prometheus)",
            "the PromQL rules carry over to managed Prometheus; CloudWatch needs its own "
            "alarm definitions"),
    Mapping("drift monitor (Evidently)", "Vertex AI Model Monitoring",
            "SageMaker Model Monitor",
            "the managed monitors sample the endpoint's traffic to storage and compare it to a "
            "baseline on a schedule: hours of delay instead of a rolling window"),
)
