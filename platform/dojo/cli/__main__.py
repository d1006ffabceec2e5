"""`python -m dojo.cli` runs the same CLI as the `dojo` script."""

from dojo.cli.main import app

app()
