"""Imports inside `dojo` point one way: no cycles, and each layer imports only layers below it.

Why a test: a cycle held together by imports inside functions works until someone moves one
of them to the top of a file; a runtime that imports the training code cannot be started
without it. Both are read from the source, function-level imports included (imports that only
type checkers run are left out), so nothing is imported to check them.
"""

from __future__ import annotations

import pytest

from dojo.runtime.airflow import preload_modules
from dojo.runtime.import_graph import cycles, imports_in, module_graph

# Lowest first. A package may import the ones before it, never the ones after it.
LAYERS = (
    ("dojo", "dojo.settings", "dojo.contracts"),
    ("dojo.runtime",),
    ("dojo.synthetic",),
    ("dojo.ingestion",),
    ("dojo.features",),
    ("dojo.training",),
    ("dojo.serving",),
    ("dojo.delivery",),
    ("dojo.monitoring",),
    ("dojo.teaching",),
    ("dojo.cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def layer_of(module: str) -> str:
    top = ".".join(module.split(".")[:2])
    return top if top in RANK else "dojo"


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return module_graph()


def test_the_package_has_no_import_cycle(graph: dict[str, set[str]]) -> None:
    assert len(graph) > 50  # the whole package was read
    assert cycles(graph) == []


def test_each_layer_imports_only_layers_below_it(graph: dict[str, set[str]]) -> None:
    upward = sorted(
        f"{source} imports {target}"
        for source, targets in graph.items() for target in targets
        if RANK[layer_of(target)] > RANK[layer_of(source)]
    )
    assert upward == []


def test_every_layer_has_a_home(graph: dict[str, set[str]]) -> None:
    assert {layer_of(m) for m in graph} == set(RANK)


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import() -> None:
    # generator imports drift at the top; drift imports generator inside a function
    drift = imports_in("def apply():\n    from dojo.synthetic import generator\n",
                       "dojo.synthetic.drift")
    graph = {"dojo.synthetic.generator": {"dojo.synthetic.drift"}, "dojo.synthetic.drift": drift,
             "dojo.synthetic.vocabulary": set()}
    assert cycles(graph) == [["dojo.synthetic.drift", "dojo.synthetic.generator"]]


def test_type_checking_imports_do_not_count() -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
              "    from dojo.synthetic.generator import World\nelse:\n    import dojo.settings\n")
    assert imports_in(source) == {"dojo.settings"}


def test_the_scheduler_preloads_everything_the_training_tasks_import() -> None:
    preload = set(preload_modules())
    # the DAG's tasks import the pipeline inside their bodies; the pipeline imports each
    # step's module inside the function that runs it
    assert {"dojo.training.pipeline", "dojo.training.dataset", "dojo.training.models",
            "dojo.training.publish", "dojo.features.store"} <= preload
    assert not {m for m in preload if m.startswith(("dojo.cli", "dojo.teaching"))}
