"""The ``activation-kb`` command line: thin click wrappers over the library.

Exit codes: 0 success, 1 failure (or "not found" for lookups), 2 bad usage or bad input,
3 report found incidents and ``--fail-on-spike`` was given, 4 a machine is expired or a KMS host
is (or is forecast within 14 days to be) below its threshold and ``--fail-on-risk`` was given.
"""

from __future__ import annotations

import click

from .. import __version__
from . import catalogue, events, explore, health, report, simulate
from ._common import AppGroup

__all__ = ["cli"]


@click.group(cls=AppGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="activation-kb")
def cli() -> None:
    """Windows volume-activation errors: look up codes, load fleet telemetry, run reports."""


for _module in (catalogue, events, simulate, report, health, explore):
    _module.register(cli)
