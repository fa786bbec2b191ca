"""``bn export``: a network as BIF or XMLBIF."""

from __future__ import annotations

import argparse
import sys

from bn.errors import BNError


def add_parser(subparsers) -> None:
    """Register ``bn export``."""
    x = subparsers.add_parser("export", help="write the network as BIF or XMLBIF (GeNIe, SamIam, pyAgrum)")
    x.add_argument("network", metavar="NETWORK")
    x.add_argument("--format", choices=["bif", "xmlbif"], default="bif")
    x.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    x.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bn.files import write_text
    from bn.interop import export
    from bn.registry import read_network

    network = read_network(args.network)
    text = export(network, args.format)
    if args.out:
        try:
            write_text(args.out, text)
        except OSError as exc:
            raise BNError(f"cannot write '{args.out}': {exc.strerror or exc}") from None
        print(f"wrote {args.out} ({args.format}, {len(network.variables)} variables) from "
              f"{network.id} {network.version} sha256 {network.info.sha256[:16]}...", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
