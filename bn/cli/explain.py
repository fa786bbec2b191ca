"""``bn explain``: why: the weight of evidence of each finding for a target, and the case's conflict."""

from __future__ import annotations

import argparse
import json

from bn.cli.common import case_arguments, findings_line, header, load_case, target_argument
from bn.present import DISCLAIMER, percent_fine


def add_parser(subparsers) -> None:
    """Register ``bn explain``."""
    e = subparsers.add_parser("explain", help="why: the weight of evidence of each finding, and the case's conflict",
                       description="Weight of evidence (dB) of each finding for a target given the other findings, "
                                   "the posterior if it were retracted, and Jensen's conflict measure.")
    case_arguments(e)
    target_argument(e)
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bn.explain import explain

    net, evidence = load_case(args)
    ex = explain(net, evidence, target=args.target)
    if args.json:
        print(json.dumps(ex.to_dict(), indent=2, allow_nan=False))
        return 0
    lines = [header(net), findings_line(evidence, net.network),
             f"target: {ex.target_label}: prior {percent_fine(ex.prior)}, "
             f"now {percent_fine(ex.posterior)}", ""]
    if not ex.findings:
        lines.append("No findings entered: nothing to explain.")
    for f in sorted(ex.findings, key=lambda f: -abs(f.weight_db or 1e9)):
        lines.append(f"  {f.sentence}")
    c = ex.conflict
    lines += ["", f"conflict: {c.score:+.2f} bits" + (
        f" -- FLAGGED: the findings fit the model poorly together (check entry; rare presentation?); "
        f"driven by {', '.join(net.network[d].display_label for d in c.drivers)}"
        if c.flagged else " (findings are consistent)"), "", DISCLAIMER]
    print("\n".join(lines))
    return 0
