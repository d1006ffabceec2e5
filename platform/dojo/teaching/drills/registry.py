"""Find every drill: each module under ``dojo/teaching/drills/`` that defines a ``Drill`` subclass.

Why discovery instead of a hand-kept list: a later issue adds a drill by adding one module
(e.g. ``consumer_stopped.py``); nothing else has to be edited, and a test checks each drill
found here has a runbook that matches its fix.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from dojo.teaching import drills as package
from dojo.teaching.drills.base import Drill

_NOT_DRILLS = frozenset({"base", "registry", "state", "engine"})


class UnknownDrill(KeyError):
    """No drill by that name; the message lists the ones that exist."""

    def __str__(self) -> str:
        return str(self.args[0])


def discover() -> dict[str, type[Drill]]:
    """Name -> drill class, for every drill module in the package, sorted by name."""
    found: dict[str, type[Drill]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name in _NOT_DRILLS or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Drill) and not inspect.isabstract(cls) \
                    and cls.__module__ == module.__name__:
                if cls.name in found:
                    raise RuntimeError(f"two drills are named {cls.name!r}: "
                                       f"{found[cls.name].__module__} and {cls.__module__}")
                found[cls.name] = cls
    return dict(sorted(found.items()))


def get_drill(name: str) -> Drill:
    """An instance of the named drill, or UnknownDrill naming the choices."""
    drills = discover()
    if name not in drills:
        raise UnknownDrill(f"no drill named {name!r} (drills: {', '.join(drills) or 'none'})")
    return drills[name]()
