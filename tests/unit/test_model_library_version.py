"""The model server refuses a version saved with another scikit-learn major.minor, and says so
with both versions; the alias watcher then keeps serving the model it has."""

from __future__ import annotations

import pytest

from dojo.serving.alias_watcher import AliasWatcher
from dojo.serving.lru_cache import LRUCache
from dojo.serving.metrics import ServingMetrics
from dojo.serving.model_loading import LoadedModel, ModelLoadError, check_library_version
from serving_support import MemoryRegistry, loaded


@pytest.mark.parametrize("logged", ["1.9.1", "1.9.0", "1.9", None, ""])
def test_same_minor_release_or_no_record_loads(logged: str | None) -> None:
    check_library_version("fraud", "3", logged, installed="1.9.1")


@pytest.mark.parametrize("logged", ["1.8.2", "1.10.0", "0.9.1", "2.9.1"])
def test_another_major_minor_is_refused_naming_both(logged: str) -> None:
    with pytest.raises(ModelLoadError) as refused:
        check_library_version("fraud", "3", logged, installed="1.9.1")
    message = str(refused.value)
    assert f"fraud v3 was saved with scikit-learn {logged}" in message
    assert "this server runs scikit-learn 1.9.1" in message


def test_installed_version_is_this_process_s() -> None:
    import sklearn

    check_library_version("fraud", "3", sklearn.__version__)
    with pytest.raises(ModelLoadError, match=sklearn.__version__):
        check_library_version("fraud", "3", "0.1.0")


class SkewedRegistry(MemoryRegistry):
    """v2 was saved with another scikit-learn: loading it fails as the real loader does."""

    def load(self, version: str) -> LoadedModel:
        self.loads.append(version)  # every download attempt, refused or not
        if version == "2":
            check_library_version(self.name, version, "1.5.2", installed="1.9.1")
        return self.versions[version]


def test_watcher_keeps_the_served_model_and_reports_the_refusal() -> None:
    registry = SkewedRegistry({"1": loaded("1"), "2": loaded("2")}, {"champion": "1"})
    metrics = ServingMetrics()
    watcher = AliasWatcher(registry, LRUCache(4, 10**9), metrics, poll_s=60, retry_s=60)
    watcher.refresh()
    registry.aliases["champion"] = "2"
    assert watcher.refresh() == []
    assert watcher.champion is not None and watcher.champion.model.version == "1"
    assert watcher.problem is not None
    assert "scikit-learn 1.5.2" in watcher.problem and "scikit-learn 1.9.1" in watcher.problem
    failed = metrics.registry.get_sample_value("dojo_serving_model_reloads_total",
                                               {"alias": "champion", "outcome": "failed"})
    assert failed == 1.0


def test_a_refused_version_is_not_downloaded_again_until_the_alias_moves() -> None:
    registry = SkewedRegistry({"1": loaded("1"), "2": loaded("2"), "3": loaded("3")},
                                {"champion": "2"})
    watcher = AliasWatcher(registry, LRUCache(4, 10**9), ServingMetrics(), poll_s=60, retry_s=60)
    for _ in range(3):  # each retry round reports the refusal without a new download
        assert watcher.refresh() == []
        assert watcher.problem is not None and "scikit-learn 1.5.2" in watcher.problem
    assert registry.loads == ["2"]
    registry.aliases["champion"] = "3"
    assert watcher.refresh() == ["champion: (none) -> v3"]
    assert watcher.problem is None and registry.loads == ["2", "3"]
