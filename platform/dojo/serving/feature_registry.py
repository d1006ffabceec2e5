"""`python -m dojo.serving.feature_registry`: write Feast's registry for this pod, then exit.

Why each model-server pod writes its own: the registry is a file derived only from the code in
`feature_repo/` (the same image gives the same registry), while the feature values live in the
shared online store (Redis). On Kubernetes an init container runs this into the pod's own
volume, so replicas on different nodes need no shared disk and no writer to wait for.

Why here and not `dojo features apply`: the serving image has no CLI dependencies (supervisor,
DuckDB); this uses the same offline-store stand-in the server reads with (Dask).
"""

from __future__ import annotations

import sys

from dojo.serving.__main__ import settings_or_report


def main() -> int:
    settings = settings_or_report()
    if settings is None:
        return 2
    from feast import FeatureStore

    from dojo.features import spec
    from dojo.features.store import apply_definitions, quiet_feast_warnings, repo_config

    quiet_feast_warnings()
    spec.feast_dir(settings).mkdir(parents=True, exist_ok=True)
    store = FeatureStore(repo_path=str(settings.feature_repo),
                         config=repo_config(settings, offline_store={"type": "dask"}))
    apply_definitions(settings, store)
    print(f"feature registry written: {store.config.registry.path}; the server reads it next")
    return 0


if __name__ == "__main__":
    sys.exit(main())
