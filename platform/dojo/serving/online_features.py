"""Read the `fraud_model` features of a batch of transactions from Feast's online store.

Why one read per micro-batch: Feast's per-call overhead (registry lookup, response building)
is most of a single-entity read, so N concurrent requests cost about one read, not N.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from dojo.contracts import Transaction
from dojo.features import spec
from dojo.settings import Settings

# The features `fraud_model` serves (user view, merchant view, on-demand view), by name.
ODFV_FEATURES: tuple[str, ...] = ("amount_to_user_mean_24h",)
SERVICE_FEATURES: tuple[str, ...] = (*spec.USER_FEATURES, *spec.MERCHANT_FEATURES,
                                     *ODFV_FEATURES)
# Feast's suffix for a feature's event timestamp in `to_dict(include_event_timestamps=True)`.
TS_SUFFIX = "__ts"
USER_TS_FEATURE = "txn_count_24h"


class FeaturesUnavailable(RuntimeError):
    """The online store did not answer; the message is the reason shown to operators."""


@dataclass
class Fetched:
    columns: dict[str, list[Any]]  # feature name -> one value per transaction (None: missing)
    user_ts: list[float | None]  # event time (epoch s) of the user row read, None: no row


class FeatureSource(Protocol):
    def fetch(self, transactions: list[Transaction]) -> Fetched: ...
    def unavailable(self) -> str | None: ...
    def warm_up(self) -> None: ...


class OnlineFeatures:
    """Feast client for the settings' online store (SQLite or Redis), opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Any = None
        self._service: Any = None
        self._lock = threading.Lock()
        self._probe: tuple[float, str | None] = (0.0, None)

    def _open(self) -> tuple[Any, Any]:
        with self._lock:
            if self._service is None:
                try:
                    # Inside the try: importing Feast already needs a writable temp directory
                    # (it sets up Prometheus' multiprocess folder), which a read-only container
                    # without a tmpfs lacks; that must become a reason on /ready, not a 500.
                    from feast import FeatureStore

                    from dojo.features.store import quiet_feast_warnings, repo_config

                    quiet_feast_warnings()
                    spec.feast_dir(self.settings).mkdir(parents=True, exist_ok=True)
                    # Online reads never touch the offline store, but Feast builds its config
                    # anyway: the server names Feast's default (Dask) so that its image needs
                    # neither DuckDB nor Ibis, which the training side's store uses.
                    store = FeatureStore(repo_path=str(self.settings.feature_repo),
                                         config=repo_config(self.settings,
                                                            offline_store={"type": "dask"}))
                    self._service = store.get_feature_service(spec.FEATURE_SERVICE)
                    self._store = store
                except Exception as error:
                    raise FeaturesUnavailable(
                        f"feature service {spec.FEATURE_SERVICE!r} not readable "
                        f"({type(error).__name__}: {error}); run `dojo features apply`"
                    ) from error
            return self._store, self._service

    def fetch(self, transactions: list[Transaction]) -> Fetched:
        store, service = self._open()
        rows = [{spec.USER_ENTITY_KEY: t.user_id, spec.MERCHANT_ENTITY_KEY: t.merchant_id,
                 "amount": float(t.amount)} for t in transactions]
        try:
            raw = store.get_online_features(features=service, entity_rows=rows).to_dict(
                include_event_timestamps=True)
        except Exception as error:
            raise FeaturesUnavailable(f"online store ({self.settings.online_store}) read "
                                      f"failed: {type(error).__name__}: {error}"[:300]) from error
        stamps = raw.get(USER_TS_FEATURE + TS_SUFFIX) or [0] * len(rows)
        return Fetched(
            columns={name: raw.get(name, [None] * len(rows)) for name in SERVICE_FEATURES},
            user_ts=[float(s) if s else None for s in stamps],
        )

    def warm_up(self) -> None:
        """Open the store and read once (importing Feast takes seconds), off the request path."""
        threading.Thread(target=self.unavailable, name="feast-warm-up", daemon=True).start()

    def unavailable(self) -> str | None:
        """None when a read works, else why; cached for a second so /ready stays cheap."""
        checked, reason = self._probe
        if time.monotonic() - checked < 1.0:
            return reason
        if self._service is None and self._lock.locked():
            return "the online store is being opened"
        probe = Transaction.model_construct(user_id="__ready__", merchant_id="__ready__",
                                            amount=1.0)
        try:
            self.fetch([probe])
            reason = None
        except FeaturesUnavailable as error:
            reason = str(error)
        except Exception as error:  # /ready must answer with a reason, whatever broke
            reason = f"online store check failed: {type(error).__name__}: {error}"[:300]
        self._probe = (time.monotonic(), reason)
        return reason
