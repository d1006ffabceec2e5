"""Follow the registry's aliases and swap the served model when one moves.

Why a swap of one reference: a request (in fact a whole micro-batch) reads the champion
reference once and scores with that object, so it sees either the old model or the new one,
both fully loaded. The new version is downloaded and loaded *before* the reference moves;
nothing is ever half-loaded in service, and no lock sits on the request path.

Why poll: MLflow has no change notifications. The registry answers an alias lookup in a few
milliseconds, so a poll every few seconds is cheap, and the same loop retries at a shorter
interval while no model could be loaded yet (registry down at start).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
import structlog

from dojo.serving.lru_cache import LRUCache
from dojo.serving.metrics import ServingMetrics
from dojo.serving.model_loading import LoadedModel, ModelLoadError, load_version
from dojo.settings import Settings
from dojo.training.registry import CHALLENGER, CHAMPION

log = structlog.get_logger(__name__)


class Registry(Protocol):
    """Where versions come from: MLflow in service, an in-memory stand-in in unit tests."""

    name: str

    def unreachable(self) -> str | None: ...
    def alias_version(self, alias: str) -> str | None: ...
    def load(self, version: str) -> LoadedModel: ...


class MlflowRegistry:
    """The MLflow model registry of the settings (the tracking server)."""

    def __init__(self, settings: Settings) -> None:
        self.uri = settings.tracking_uri
        self.name = settings.registered_model
        self.default_threshold = settings.serving_default_threshold
        self._client = None

    def unreachable(self) -> str | None:
        """One short health request: MLflow's client would retry a refused connection with
        backoff for minutes before it raised."""
        try:
            response = httpx.get(f"{self.uri}/health", timeout=3.0)
        except httpx.HTTPError as error:
            return f"registry {self.uri} unreachable ({type(error).__name__})"
        if response.status_code != 200:
            return f"registry {self.uri} answered /health with {response.status_code}"
        return None

    def alias_version(self, alias: str) -> str | None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        if self._client is None:
            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        try:
            return str(self._client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException as error:
            if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE",
                                    "NOT_FOUND"}:
                return None
            raise

    def load(self, version: str) -> LoadedModel:
        return load_version(self.uri, self.name, version, self.default_threshold)


@dataclass(frozen=True)
class Served:
    """What one alias serves right now (replaced whole on every change)."""

    alias: str
    model: LoadedModel
    since: datetime


class AliasWatcher:
    """Keeps `champion` (and `challenger` when routing needs it) loaded and current."""

    def __init__(self, registry: Registry, cache: LRUCache[LoadedModel], metrics: ServingMetrics,
                 poll_s: float, retry_s: float,
                 wants_challenger: Callable[[], bool] = lambda: False,
                 check_model: Callable[[LoadedModel], None] = lambda _m: None) -> None:
        self.registry = registry
        self.cache = cache
        self.metrics = metrics
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.wants_challenger = wants_challenger
        self.check_model = check_model
        self.champion: Served | None = None
        self.challenger: Served | None = None
        self.problem: str | None = "the first registry lookup has not finished yet"
        self.checked_at: datetime | None = None
        # alias -> (version, reason) of a version the server refused (ModelLoadError): a
        # version is immutable and so is this process' library, so the same version is not
        # downloaded again every retry (it was, every 2 s) until the alias moves.
        self._refused: dict[str, tuple[str, str]] = {}
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alias-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as error:  # the watcher must outlive any registry surprise
                self.problem = f"alias lookup failed: {type(error).__name__}: {error}"[:300]
                log.warning("serving.alias_lookup_failed", error=self.problem)
            self._stop.wait(self.poll_s if self.champion and not self.problem else self.retry_s)

    # ------------------------------------------------------------------ one round
    def refresh(self) -> list[str]:
        """Look up the aliases once; load and swap what moved. Returns what changed."""
        with self._refresh_lock:
            self.checked_at = datetime.now(UTC)
            down = self.registry.unreachable()
            if down:
                self.problem = down
                return []
            changes: list[str] = []
            problems: list[str] = []
            aliases = [CHAMPION, *([CHALLENGER] if self.wants_challenger() else [])]
            for alias in aliases:
                change, problem = self._follow(alias)
                changes.extend(change)
                problems.extend(problem)
            if CHALLENGER not in aliases and self.challenger is not None:
                self.challenger = None
                changes.append(f"{CHALLENGER}: unloaded (routing is off)")
            self.problem = "; ".join(problems) or None
            return changes

    def _follow(self, alias: str) -> tuple[list[str], list[str]]:
        current: Served | None = getattr(self, alias)
        version = self.registry.alias_version(alias)
        if version is None:
            if alias == CHALLENGER:
                if current is not None:
                    self.challenger = None
                    return [f"{alias}: v{current.model.version} -> (none)"], []
                return [], []
            # Keep serving what is loaded: a deleted alias is a mistake to report, not a
            # reason to stop answering.
            return [], [f"no version of {self.registry.name!r} has the alias {alias!r}"]
        if current is not None and current.model.version == version:
            return [], []
        refused = self._refused.get(alias)
        if refused is not None and refused[0] == version:
            return [], [refused[1]]
        key = f"{self.registry.name}/{version}"
        model = self.cache.get(key)
        try:
            if model is None:
                model = self.registry.load(version)
                self.check_model(model)
                evicted = self.cache.put(key, model, model.size_bytes)
                self.metrics.cache_evictions.inc(len(evicted))
                self.metrics.cache_bytes.set(self.cache.total_bytes)
                self.metrics.cache_entries.set(len(self.cache))
        except Exception as error:
            self.metrics.reloads.labels(alias, "failed").inc()
            reason = f"cannot load {self.registry.name} v{version} ({alias}): " \
                     f"{type(error).__name__}: {error}"[:400]
            log.warning("serving.load_failed", alias=alias, version=version, error=reason)
            if isinstance(error, ModelLoadError):
                self._refused[alias] = (version, reason)
            return [], [reason]
        before = f"v{current.model.version}" if current else "(none)"
        setattr(self, alias, Served(alias, model, datetime.now(UTC)))  # the atomic swap
        self.metrics.reloads.labels(alias, "loaded").inc()
        self.metrics.model.labels(alias).info({"name": model.name, "version": model.version})
        log.info("serving.model_swapped", alias=alias, before=before, after=model.version)
        return [f"{alias}: {before} -> v{model.version}"], []
