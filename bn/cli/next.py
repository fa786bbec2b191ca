"""``bn next``: which finding to look for next (value of information)."""

from __future__ import annotations

import argparse
import json

from bn.cli.common import case_arguments, findings_line, header, load_case, target_argument
from bn.errors import BNError
from bn.present import DISCLAIMER, percent_fine


def add_parser(subparsers) -> None:
    """Register ``bn next``."""
    n = subparsers.add_parser("next", help="which finding to look for next (value of information)",
                       description="Rank unobserved findings by expected information about the target.")
    case_arguments(n)
    target_argument(n, extra=" or 'diagnoses' (all diagnoses jointly)")
    n.add_argument("--measure", choices=["mi", "change"], default="mi",
                   help="mi: mutual information in bits; change: expected absolute change of P(target)")
    n.add_argument("--cost-weight", type=float, default=0.0, metavar="A",
                   help="score = information - A * cost (costs from the network file)")
    n.add_argument("--cost", action="append", default=[], metavar="VAR=COST", help="override a finding's cost")
    n.add_argument("--top", type=int, default=10, metavar="K", help="show the K best (0: all)")
    n.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bn.voi import next_best

    net, evidence = load_case(args)
    costs = {}
    for text in args.cost:
        var, sep, value = text.partition("=")
        try:
            costs[var.strip()] = float(value)
        except ValueError:
            raise BNError(f"malformed --cost '{text}': expected VAR=COST, e.g. mri_stenosis=20") from None
        if not sep:
            raise BNError(f"malformed --cost '{text}': expected VAR=COST")
    ranking = next_best(net, evidence, target=args.target, measure=args.measure, cost_weight=args.cost_weight,
                        costs=costs, top=args.top or None)
    if args.json:
        print(json.dumps(ranking.to_dict(), indent=2, allow_nan=False))
        return 0
    current = ranking.current
    now = percent_fine(current) if isinstance(current, float) else "see diagnoses"
    unit = "bits" if ranking.measure == "mi" else "expected change"
    lines = [header(net), findings_line(evidence, net.network), f"target: {ranking.target_label} (now {now}); "
             f"measure {ranking.measure} ({unit}), cost weight {ranking.cost_weight:g}", ""]
    for i, c in enumerate(ranking.ranking, 1):
        lines.append(f"{i:>3}. {c.label} [{c.group or '-'}, cost {c.cost:g}] score {c.score:.4f}")
        lines.append(f"       {c.summary()}")
    lines += ["", DISCLAIMER]
    print("\n".join(lines))
    return 0
