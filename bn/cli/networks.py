"""``bn networks``: list the published networks and their versions."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    """Register ``bn networks``."""
    ls = subparsers.add_parser("networks", help="list the published networks and their versions")
    ls.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bn.registry import networks_dir, published

    for name, versions in published().items():
        print(f"{name}: {', '.join(versions)} (latest {versions[-1]})  [{networks_dir() / name}]")
    return 0
