"""``bn query``: posterior probabilities for a case, with each knee-pain source's interval."""

from __future__ import annotations

import argparse
import json
import textwrap

from bn.cli.common import case_arguments, findings_line, header, load_case
from bn.errors import BNError
from bn.present import DISCLAIMER, percent_fine, short_label
from bn.target import SOURCE_SHORT


def add_parser(subparsers) -> None:
    """Register ``bn query``."""
    q = subparsers.add_parser("query", help="posterior probabilities for a case",
                       description="Posterior probabilities of the diagnoses, mechanisms and knee-pain sources "
                                   "given findings. Example: bn query l4l5_knee -e knee_pain=present "
                                   "-e straight_leg_raise=positive")
    case_arguments(q)
    q.add_argument("--all", action="store_true", help="report every variable, not only diagnoses and mechanisms")
    q.add_argument("--var", action="append", default=[], metavar="VAR", help="report this variable (repeatable)")
    q.add_argument("--interval-draws", type=int, default=300, metavar="N",
                   help="joint parameter draws for each knee-pain source's 90%% interval (seeded; default 300; "
                        "0 leaves the intervals out)")
    q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    net, evidence = load_case(args)
    variables = None
    if args.all:
        variables = list(net.network.variables)
    elif args.var:
        variables = list(dict.fromkeys(args.var))
    result = net.query(evidence, variables=variables)
    if args.interval_draws < 0:
        raise BNError(f"--interval-draws must be 0 or more (got {args.interval_draws})")
    headline = None
    if net.network.knee_pain_sources and args.interval_draws:
        from bn.headline import source_headline

        headline = source_headline(net, evidence, draws=args.interval_draws)
    if args.json:
        out = result.to_dict()
        if headline is not None:
            out["knee_pain_source_interval"] = {k: list(v) for k, v in headline.intervals.items()}
            out["knee_pain_source_call"] = headline.to_dict()
        print(json.dumps(out, indent=2, allow_nan=False))
    else:
        print(format_result(net, result, headline))
    return 0


def format_result(net, result, headline=None) -> str:
    """The human-readable table ``bn query`` prints; with a :class:`bn.headline.SourceHeadline`, each source's
    90% interval under parameter uncertainty and the call said as honestly as the numbers allow."""
    network = net.network
    lines = [f"{network.title}", header(net)]
    ev = result.evidence
    lines.append(findings_line(ev, network))
    if ev:
        lines.append(f"P(findings) = {result.probability_of_evidence:.4g}")
    for alert in result.alerts:
        lines.append(f"!! RED FLAG {network[alert.id].display_label}: {alert.message}")
    width = max([len(short_label(network, v)) for v in result.posteriors] + [36])
    if result.knee_pain_source:
        extra = "   90% interval (parameter uncertainty)" if headline else ""
        lines += ["", f"{'Where does the knee pain come from?':<{width}}   prior -> posterior{extra}"]
        for key, p in sorted(result.knee_pain_source.items(), key=lambda kv: -kv[1]):
            prior = result.knee_pain_source_prior[key]
            interval = ""
            if headline:
                lo, hi = headline.intervals[key]
                interval = f"   {percent_fine(lo)} - {percent_fine(hi)}"
            lines.append(f"  {SOURCE_SHORT.get(key, key):<{width - 2}} {percent_fine(prior):>7} -> "
                         f"{percent_fine(p):>7}{interval}")
        if headline:
            lines += [f"  {line}" for line in textwrap.wrap(headline.sentence(), width=100)]
            lines.append(f"  (intervals: {headline.draws} joint parameter draws, seed {headline.seed})")
    groups: dict[str, list[str]] = {}
    for var in result.posteriors:
        role = network[var].role or "variables"
        groups.setdefault(role, []).append(var)
    titles = {"diagnosis": "Diagnoses", "mechanism": "Mechanisms", "risk_factor": "Risk factors",
              "finding": "Findings", "red_flag": "Red flags", "variables": "Variables"}
    for role, variables in groups.items():
        lines += ["", f"{titles.get(role, role):<{width}}   prior -> posterior"]
        if role == "diagnosis":
            last = {v: network[v].on_state for v in variables}
            variables = sorted(variables, key=lambda v: -result.posteriors[v][last[v]])
        for var in variables:
            post, prior = result.posteriors[var], result.priors[var]
            states = network[var].state_ids
            if len(states) == 2:
                s = network[var].on_state
                flag = "  (observed)" if var in ev.findings else ""
                lines.append(f"  {short_label(network, var):<{width - 2}} {percent_fine(prior[s]):>7} -> "
                             f"{percent_fine(post[s]):>7}  P({network[var].state_label(s).lower()}){flag}")
            else:
                lines.append(f"  {short_label(network, var)}")
                for s in states:
                    label = network[var].state_label(s)
                    label = label if len(label) <= width - 4 else label[:width - 7].rstrip(" ,(") + "..."
                    lines.append(f"    {label:<{width - 4}} {percent_fine(prior[s]):>7} -> {percent_fine(post[s]):>7}")
    mpe = result.most_probable_explanation
    if mpe is not None:
        present = [network[v].display_label for v, s in mpe.states.items() if s == network[v].on_state]
        lines += ["", f"Most probable combination of diagnoses (p = {percent_fine(mpe.probability)}): "
                      + (", ".join(present) if present else "none present")]
    lines += ["", DISCLAIMER]
    return "\n".join(lines)
