"""The Kubernetes manifests, checked as deeply as possible without a cluster.

Every kustomization builds with kubectl; every object validates against the API schema of a
pinned Kubernetes version (kubernetes-validate ships the schemas, so this runs offline); and the
manifests agree with the code they deploy: probe paths are routes of the FastAPI app, DOJO_
variables are settings, Services reach container ports, the HPA scales something that exists
on a metric something serves, the NetworkPolicies open exactly the data path, and the images
are built here or pinned.
"""

from __future__ import annotations

import re
import tomllib

import kubernetes_validate
import pytest
import yaml

from dojo.runtime.kafka_admin import topic_plan
from dojo.serving.app import create_app
from dojo.serving.service import ModelService
from dojo.settings import REPO_ROOT, Settings, SettingsError, load_settings
from k8s_support import (
    DRILLS,
    KUBERNETES_VERSION,
    KUSTOMIZATIONS,
    OVERLAYS,
    find,
    render,
    selects,
    workloads,
)
from serving_support import MemoryFeatures, MemoryRegistry, loaded

VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
# Our images: the Dockerfile that builds each (docker/<name>.Dockerfile).
OWN_IMAGES = {"dojo-serving": "serving", "dojo-platform": "platform"}
# Bytes resident in one model server with the champion loaded, after load
# (benchmarks/bench_serving.py "model server memory"; the request must cover it).
MEASURED_RSS_MIB = 400e6 / 2**20


# ------------------------------------------------------------------ build and validate
@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_every_kustomization_builds_and_validates_against_the_pinned_schema(path: str) -> None:
    objects = render(path)
    assert objects
    declared_crds = {(o["spec"]["group"], o["spec"]["names"]["kind"]) for o in objects
                     if o["kind"] == "CustomResourceDefinition"}
    errors = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            group = obj["apiVersion"].rsplit("/", 1)[0]
            if (group, obj["kind"]) not in declared_crds:
                errors.append(f"{where}: no schema in Kubernetes {KUBERNETES_VERSION} "
                              "and no CustomResourceDefinition declares it")
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{where}: {error.message} at {list(error.path)}")
    assert errors == []


def test_validation_refuses_a_misspelled_field() -> None:
    """The validator is strict: one unknown field in a real object is an error."""
    deployment = yaml.safe_load(yaml.safe_dump(find(render("base"), "Deployment",
                                                    "model-server")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


# ------------------------------------------------------------------ the model server
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_hit_real_routes_on_the_served_port(overlay: str, tmp_path) -> None:
    objects = render(f"overlays/{overlay}")
    deployment = find(objects, "Deployment", "model-server")
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"]
                     if c["name"] == "model-server")
    service = ModelService(load_settings(home=tmp_path), registry=MemoryRegistry(
        {"1": loaded("1")}, {"champion": "1"}), features=MemoryFeatures(),
        log_predictions=False)
    routes = {(route.path, method) for route in create_app(service).routes
              for method in getattr(route, "methods", ())}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    settings = find(objects, "ConfigMap", next(
        ref["configMapRef"]["name"] for ref in container["envFrom"]))["data"]
    # The default, not Settings(): a session-wide test stack exports its own DOJO_SERVING_PORT.
    default_port = Settings.model_fields["serving_port"].default
    assert ports["http"] == int(settings["DOJO_SERVING_PORT"]) == default_port
    probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in
              ("startup", "liveness", "readiness")}
    for probe in probes.values():
        assert (probe["path"], "GET") in routes
        assert ports.get(probe["port"], probe["port"]) == ports["http"]
    # liveness must not depend on the model or the feature store; readiness must
    assert probes["liveness"]["path"] == "/health" and probes["readiness"]["path"] == "/ready"


def test_resources_are_sized_from_the_measured_memory() -> None:
    deployment = find(render("base"), "Deployment", "model-server")
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    mib = {k: int(resources[k]["memory"].removesuffix("Mi")) if resources[k]["memory"]
           .endswith("Mi") else int(resources[k]["memory"].removesuffix("Gi")) * 1024
           for k in ("requests", "limits")}
    assert MEASURED_RSS_MIB <= mib["requests"] < 2 * MEASURED_RSS_MIB
    assert mib["limits"] >= 2 * MEASURED_RSS_MIB  # a second model version during a reload


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hpa_scales_an_existing_deployment_on_cpu_and_a_served_metric(overlay: str) -> None:
    objects = render(f"overlays/{overlay}")
    hpa = find(objects, "HorizontalPodAutoscaler", "model-server")
    spec = hpa["spec"]
    target = find(objects, spec["scaleTargetRef"]["kind"], spec["scaleTargetRef"]["name"])
    assert spec["scaleTargetRef"]["apiVersion"] == target["apiVersion"]
    assert "replicas" not in target["spec"]  # the HPA owns the count
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    assert set(spec["behavior"]) == {"scaleUp", "scaleDown"}
    kinds = {m["type"]: m for m in spec["metrics"]}
    assert kinds["Resource"]["resource"]["name"] == "cpu"
    # CPU utilisation is a share of the request: every container must request CPU
    for container in target["spec"]["template"]["spec"]["containers"]:
        assert container["resources"]["requests"]["cpu"]
    adapter = yaml.safe_load(find(objects, "ConfigMap", "prometheus-adapter")["data"]
                             ["config.yaml"])
    served = {rule["name"]["as"] for rule in adapter["rules"]}
    assert kinds["Pods"]["pods"]["metric"]["name"] in served
    # ... and the series it is computed from is one the model server exports
    source = adapter["rules"][0]["seriesQuery"].split("{")[0].removesuffix("_count")
    metrics = (REPO_ROOT / "platform/dojo/serving/metrics.py").read_text()
    assert f'"{source}"' in metrics


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_select_pods_and_reach_their_container_ports(overlay: str) -> None:
    objects = render(f"overlays/{overlay}")
    pods = list(workloads(objects))
    for service in (o for o in objects if o["kind"] == "Service"):
        selected = [w for w in pods if selects({"matchLabels": service["spec"]["selector"]},
                                               w.labels)]
        assert selected, f"Service {service['metadata']['name']} selects no pod"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert all(target in w.ports() for w in selected), \
                (service["metadata"]["name"], target, [w.owner for w in selected])


def test_every_dojo_variable_is_a_setting() -> None:
    names: set[str] = set()
    for path in (*(f"overlays/{o}" for o in OVERLAYS), "load",
                 *(f"drills/{d}" for d in DRILLS)):
        objects = render(path)
        for obj in objects:
            if obj["kind"] in {"ConfigMap", "Secret"}:
                names |= set(obj.get("data") or {}) | set(obj.get("stringData") or {})
        for workload in workloads(objects):
            for container in workload.containers():
                names |= {e["name"] for e in container.get("env", [])}
    dojo = {n for n in names if n.startswith("DOJO_")}
    assert len(dojo) >= 8
    fields = {f"DOJO_{name.upper()}" for name in Settings.model_fields}
    assert dojo - fields == set(), "not settings (see platform/dojo/settings.py)"


def test_airflow_runs_the_executor_and_auth_of_the_platform() -> None:
    """Airflow on Kubernetes: the KubernetesExecutor, the stack's auth manager, and a metadata
    database URL whose password is the one Postgres was given."""
    from dojo.runtime.airflow import SIMPLE_AUTH_MANAGER

    objects = render("infra")
    env = find(objects, "ConfigMap", "airflow-env")["data"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "KubernetesExecutor"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == SIMPLE_AUTH_MANAGER
    assert env["AIRFLOW__KUBERNETES_EXECUTOR__WORKER_CONTAINER_TAG"] == VERSION
    secrets = find(objects, "Secret", "airflow-secrets")["stringData"]
    password = find(render("base"), "Secret", "dojo-secrets")["stringData"]["POSTGRES_PASSWORD"]
    assert f"dojo:{password}@postgres:5432/airflow" in \
        secrets["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["kubernetes"]
    assert any(p.startswith("apache-airflow-providers-cncf-kubernetes==") for p in extra)
    assert "--extra kubernetes" in (REPO_ROOT / "docker/platform.Dockerfile").read_text()


def test_topics_job_creates_the_planned_topics() -> None:
    job = find(render("infra"), "Job", "kafka-topics")
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    created = {name: int(n) for name, n in re.findall(r"([\w.]+):(\d+)", script.split(";")[0])}
    assert created == topic_plan(Settings())


def test_full_overlay_replicates_kafka_three_ways_with_two_in_sync() -> None:
    objects = render("overlays/full")
    config = find(objects, "ConfigMap", "kafka-config")["data"]
    assert find(objects, "StatefulSet", "kafka")["spec"]["replicas"] == 3
    assert config["KAFKA_REPLICAS"] == config["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
    assert config["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    small = find(render("overlays/kind"), "ConfigMap", "kafka-config")["data"]
    assert small["KAFKA_REPLICAS"] == small["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "1"


# ------------------------------------------------------------------ network policies
# The data path, as (from, to, port). Adding an edge means adding it here on purpose.
DATA_PATH = {
    ("model-server", "redis", 6379), ("model-server", "mlflow", 5000),
    ("model-server", "kafka", 9092),
    ("stream-processor", "kafka", 9092), ("stream-processor", "redis", 6379),
    ("drift-monitor", "kafka", 9092), ("drift-monitor", "mlflow", 5000),
    ("kafka-topics", "kafka", 9092), ("kafka", "kafka", 9092), ("kafka", "kafka", 9093),
    ("mlflow", "postgres", 5432),
    ("airflow", "postgres", 5432), ("airflow", "mlflow", 5000), ("airflow", "redis", 6379),
    ("airflow", "airflow", 8080),
    ("bootstrap", "airflow", 8080), ("bootstrap", "mlflow", 5000),
    ("prometheus", "model-server", 8000), ("prometheus", "stream-processor", 8001),
    ("prometheus", "drift-monitor", 8002),
    ("grafana", "prometheus", 9090), ("prometheus-adapter", "prometheus", 9090),
    ("load-generator", "model-server", 8000),
}
# Edges to or from outside the namespace (the Kubernetes API, whose address depends on the
# cluster): policy name, direction, ports.
OUTSIDE = {
    ("airflow-scheduler-kubernetes-api", "egress", (443, 6443)),
    ("prometheus", "egress", (443, 6443)),
    ("prometheus-adapter", "egress", (443, 6443)),
    ("prometheus-adapter", "ingress", (6443,)),
}


def _allows(policies: list[dict], pod: dict[str, str], direction: str, peer: dict[str, str],
            port: int) -> bool:
    """Some policy selecting ``pod`` lets it talk to ``peer`` on ``port`` in ``direction``."""
    key, peers_key = ("egress", "to") if direction == "egress" else ("ingress", "from")
    for policy in policies:
        spec = policy["spec"]
        if not selects(spec["podSelector"], pod) or direction.title() not in spec["policyTypes"]:
            continue
        for rule in spec.get(key, []):
            ports = {p["port"] for p in rule.get("ports", [])}
            in_namespace = [p["podSelector"] for p in rule.get(peers_key, [])
                            if set(p) == {"podSelector"}]
            if (not ports or port in ports) and any(selects(s, peer) for s in in_namespace):
                return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_the_data_path_and_nothing_else(overlay: str) -> None:
    objects = render(f"overlays/{overlay}") + render("load")
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    default_deny = find(objects, "NetworkPolicy", "default-deny-all")["spec"]
    assert default_deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = list(workloads(objects))
    allowed = set()
    for source in pods:
        for target in pods:
            for port in set(target.ports().values()):
                if (_allows(policies, source.labels, "egress", target.labels, port)
                        and _allows(policies, target.labels, "ingress", source.labels, port)):
                    allowed.add((source.name, target.name, port))
    assert allowed == DATA_PATH
    outside = set()
    for policy in policies:
        for direction, peers_key in (("egress", "to"), ("ingress", "from")):
            for rule in policy["spec"].get(direction, []):
                if any("ipBlock" in peer for peer in rule.get(peers_key, [])):
                    outside.add((policy["metadata"]["name"], direction,
                                 tuple(sorted(p["port"] for p in rule["ports"]))))
    assert outside == OUTSIDE


def test_the_edge_check_sees_a_missing_rule() -> None:
    """Removing one side of one edge (Redis' ingress from the model server) breaks that edge."""
    objects = render("overlays/kind")
    policies = [yaml.safe_load(yaml.safe_dump(o)) for o in objects
                if o["kind"] == "NetworkPolicy"]
    redis = next(p for p in policies if p["metadata"]["name"] == "redis")
    model_server = {"app.kubernetes.io/name": "model-server"}
    redis_pod = {"app.kubernetes.io/name": "redis"}
    assert _allows(policies, redis_pod, "ingress", model_server, 6379)
    redis["spec"]["ingress"][0]["from"] = [
        peer for peer in redis["spec"]["ingress"][0]["from"]
        if not selects(peer["podSelector"], model_server)]
    assert not _allows(policies, redis_pod, "ingress", model_server, 6379)


# ------------------------------------------------------------------ images
def test_images_are_built_here_or_pinned_by_tag() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker/compose.yaml").read_text())
    compose_tags = dict(service["image"].rsplit(":", 1) for service in
                        compose["services"].values() if not service["image"].startswith("$"))
    seen = set()
    for path in (*(f"overlays/{o}" for o in OVERLAYS), "load"):
        for workload in workloads(render(path)):
            for container in workload.containers():
                seen.add(container["image"])
    for image in sorted(seen):
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest" and "@" not in image, image
        own = OWN_IMAGES.get(name.rsplit("/", 1)[-1])
        if own:
            assert tag == VERSION, f"{image}: our images are tagged with the project version"
            assert (REPO_ROOT / "docker" / f"{own}.Dockerfile").is_file()
        elif name in compose_tags:
            assert tag == compose_tags[name], f"{image}: compose pins {compose_tags[name]}"
    assert {image.rpartition(":")[0].rsplit("/", 1)[-1] for image in seen} >= set(OWN_IMAGES)


# ------------------------------------------------------------------ lab 19's drills
def _model_server(path: str) -> dict:
    return find(render(path), "Deployment", "model-server")["spec"]["template"]["spec"]


def test_each_drill_breaks_exactly_what_it_names() -> None:
    healthy = _model_server("overlays/kind")
    assert sorted(DRILLS) == ["crashloop", "hpa-no-requests", "imagepull", "oomkilled",
                              "pdb-blocks-drain", "readiness"]
    oom = _model_server("drills/oomkilled")["containers"][0]["resources"]["limits"]["memory"]
    assert int(oom.removesuffix("Mi")) < MEASURED_RSS_MIB
    env = {e["name"]: e["value"] for e in _model_server("drills/crashloop")["containers"][0]
           ["env"] if "value" in e}
    with pytest.raises(SettingsError, match="DOJO_SERVING_PORT"):
        load_settings(serving_port=env["DOJO_SERVING_PORT"])
    image = _model_server("drills/imagepull")["containers"][0]["image"]
    assert image != healthy["containers"][0]["image"] and image.startswith("dojo-serving:")
    env = {e["name"]: e.get("value") for e in _model_server("drills/readiness")["containers"][0]
           ["env"]}
    assert env["DOJO_REGISTERED_MODEL"] != Settings().registered_model
    assert "resources" not in _model_server("drills/hpa-no-requests")["containers"][0]
    pdb = find(render("drills/pdb-blocks-drain"), "PodDisruptionBudget", "model-server")
    assert pdb["spec"]["maxUnavailable"] == 0
    # everything else stays as the laptop overlay applies it, so a drill breaks one thing
    kind = {(o["kind"], o["metadata"]["name"]): o for o in render("overlays/kind")}
    for drill in DRILLS:
        objects = {(o["kind"], o["metadata"]["name"]): o for o in render(f"drills/{drill}")}
        assert objects.keys() == kind.keys(), drill
        changed = {key for key in kind if objects[key] != kind[key]}
        assert changed <= {("Deployment", "model-server"),
                           ("PodDisruptionBudget", "model-server")}, (drill, changed)
        spec = _model_server(f"drills/{drill}")
        assert spec["initContainers"] == healthy["initContainers"], drill


# ------------------------------------------------------------------ documented footprint
def _cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if str(value).endswith("m") else float(value)


def _mib(value: str) -> float:
    return float(value[:-2]) * (1024 if value.endswith("Gi") else 1)


def test_the_documented_laptop_footprint_is_what_the_overlay_requests() -> None:
    """k8s/README.md states the requests of the laptop overlays; they must stay true."""
    cpu = mib = 0.0
    for obj in render("overlays/kind"):
        if obj["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        replicas = obj["spec"].get("replicas")
        if replicas is None:  # the HPA owns it: count its minimum
            replicas = find(render("overlays/kind"), "HorizontalPodAutoscaler",
                            obj["metadata"]["name"])["spec"]["minReplicas"]
        for container in obj["spec"]["template"]["spec"]["containers"]:
            cpu += replicas * _cpu(container["resources"]["requests"]["cpu"])
            mib += replicas * _mib(container["resources"]["requests"]["memory"])
    readme = (REPO_ROOT / "k8s" / "README.md").read_text()
    assert f"**{cpu:.2f} CPUs and {mib / 1024:.1f} GiB**" in readme
