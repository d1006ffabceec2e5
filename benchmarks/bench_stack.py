"""How long until the local stack is usable, against its slowest component started alone?

`dojo up` starts every component at once, each as soon as the ones it needs are healthy, so
its floor is the slowest single component; what it takes beyond that is the cost of the
processes importing their libraries together on the machine's cores. Airflow's four processes
start on demand (DOJO_AIRFLOW_START): the first Airflow call pays for them. Measured in one run
with everything already installed: `dojo up` on a fresh state directory (MLflow migrates its
database), a second `dojo up` (state kept), the on-demand start of Airflow after it (its first
start migrates Airflow's database), `dojo up` with Airflow started with the rest, then each
component restarted alone while the rest run, until its health check passes. The slowest of
those is the baseline.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


from _report import report
from dojo.runtime.sandbox import EnvPatch, sandbox_env
from dojo.runtime.stack import Stack
from dojo.settings import load_settings

TARGET_S = 30.0


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def alone(stack: Stack) -> dict[str, float]:
    """Seconds from start to healthy for each component, restarted while the others run."""
    seconds = {}
    for component in (c for c in stack.components() if c.supervised):
        stack.stop(component.name)
        seconds[component.name] = timed(lambda name=component.name: stack.start(name))
        print(f"  {component.name} alone: {seconds[component.name]:.1f} s", flush=True)
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name, \
            EnvPatch(sandbox_env(Path(tmp_name) / "home")):
        stack = Stack(load_settings())
        try:
            first = timed(stack.up)
            print(f"  dojo up, fresh state dir: {first:.1f} s", flush=True)
            stack.down()
            second = timed(stack.up)
            print(f"  dojo up, second start: {second:.1f} s", flush=True)
            lazy = timed(stack.start_on_demand)
            print(f"  first Airflow call -> Airflow started on demand: {lazy:.1f} s", flush=True)
            stack.down()
            eager = timed(lambda: stack.up(with_on_demand=True))
            print(f"  dojo up with Airflow (DOJO_AIRFLOW_START=with-stack): {eager:.1f} s",
                  flush=True)
            each = alone(stack)
        finally:
            stack.down()
    slowest = max(each, key=each.__getitem__)
    baseline = each[slowest]
    rows = [
        {"measure": f"slowest component alone ({slowest}) -> healthy (baseline)",
         "value": baseline, "unit": "s", "ratio": 1.0},
        {"measure": "dojo up, fresh state dir -> every started component healthy "
                    "(Airflow on demand)", "value": first, "unit": "s", "ratio": first / baseline},
        {"measure": "dojo up, second start -> every started component healthy "
                    "(Airflow on demand)", "value": second, "unit": "s",
         "ratio": second / baseline},
        {"measure": "first Airflow call after dojo up -> Airflow's four processes healthy",
         "value": lazy, "unit": "s", "ratio": lazy / baseline},
        {"measure": "dojo up with DOJO_AIRFLOW_START=with-stack -> every component healthy",
         "value": eager, "unit": "s", "ratio": eager / baseline},
        *({"measure": f"{name} alone -> healthy", "value": value, "unit": "s",
           "ratio": value / baseline} for name, value in sorted(each.items())),
    ]
    verdict = "within" if second <= TARGET_S else "over"
    report("stack_up", f"slowest component alone: {slowest}", rows,
           notes=f"Second start {second:.1f} s: {verdict} the {TARGET_S:.0f} s target. "
                 "`make up` adds ~1 s of make/uv checks when already installed.")


if __name__ == "__main__":
    main()
