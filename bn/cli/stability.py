"""``bn stability``: the most probable explanation beside the marginals, and the same-decision probability."""

from __future__ import annotations

import argparse
import json

from bn.cli.common import case_arguments, findings_line, header, load_case, target_argument
from bn.present import DISCLAIMER, percent_fine
from bn.target import SOURCE_SHORT


def add_parser(subparsers) -> None:
    """Register ``bn stability``."""
    s = subparsers.add_parser("stability", help="most probable explanation vs marginals, same-decision probability",
                       description="The jointly most probable diagnoses beside the marginals, and the probability "
                                   "that observing the remaining history and examination findings would leave "
                                   "the leading knee-pain source (or a threshold decision) unchanged.")
    case_arguments(s)
    target_argument(s)
    s.add_argument("--threshold", type=float, help="decide 'P(target) >= threshold' instead of the leading source")
    s.add_argument("--observe", action="append", metavar="VAR",
                   help="a finding in the observation set (repeatable; default: unobserved history and exam)")
    s.add_argument("--samples", type=int, default=1000, help="Monte Carlo samples when the set is too large "
                                                             "for exact enumeration")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bn.stability import stability

    net, evidence = load_case(args)
    st = stability(net, evidence, observe=args.observe, target=args.target, threshold=args.threshold,
                   samples=args.samples, seed=args.seed)
    if args.json:
        print(json.dumps(st.to_dict(), indent=2, allow_nan=False))
        return 0
    present = [net.network[v].display_label for v, s in st.explanation.items() if s == net.network[v].on_state]
    sd = st.same_decision
    how = "exact" if sd.method == "exact" else f"Monte Carlo, {sd.samples} samples, seed {sd.seed}, " \
                                               f"standard error {sd.standard_error:.3f}"
    lines = [header(net), findings_line(evidence, net.network), "",
             f"most probable combination of diagnoses (p = {percent_fine(st.explanation_probability)}): "
             + (", ".join(present) or "none present")]
    lines += [f"  note: {n}" for n in st.notes]
    lines += ["", f"decision now: {SOURCE_SHORT.get(sd.decision, sd.decision)}",
              f"same-decision probability after observing {len(sd.observe)} more findings: "
              f"{percent_fine(sd.probability)} ({how})"]
    if sd.outcomes:
        outcomes = sorted(sd.outcomes.items(), key=lambda kv: -kv[1])
        lines.append("  decision after observing them: "
                     + ", ".join(f"{SOURCE_SHORT.get(k, k)} {percent_fine(v)}" for k, v in outcomes))
    lines += ["", DISCLAIMER]
    print("\n".join(lines))
    return 0
