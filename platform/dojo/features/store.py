"""Open the Feast feature store for the current settings, and apply the repo's definitions.

Why not `FeatureStore(repo_path=...)` alone: `feature_store.yaml` takes its paths from
`${DOJO_HOME}` (and Redis from `${DOJO_FEAST_REDIS}`), and Feast fills those from the process
environment. Here the same YAML is expanded from the *settings* (which may come from `.env` or
test overrides), so the store a component opens always matches the settings it was given,
without writing to `os.environ`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import warnings
from contextvars import ContextVar
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import structlog
import yaml
from feast import FeatureStore, RepoConfig

from dojo.features.spec import feast_dir
from dojo.settings import Settings, load_settings

log = structlog.get_logger(__name__)

DEFINITIONS_FILE = "fraud_features.py"
YAML_FOR_STORE = {"sqlite": "feature_store.yaml", "redis": "feature_store.redis.yaml"}
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# Settings the definitions file should use while `load_definitions` imports it.
_DEFINITION_SETTINGS: ContextVar[Settings | None] = ContextVar("definition_settings", default=None)


def definition_settings() -> Settings:
    """Settings for `feature_repo/fraud_features.py`: the caller's, else the environment's.

    Under `load_definitions` the paths follow the Settings object the component was given;
    under the plain `feast` CLI they follow DOJO_* in the environment.
    """
    return _DEFINITION_SETTINGS.get() or load_settings()


def quiet_feast_warnings() -> None:
    """Silence Feast's "experimental" RuntimeWarnings for stream and on-demand views.

    The project chose those views knowingly (see feature_repo/fraud_features.py). Feast
    installs a `simplefilter("once")` when `feast.stream_feature_view` is imported and then
    warns on every registry read, so this filter must be added after that import. That
    "once" filter also shows every DeprecationWarning, e.g. from ibis (which runs Feast's DuckDB
    offline store) on each query when DuckDB deprecates a method it calls, as DuckDB 2.0 did;
    those say nothing to a user either.
    """
    import feast.stream_feature_view  # noqa: F401

    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"feast\.")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ibis\.")


def redis_connection_string(redis_url: str) -> str:
    """`redis://[:pw@]host:port/db` -> Feast's `host:port,db=N[,password=pw]`."""
    parts = urlsplit(redis_url)
    conn = f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
    db = parts.path.strip("/")
    if db:
        conn += f",db={db}"
    if parts.password:
        conn += f",password={parts.password}"
    if parts.scheme == "rediss":
        conn += ",ssl=true"
    return conn


def feast_env(settings: Settings) -> dict[str, str]:
    """The variables `feature_store*.yaml` refers to, for the Python API and the feast CLI."""
    return {
        "DOJO_HOME": str(settings.home),
        "DOJO_FEAST_REDIS": redis_connection_string(settings.redis_url),
    }


def yaml_path(settings: Settings) -> Path:
    return settings.feature_repo / YAML_FOR_STORE[settings.online_store]


def expand(text: str, variables: dict[str, str]) -> str:
    """`os.path.expandvars` semantics (what Feast applies), with settings before the env."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, os.environ.get(name, match.group(0)))

    return _VAR.sub(value, text)


def repo_config(settings: Settings, **overrides: Any) -> RepoConfig:
    """The parsed Feast config for these settings (nothing is created on disk).

    ``overrides`` replace top-level keys, e.g. ``offline_store={"type": "file"}`` to compare
    another offline store on the same repo.
    """
    raw = yaml.safe_load(expand(yaml_path(settings).read_text(), feast_env(settings)))
    config = RepoConfig(**{**raw, **overrides})
    config.repo_path = settings.feature_repo
    return config


def open_store(settings: Settings) -> FeatureStore:
    """A FeatureStore client; makes the local state folder, opens no connection yet."""
    feast_dir(settings).mkdir(parents=True, exist_ok=True)
    return FeatureStore(repo_path=str(settings.feature_repo), config=repo_config(settings))


def load_definitions(settings: Settings) -> ModuleType:
    """Import the repo's definitions file under a private name (not `feast apply`'s cwd trick).

    Feast's own loader chdirs into the repo and imports files by relative path; importing by
    file location instead leaves the working directory alone, which matters in a long-running
    process and in tests.
    """
    path = settings.feature_repo / DEFINITIONS_FILE
    name = "dojo_feature_repo_definitions"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no Feast definitions at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    token = _DEFINITION_SETTINGS.set(settings)
    try:
        spec.loader.exec_module(module)
    finally:
        _DEFINITION_SETTINGS.reset(token)
        sys.modules.pop(name, None)
    return module


def feast_objects(module: ModuleType) -> list[object]:
    """Every Feast object a definitions module declares (what `feast apply` would collect)."""
    from feast import (
        Entity,
        FeatureService,
        FeatureView,
        OnDemandFeatureView,
        RequestSource,
    )
    from feast.data_source import DataSource

    kinds = (Entity, DataSource, FeatureView, OnDemandFeatureView, FeatureService,
             RequestSource)
    objects: list[object] = []
    for value in vars(module).values():
        if isinstance(value, kinds) and not any(value is seen for seen in objects):
            objects.append(value)
    return objects


def apply_definitions(settings: Settings, store: FeatureStore | None = None) -> FeatureStore:
    """Register the repo's definitions (idempotent) and create the online tables."""
    store = store or open_store(settings)
    objects = feast_objects(load_definitions(settings))
    store.apply(objects)
    log.info("feast.applied", objects=len(objects), registry=str(store.config.registry.path))
    return store
