"""The ``bn`` command: a thin shell over the :mod:`bn` API.

Bad input (unknown network, variable or state, malformed finding, unreadable file) prints one line on
stderr and exits with status 2; ``bn check`` exits with 1 when the file has problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bn.errors import BNError

DISCLAIMER = "Educational decision-support tool, not a medical device."


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BNError as exc:
        print(f"bn: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bn ... | head`
        return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bn", description="Bayesian-network diagnostic reasoner: is this knee pain from the L4-L5 "
                               f"segment, the knee or the hip? {DISCLAIMER}",
        epilog="NETWORK is a published id (l4l5_knee), id@version (l4l5_knee@1.0.0) or a path to a "
               ".yaml, .bif or .xmlbif file.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = sub.add_parser("query", help="posterior probabilities for a case",
                       description="Posterior probabilities of the diagnoses, mechanisms and knee-pain sources "
                                   "given findings. Example: bn query l4l5_knee -e knee_pain=present "
                                   "-e straight_leg_raise=positive")
    q.add_argument("network", metavar="NETWORK")
    q.add_argument("-e", "--evidence", action="append", default=[], metavar="VAR=STATE",
                   help="a finding (repeatable)")
    q.add_argument("--soft", action="append", default=[], metavar="VAR=STATE:LIKELIHOOD",
                   help="an uncertain finding as a likelihood, e.g. straight_leg_raise=positive:0.7, "
                        "or VAR=L1,L2,... with one likelihood per state (repeatable)")
    q.add_argument("--case", metavar="FILE", help="a case file (JSON or YAML: findings, soft_findings, note); "
                                                  "-e and --soft add to or override it")
    q.add_argument("--all", action="store_true", help="report every variable, not only diagnoses and mechanisms")
    q.add_argument("--var", action="append", default=[], metavar="VAR", help="report this variable (repeatable)")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.add_argument("--engine", choices=["einsum", "pgmpy"], default="einsum",
                   help="inference engine (pgmpy: the slow reference, for cross-checks)")
    q.set_defaults(func=_cmd_query)

    i = sub.add_parser("info", help="metadata, variables, references and provenance counts")
    i.add_argument("network", metavar="NETWORK")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_cmd_info)

    x = sub.add_parser("export", help="write the network as BIF or XMLBIF (GeNIe, SamIam, pyAgrum)")
    x.add_argument("network", metavar="NETWORK")
    x.add_argument("--format", choices=["bif", "xmlbif"], default="bif")
    x.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    x.set_defaults(func=_cmd_export)

    c = sub.add_parser("check", help="validate a network file and print every problem")
    c.add_argument("file", metavar="FILE")
    c.set_defaults(func=_cmd_check)

    n = sub.add_parser("networks", help="list the published networks and their versions")
    n.set_defaults(func=_cmd_networks)
    return p


# -- query ------------------------------------------------------------------------------------------


def _cmd_query(args: argparse.Namespace) -> int:
    import bn
    from bn.evidence import Evidence, read_case

    net = bn.load(args.network, engine=args.engine)
    evidence = Evidence.from_strings(args.evidence, args.soft)
    if args.case:
        case = read_case(args.case)
        if case.network and case.network.partition("@")[0] != net.info.id:
            print(f"bn: note: the case file was made for network '{case.network}', "
                  f"querying '{net.info.id}'", file=sys.stderr)
        evidence = case.evidence.merged(evidence)
    variables = None
    if args.all:
        variables = list(net.network.variables)
    elif args.var:
        variables = list(dict.fromkeys(args.var))
    result = net.query(evidence, variables=variables)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_result(net, result))
    return 0


def _pct(p: float) -> str:
    if p >= 0.9995 or p <= 0.0005:
        return f"{p * 100:.2f}%" if 0 < p < 0.0005 or 0.9995 < p < 1 else f"{p * 100:.0f}%"
    return f"{p * 100:.1f}%"


def format_result(net, result) -> str:
    """The human-readable table ``bn query`` prints."""
    network = net.network
    info = result.network
    lines = [f"{network.title}", f"network {info.id} {info.version} (sha256 {info.sha256[:16]}...), "
                                 f"engine {result.engine}"]
    ev = result.evidence
    entered = [f"{k}={v}" for k, v in ev.findings.items()]
    entered += [f"{k}~{{{', '.join(f'{s}:{x:g}' for s, x in lik.items())}}}" for k, lik in ev.soft_findings.items()]
    lines.append("findings: " + (", ".join(entered) if entered else "none"))
    if entered:
        lines.append(f"P(findings) = {result.probability_of_evidence:.4g}")
    for alert in result.alerts:
        lines.append(f"!! RED FLAG {alert.id}: {alert.message}")
    width = max([len(_label(network, v)) for v in result.posteriors] + [36])
    if result.knee_pain_source:
        lines += ["", f"{'Where does the knee pain come from?':<{width}}   prior -> posterior"]
        names = {"l4l5_spine": "L4-L5 spine (nerve roots / facets)", "knee": "the knee itself",
                 "hip": "the hip", "other": "other causes"}
        for key, p in sorted(result.knee_pain_source.items(), key=lambda kv: -kv[1]):
            prior = result.knee_pain_source_prior[key]
            lines.append(f"  {names.get(key, key):<{width - 2}} {_pct(prior):>7} -> {_pct(p):>7}")
    groups: dict[str, list[str]] = {}
    for var in result.posteriors:
        role = network[var].role or "variables"
        groups.setdefault(role, []).append(var)
    titles = {"diagnosis": "Diagnoses", "mechanism": "Mechanisms", "risk_factor": "Risk factors",
              "finding": "Findings", "red_flag": "Red flags", "variables": "Variables"}
    for role, variables in groups.items():
        lines += ["", f"{titles.get(role, role):<{width}}   prior -> posterior"]
        if role == "diagnosis":
            last = {v: network[v].state_ids[-1] for v in variables}
            variables = sorted(variables, key=lambda v: -result.posteriors[v][last[v]])
        for var in variables:
            post, prior = result.posteriors[var], result.priors[var]
            states = network[var].state_ids
            if len(states) == 2:
                s = _positive_state(states)
                flag = "  (observed)" if var in ev.findings else ""
                lines.append(f"  {_label(network, var):<{width - 2}} {_pct(prior[s]):>7} -> {_pct(post[s]):>7}"
                             f"  P({s}){flag}")
            else:
                lines.append(f"  {_label(network, var)}")
                for s in states:
                    lines.append(f"    {s:<{width - 4}} {_pct(prior[s]):>7} -> {_pct(post[s]):>7}")
    mpe = result.most_probable_explanation
    if mpe is not None:
        present = [v for v, s in mpe.states.items() if s == network[v].state_ids[-1]]
        lines += ["", f"Most probable combination of diagnoses (p = {_pct(mpe.probability)}): "
                      + (", ".join(present) if present else "none present")]
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


_POSITIVE = ("present", "positive", "yes", "true", "reduced", "abnormal")


def _positive_state(states: Sequence[str]) -> str:
    # Binary variables show one number: P(the "positive" state); BIF files often list "yes" first.
    return next((s for s in states if s.lower() in _POSITIVE), states[-1])


def _label(network, var: str) -> str:
    label = network[var].label
    return label if label and len(label) <= 48 else var


# -- info, export, check, networks ----------------------------------------------------------------------


def _cmd_info(args: argparse.Namespace) -> int:
    from bn.registry import read_network

    network = read_network(args.network)
    counts = network.provenance_counts()
    if args.json:
        meta = {k: v for k, v in network.meta.items() if k not in ("id", "version")}
        print(json.dumps({
            "network": network.info.to_dict(),
            "format": network.source_format,
            "metadata": json.loads(json.dumps(meta, default=str)),
            "variables": [
                {"id": v.id, "label": v.label, "role": v.role, "group": v.group, "states": list(v.state_ids),
                 "parents": list(v.parents), "form": v.form, "cost": v.cost}
                for v in network.variables.values()
            ],
            "references": {k: {"citation": r.citation, "measured": r.measured, "url": r.url}
                           for k, r in network.references.items()},
            "parameters": counts,
        }, indent=2))
        return 0
    info = network.info
    out = [network.title, f"id {info.id}  version {info.version}  sha256 {info.sha256}",
           f"file {info.path}  format {network.source_format}"]
    for key in ("date", "authors", "license", "population"):
        if network.meta.get(key):
            value = network.meta[key]
            out.append(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    out.append("")
    by_role: dict[str, list] = {}
    for v in network.variables.values():
        by_role.setdefault(v.role or "variable", []).append(v)
    for role, variables in by_role.items():
        out.append(f"{role} ({len(variables)}):")
        for v in variables:
            group = f" [{v.group}]" if v.group else ""
            parents = f" <- {', '.join(v.parents)}" if v.parents else ""
            out.append(f"  {v.id}{group}: {' | '.join(v.state_ids)}{parents}")
    out += ["", f"parameters: {counts['total']} ({counts['cited']} cited, {counts['expert_estimate']} expert "
                f"estimates, {counts['uncited']} uncited); references: {len(network.references)}"]
    print("\n".join(out))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from bn.interop import export
    from bn.registry import read_network

    network = read_network(args.network)
    text = export(network, args.format)
    if args.out:
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise BNError(f"cannot write '{args.out}': {exc.strerror or exc}") from None
        print(f"wrote {args.out} ({args.format}, {len(network.variables)} variables) from "
              f"{network.id} {network.version} sha256 {network.info.sha256[:16]}...", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from bn.errors import NetworkFileError
    from bn.interop import read_standard, standard_format
    from bn.netfile import check_network_file, read_network_file

    path = Path(args.file)
    if standard_format(path):
        try:
            network = read_standard(path)
        except NetworkFileError as exc:
            problems = exc.problems
        else:
            problems = []
    else:
        problems = check_network_file(path)
        network = read_network_file(path) if not problems else None
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


def _cmd_networks(args: argparse.Namespace) -> int:
    from bn.registry import networks_dir, published

    for name, versions in published().items():
        print(f"{name}: {', '.join(versions)} (latest {versions[-1]})  [{networks_dir() / name}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
