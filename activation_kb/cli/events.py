"""CLI commands for the events part of activation_kb."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""
