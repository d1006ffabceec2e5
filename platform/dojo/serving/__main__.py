"""`python -m dojo.serving`: the model server without the `dojo` CLI.

Why a second entry point: the container image carries only the serving packages, and the CLI
imports every command group (the stack's supervisor, Airflow's client, ...). Configuration is
the same DOJO_* settings `dojo serve` reads.
"""

from __future__ import annotations

import sys

from dojo.settings import Settings, SettingsError, load_settings


def settings_or_report() -> Settings | None:
    """The settings, or None after printing the one line that names the bad variable."""
    try:
        return load_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def main() -> int:
    settings = settings_or_report()
    if settings is None:
        return 2
    from dojo.serving.server import run

    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
