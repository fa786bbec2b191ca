"""``bn limits``: the limits in force (what the tool reads and computes before it refuses), and how to set them."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    """Register ``bn limits``."""
    p = subparsers.add_parser("limits", help="show the limits on file sizes, table sizes and time budgets in force")
    p.add_argument("--json", action="store_true", help="the limits as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from bn import limits

    current = limits.current()
    if args.json:
        print(json.dumps(asdict(current), indent=2))
        return 0
    width = max(map(len, limits.NAMES))
    for name in limits.NAMES:
        value = getattr(current, name)
        shown = limits.size_text(value) if name.endswith("_bytes") else f"{value:g} s" if isinstance(value, float) \
            else f"{value:,}"
        print(f"{name:<{width}}  {shown:>12}  {limits.MEANINGS[name]}")
    print(f"\nSet them with {limits.ENVIRONMENT}=\"name=value,...\" or bn --limit name=value (before the verb); "
          "sizes take KB, MB or GB.")
    return 0
