"""What every `dojo` command shares: settings loading with a one-line error, the consoles."""

from __future__ import annotations

import sys
from typing import TextIO

import typer
from rich.console import Console

from dojo.logs import configure_logging
from dojo.settings import Settings, SettingsError, load_settings

# How wide `dojo` writes when its output is not a terminal (a pipe, a file, CI logs, a lab
# step). Why fixed: Rich would otherwise take $COLUMNS or fall back to 80, so a table wrapped
# differently depending on who ran the command, and a lab check reading that table passed for
# one learner and failed for another. 120 holds every table the labs print on one line per
# row. On a terminal, output fits the window, as people expect.
PIPED_WIDTH = 120


def output_width(stream: TextIO) -> int | None:
    """None (Rich asks the terminal) on a terminal, PIPED_WIDTH anywhere else."""
    return None if stream.isatty() else PIPED_WIDTH


def make_console(*, stderr: bool = False, soft_wrap: bool = False) -> Console:
    """A console as wide as the terminal, or exactly PIPED_WIDTH when not writing to one."""
    width = output_width(sys.stderr if stderr else sys.stdout)
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=soft_wrap)


console = make_console()
err_console = make_console(stderr=True, soft_wrap=True)


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
