"""What every `dojo` command shares: settings loading with a one-line error, the console."""

from __future__ import annotations

import typer
from rich.console import Console

from dojo.logs import configure_logging
from dojo.settings import Settings, SettingsError, load_settings

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line saying what is wrong and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=code)


def settings_or_exit() -> Settings:
    """Settings from the environment; a bad value ends the command naming the variable.

    Every command that does work loads its settings here, so this is also where the process's
    logging is configured (level from DOJO_LOG_LEVEL; JSON lines unless stderr is a terminal).
    """
    try:
        settings = load_settings()
    except SettingsError as error:
        raise fail(str(error), code=2) from None
    configure_logging(settings.log_level)
    return settings
