"""Parsers and thin wrappers of the pipeline subcommands (train, evaluate, predict, report, demo)."""

from __future__ import annotations


def add_commands(sub, add_config_args) -> None:
    """Register the pipeline subcommands on an argparse subparsers object."""
