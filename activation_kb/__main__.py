"""Run the activation-kb command line: ``python -m activation_kb``."""

from .cli import cli

cli()
