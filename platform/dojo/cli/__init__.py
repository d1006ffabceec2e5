"""The `dojo` command: thin Typer commands, each calling one function of a package below.
Nothing imports the CLI."""
