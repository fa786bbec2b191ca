"""``bn report``: a printable one-page summary of a case (HTML with print CSS), for handing out or filing."""

from __future__ import annotations

import argparse
import sys

from bn.cli.common import finding_arguments
from bn.errors import BNError


def add_parser(subparsers) -> None:
    """Register ``bn report``."""
    r = subparsers.add_parser(
        "report", help="a printable one-page case summary (HTML)",
        description="One page for a case: the network's id, version and hash, the findings, the knee-pain sources "
                    "with their 90%% intervals, the differential, the weight of each finding, the findings that "
                    "would help most next, and the disclaimer. Example: bn report examples/case.json --out "
                    "case.html")
    r.add_argument("case", metavar="CASE", help="a case file (JSON or YAML)")
    r.add_argument("--network", metavar="NETWORK",
                   help="the network (default: the one the case file names, else l4l5_knee)")
    finding_arguments(r)  # added to, or overriding, the case's
    r.add_argument("--out", metavar="FILE.html", help="write the page here")
    r.add_argument("--json", action="store_true", help="print the report's content as JSON instead")
    r.add_argument("--draws", type=int, default=300, metavar="N",
                   help="joint parameter draws for the sources' 90%% intervals (seeded; default 300)")
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import bn
    from bn.case_report import case_report
    from bn.evidence import Evidence, read_case
    from bn.files import write_text

    if not args.out and not args.json:
        raise BNError("say where the page goes: --out FILE.html (or --json for its content)")
    if args.draws < 1:
        raise BNError(f"--draws must be at least 1 (got {args.draws})")
    case = read_case(args.case)
    net = bn.load(args.network or case.network or "l4l5_knee")
    if case.network and args.network and case.network.partition("@")[0] != net.info.id:
        print(f"bn: note: the case file was made for network '{case.network}', reporting on '{net.info.id}'",
              file=sys.stderr)
    evidence = net.evidence(case.evidence.merged(Evidence.from_strings(args.evidence, args.soft)))
    report = case_report(net, evidence, note=case.note, draws=args.draws)
    if args.json:
        print(report.to_json())
    if args.out:
        write_text(args.out, report.to_html())
        info = net.info
        print(f"case summary for {info.id} {info.version} (sha256 {info.sha256[:16]}...) -> {args.out}",
              file=sys.stderr if args.json else sys.stdout)
    return 0
