"""``bn check``: validate a network file (or a published reference) and print every problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register ``bn check``."""
    c = subparsers.add_parser("check", help="validate a network file and print every problem")
    c.add_argument("file", metavar="FILE", help="a network file, or a published reference such as l4l5_knee@2.0.0")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bn.errors import NetworkFileError
    from bn.interop import read_standard, standard_format
    from bn.netfile import check_network_file, read_network_file

    path = Path(args.file)
    if not path.exists() and "/" not in args.file:
        from bn.registry import resolve

        path = resolve(args.file)  # a published reference (l4l5_knee@2.0.0): check its file
    if standard_format(path):
        try:
            network = read_standard(path)
        except NetworkFileError as exc:
            network, problems = None, exc.problems
        else:
            problems = []
    else:
        problems = check_network_file(path)
        network = read_network_file(path) if not problems else None
    if network is not None:
        from bn.provenance import provenance_problems
        from bn.registry import pinned

        # Not load errors (published versions stay loadable), but a file with them is not fit to publish.
        problems = provenance_problems(network)
        info = network.info
        published_sha = pinned(info.id).get(info.version)
        if published_sha not in (None, info.sha256):
            problems = [*problems, f"{path}: claims {info.id} {info.version}, which was published with sha256 "
                                   f"{published_sha}; this file's is {info.sha256}"]
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {path}", file=sys.stderr)
        return 1
    counts = network.provenance_counts()
    print(f"OK {path}: {network.id} {network.version}, {len(network.variables)} variables, "
          f"{counts['total']} parameters ({counts['cited']} cited, {counts['expert_estimate']} expert "
          f"estimates, {counts['uncited']} uncited), sha256 {network.info.sha256}")
    return 0
