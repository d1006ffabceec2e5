"""Model registry operations behind `dojo model`: list, show, compare, promote, roll back.

Why aliases plus a tag chain: the `champion` alias is what the model server loads, so
promoting is one atomic alias move. Each promoted version also records, as the tag
`dojo.previous_champion`, the version it replaced; `previous-champion` is an alias on that
version for the UI. A rollback follows the chain one step back, so two rollbacks in a row go
two versions back instead of flip-flopping between the last two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dojo.training.tracking import (
    CHALLENGER,
    CHAMPION,
    GATE_TAG,
    INTERVAL_TAG,
    PREVIOUS_CHAMPION,
    PREVIOUS_CHAMPION_TAG,
    PROMOTED_BY_TAG,
    alias_version,
)

# What `list` and `compare` show, in this order (logged by every training run).
KEY_METRICS: tuple[str, ...] = (
    "pr_auc", "roc_auc", "recall_at_precision", "calibration_error", "segment_recall_gap",
    "latency_p95_ms", "model_mb", "rows_train", "rows_validation",
)


class RegistryError(RuntimeError):
    """The registry operation cannot be done; the message says why and what to do."""


@dataclass
class VersionInfo:
    version: str
    aliases: list[str]
    run_id: str
    created: datetime
    tags: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def interval(self) -> str:
        return self.tags.get(INTERVAL_TAG, "")


@dataclass(frozen=True)
class AliasChange:
    alias: str
    before: str | None
    after: str | None

    def describe(self) -> str:
        def show(version: str | None) -> str:
            return f"v{version}" if version else "(none)"

        return f"{self.alias}: {show(self.before)} -> {show(self.after)}"


def _aliases(client: Any, name: str) -> dict[str, list[str]]:
    """version -> aliases (search results may omit aliases, the model record does not)."""
    by_version: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(name).aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    return by_version


def _require_model(client: Any, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"no registered model {name!r} yet: train one with `dojo train`") \
            from None


def list_versions(client: Any, name: str) -> list[VersionInfo]:
    """Every version, newest first, with aliases and the key metrics of its run."""
    _require_model(client, name)
    aliases = _aliases(client, name)
    found = client.search_model_versions(f"name='{name}'")
    versions = sorted(found, key=lambda v: int(v.version), reverse=True)
    return [_info(client, v, aliases.get(str(v.version), [])) for v in versions]


def resolve(client: Any, name: str, ref: str) -> str:
    """A version number from ``ref``: a number (`3`, `v3`), an alias (`champion`, `@champion`)
    or `latest` (the newest version).

    Why accept aliases: a learner (or a runbook) means "the challenger", whatever its number;
    scripts that name the alias keep working as versions accumulate. The caller has checked
    that the model exists.
    """
    from mlflow.exceptions import MlflowException

    cleaned = ref.strip().removeprefix("@")
    if cleaned.removeprefix("v").isdigit():
        return cleaned.removeprefix("v")
    if cleaned == "latest":  # the newest registered version, whatever its aliases
        found = client.search_model_versions(f"name='{name}'")
        if found:
            return str(max(int(v.version) for v in found))
    try:
        return str(client.get_model_version_by_alias(name, cleaned).version)
    except MlflowException:
        known = ", ".join(sorted(client.get_registered_model(name).aliases)) or "none yet"
        raise RegistryError(f"{name} has no version and no alias {ref!r} (aliases: {known}); "
                            "see `dojo model list`") from None


def get_version(client: Any, name: str, version: str) -> VersionInfo:
    from mlflow.exceptions import MlflowException

    _require_model(client, name)
    version = resolve(client, name, version)
    try:
        found = client.get_model_version(name, version)
    except MlflowException:
        raise RegistryError(f"{name} has no version {version}: see `dojo model list`") from None
    return _info(client, found, _aliases(client, name).get(str(version), []), params=True)


def _info(client: Any, version: Any, aliases: list[str], params: bool = False) -> VersionInfo:
    metrics: dict[str, float] = {}
    run_params: dict[str, str] = {}
    if version.run_id:
        run = client.get_run(version.run_id)
        metrics = dict(run.data.metrics)
        run_params = dict(run.data.params) if params else {}
    created = datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC)
    return VersionInfo(str(version.version), sorted(aliases), version.run_id or "", created,
                       dict(version.tags), metrics, run_params)


@dataclass
class Comparison:
    first: VersionInfo
    second: VersionInfo
    metrics: list[tuple[str, float | None, float | None]]
    # gate name -> (first's check, second's check); a check is {"passed": bool, "message": str}
    gates: dict[str, tuple[dict | None, dict | None]]


def gate_checks(client: Any, run_id: str) -> dict[str, dict]:
    """The gate results a training run logged (`reports/gates.json`); {} if it logged none."""
    import json
    import tempfile

    from mlflow.exceptions import MlflowException

    if not run_id:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, "reports/gates.json", tmp)
        except (MlflowException, OSError):
            return {}  # a version registered by hand, not by the DAG
        with open(path) as handle:
            report = json.load(handle)
    return {check["name"]: check for check in report.get("checks", [])}


def compare(client: Any, name: str, first: str, second: str) -> Comparison:
    """Key metrics side by side (then any others), and which gates each version passed."""
    a, b = get_version(client, name, first), get_version(client, name, second)
    others = sorted((set(a.metrics) | set(b.metrics)) - set(KEY_METRICS))
    metrics = [(m, a.metrics.get(m), b.metrics.get(m)) for m in (*KEY_METRICS, *others)]
    gates_a, gates_b = gate_checks(client, a.run_id), gate_checks(client, b.run_id)
    gates = {gate: (gates_a.get(gate), gates_b.get(gate))
             for gate in dict.fromkeys([*gates_a, *gates_b])}
    return Comparison(a, b, metrics, gates)


def promote(client: Any, name: str, version: str, force: bool = False) -> list[AliasChange]:
    """Make ``version`` the champion; the replaced champion becomes `previous-champion`."""
    target = get_version(client, name, version)
    version = target.version
    gate = target.tags.get(GATE_TAG, "unknown")
    if gate != "passed" and not force:
        raise RegistryError(f"v{version} has gate status {gate!r}; pass --force to promote "
                            "it anyway (the change is recorded on the version)")
    current = alias_version(client, name, CHAMPION)
    if current == str(version):
        return []
    changes = [AliasChange(CHAMPION, current, str(version))]
    client.set_registered_model_alias(name, CHAMPION, str(version))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(name, str(version), PROMOTED_BY_TAG,
                                 f"dojo model promote{' --force' if force else ''} at {stamp}")
    if current:
        client.set_model_version_tag(name, str(version), PREVIOUS_CHAMPION_TAG, current)
        before = alias_version(client, name, PREVIOUS_CHAMPION)
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, current)
        changes.append(AliasChange(PREVIOUS_CHAMPION, before, current))
    if alias_version(client, name, CHALLENGER) == str(version):
        client.delete_registered_model_alias(name, CHALLENGER)  # it is not challenging anymore
        changes.append(AliasChange(CHALLENGER, str(version), None))
    return changes


def rollback(client: Any, name: str) -> list[AliasChange]:
    """Move `champion` back to the version the current champion replaced."""
    _require_model(client, name)
    current = alias_version(client, name, CHAMPION)
    if current is None:
        raise RegistryError(f"{name} has no champion: nothing to roll back")
    replaced = get_version(client, name, current).tags.get(PREVIOUS_CHAMPION_TAG)
    if not replaced:
        raise RegistryError(f"champion v{current} did not replace another version: nothing to "
                            "roll back to (promote a version instead)")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_registered_model_alias(name, CHAMPION, replaced)
    client.set_model_version_tag(name, current, "dojo.rolled_back_at", stamp)
    changes = [AliasChange(CHAMPION, current, replaced)]
    # previous-champion follows the chain one step back as well
    older = get_version(client, name, replaced).tags.get(PREVIOUS_CHAMPION_TAG)
    before = alias_version(client, name, PREVIOUS_CHAMPION)
    if older:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, older)
    elif before:
        client.delete_registered_model_alias(name, PREVIOUS_CHAMPION)
    if before != older:
        changes.append(AliasChange(PREVIOUS_CHAMPION, before, older))
    return changes


def register_refused(client: Any, settings: Any, interval_id: str) -> str:
    """Register the model of the newest run for ``interval_id`` that the gates refused.

    Why this exists: the gates are a promotion policy, and people override policies ("ship
    it, the metric is noisy"). The version is tagged with its failed gate and who registered
    it, and no alias moves: deploying it is a second, explicit step (`dojo deploy --force`),
    where the smoke test is the last line of defence (lab 05).
    """
    from dojo.training.tracking import GATE_TAG, runs_for_interval

    runs = [r for r in runs_for_interval(client, settings, interval_id, status="FINISHED")
            if r.data.tags.get(GATE_TAG) == "failed"]
    if not runs:
        raise RegistryError(f"no refused training run for the interval {interval_id}: train "
                            "one first (`dojo train --start … --end … --shuffle-labels`)")
    run = runs[0]
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'")
    if not models:
        raise RegistryError(f"run {run.info.run_id} logged no model")
    model = models[0]
    # The client call, not `mlflow.register_model`: that one also looks the logged model up in
    # the process-wide tracking store (a local SQLite file when unset), not in this client's.
    version = client.create_model_version(
        settings.registered_model, source=f"models:/{model.model_id}", run_id=run.info.run_id,
        model_id=model.model_id, tags={GATE_TAG: "failed", INTERVAL_TAG: interval_id,
                                       PROMOTED_BY_TAG: "dojo model register --force"})
    return str(version.version)
