"""The feature repo applies cleanly: with the `feast` CLI, with the Python API, and on Redis.

Why both ways: learners run `feast apply` by hand in the labs, while the platform applies
through `dojo.features.store`; both must read the same YAML (with ${VAR} interpolation) and
register the same objects.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from feast.repo_config import load_repo_config

from dojo.features import spec
from dojo.features.store import apply_definitions, feast_env, repo_config, yaml_path
from dojo.runtime.ports import free_port, port_answers
from dojo.settings import Settings, load_settings

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FEAST_CLI = Path(sys.executable).with_name("feast")


def test_feast_cli_apply_succeeds(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    env = {**os.environ, **settings.as_env(), **feast_env(settings)}
    result = subprocess.run(
        [str(FEAST_CLI), "-c", str(settings.feature_repo), "apply"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "feast" / "registry.db").is_file()
    assert not list(settings.feature_repo.glob("${*"))  # no uninterpolated path was created


def test_python_api_registers_every_definition(tmp_path: Path) -> None:
    store = apply_definitions(load_settings(home=tmp_path))
    assert [v.name for v in store.list_stream_feature_views()] == [spec.USER_FEATURE_VIEW]
    assert [v.name for v in store.list_feature_views()] == [spec.MERCHANT_FEATURE_VIEW]
    assert [v.name for v in store.list_on_demand_feature_views()] == [spec.ODFV_NAME]
    service = store.get_feature_service(spec.FEATURE_SERVICE)
    served = {f"{p.name}:{f.name}" for p in service.feature_view_projections for f in p.features}
    assert served == {
        *spec.user_feature_refs(),
        *(f"{spec.MERCHANT_FEATURE_VIEW}:{name}" for name in spec.MERCHANT_FEATURES),
        f"{spec.ODFV_NAME}:amount_to_user_mean_24h",
    }
    views = {v.name: v.ttl for v in [*store.list_feature_views(),
                                     *store.list_stream_feature_views()]}
    assert all(ttl and ttl.total_seconds() > 0 for ttl in views.values())  # a TTL on each view


def test_yaml_interpolation_matches_feasts_own_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(home=tmp_path)
    for name, value in feast_env(settings).items():
        monkeypatch.setenv(name, value)
    ours = repo_config(settings)
    theirs = load_repo_config(settings.feature_repo, yaml_path(settings))
    assert ours.registry.path == theirs.registry.path == str(tmp_path / "feast" / "registry.db")
    assert ours.online_store.path == theirs.online_store.path
    assert ours.project == theirs.project


@pytest.fixture
def redis_settings(tmp_path: Path) -> Iterator[Settings]:
    """A redis-server of our own on a free port (skipped when Redis is not installed)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not on PATH (DOJO_ONLINE_STORE=redis needs a Redis)")
    if importlib.util.find_spec("redis") is None:
        pytest.skip("the `redis` client package is not installed (feast[redis] extra)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not port_answers("127.0.0.1", port):
            assert time.monotonic() < deadline, "redis-server did not open its port"
            time.sleep(0.05)
        yield load_settings(home=tmp_path, online_store="redis",
                            redis_url=f"redis://127.0.0.1:{port}/0")
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_redis_online_store_is_one_setting_away(redis_settings: Settings) -> None:
    store = apply_definitions(redis_settings)
    now = pd.Timestamp.now(tz="UTC")
    row = {"user_id": "u1", "event_timestamp": now, "created": now,
           **{name: 1 for name in spec.USER_COUNT_FEATURES},
           **{name: 2.5 for name in spec.USER_FLOAT_FEATURES}}
    store.push(spec.USER_PUSH_SOURCE, pd.DataFrame([row]))
    got = store.get_online_features(features=spec.user_feature_refs(),
                                    entity_rows=[{"user_id": "u1"}]).to_dict()
    assert got["txn_count_24h"] == [1] and got["amount_mean_24h"] == [2.5]
