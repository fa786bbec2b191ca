"""The ``bn`` command: a thin shell over the :mod:`bn` API.

Bad input (unknown network, variable or state, malformed finding, unreadable file) prints one line on
stderr and exits with status 2; ``bn check`` exits with 1 when the file has problems.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from bn import batch_cli, learn_cli, sensitivity_cli
from bn.errors import BNError
from bn.present import DISCLAIMER, percent_fine, short_label
from bn.target import SOURCE_SHORT
from bn.validate_cli import add_parser as add_validate_parser

EXIT_CODES = ("exit status: 0 success; 1 problems found (bn check, the bn validate gate); 2 bad input or usage "
              "(one line on stderr saying what and how to fix it); 3 an internal error (--debug shows the traceback)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _exit_on_sigterm()
    try:
        return args.func(args)
    except BNError as exc:
        print(f"bn: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bn ... | head`
        return 0
    except Exception as exc:  # a bug, not bad input: say so in one line and keep the traceback for --debug
        if args.debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"bn: internal error: {type(exc).__name__}: {first} (please report it; --debug shows the traceback)",
              file=sys.stderr)
        return 3


def _exit_on_sigterm() -> None:
    """SIGTERM (a scheduler stopping the job, a Ctrl-C'd pipeline) exits through Python's cleanup, so a
    half-written temporary output is removed; the final name never held half a result either way."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bn", description="Bayesian-network diagnostic reasoner: is this knee pain from the L4-L5 "
                               f"segment, the knee or the hip? {DISCLAIMER}",
        epilog="NETWORK is a published id (l4l5_knee), id@version (l4l5_knee@1.0.0) or a path to a "
               f".yaml, .bif or .xmlbif file. {EXIT_CODES}.")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = sub.add_parser("query", help="posterior probabilities for a case",
                       description="Posterior probabilities of the diagnoses, mechanisms and knee-pain sources "
                                   "given findings. Example: bn query l4l5_knee -e knee_pain=present "
                                   "-e straight_leg_raise=positive")
    _case_arguments(q)
    q.add_argument("--all", action="store_true", help="report every variable, not only diagnoses and mechanisms")
    q.add_argument("--var", action="append", default=[], metavar="VAR", help="report this variable (repeatable)")
    q.add_argument("--interval-draws", type=int, default=300, metavar="N",
                   help="joint parameter draws for each knee-pain source's 90%% interval (seeded; default 300; "
                        "0 leaves the intervals out)")
    q.set_defaults(func=_cmd_query)

    e = sub.add_parser("explain", help="why: the weight of evidence of each finding, and the case's conflict",
                       description="Weight of evidence (dB) of each finding for a target given the other findings, "
                                   "the posterior if it were retracted, and Jensen's conflict measure.")
    _case_arguments(e)
    _target_argument(e)
    e.set_defaults(func=_cmd_explain)

    n = sub.add_parser("next", help="which finding to look for next (value of information)",
                       description="Rank unobserved findings by expected information about the target.")
    _case_arguments(n)
    _target_argument(n, extra=" or 'diagnoses' (all diagnoses jointly)")
    n.add_argument("--measure", choices=["mi", "change"], default="mi",
                   help="mi: mutual information in bits; change: expected absolute change of P(target)")
    n.add_argument("--cost-weight", type=float, default=0.0, metavar="A",
                   help="score = information - A * cost (costs from the network file)")
    n.add_argument("--cost", action="append", default=[], metavar="VAR=COST", help="override a finding's cost")
    n.add_argument("--top", type=int, default=10, metavar="K", help="show the K best (0: all)")
    n.set_defaults(func=_cmd_next)

    s = sub.add_parser("stability", help="most probable explanation vs marginals, same-decision probability",
                       description="The jointly most probable diagnoses beside the marginals, and the probability "
                                   "that observing the remaining history and examination findings would leave "
                                   "the leading knee-pain source (or a threshold decision) unchanged.")
    _case_arguments(s)
    _target_argument(s)
    s.add_argument("--threshold", type=float, help="decide 'P(target) >= threshold' instead of the leading source")
    s.add_argument("--observe", action="append", metavar="VAR",
                   help="a finding in the observation set (repeatable; default: unobserved history and exam)")
    s.add_argument("--samples", type=int, default=1000, help="Monte Carlo samples when the set is too large "
                                                             "for exact enumeration")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_stability)

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
    c.add_argument("file", metavar="FILE", help="a network file, or a published reference such as l4l5_knee@2.0.0")
    c.set_defaults(func=_cmd_check)

    ls = sub.add_parser("networks", help="list the published networks and their versions")
    ls.set_defaults(func=_cmd_networks)

    add_validate_parser(sub)
    sensitivity_cli.add_parser(sub)
    batch_cli.add_parser(sub)
    learn_cli.add_parser(sub)
    return p


def _case_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("-e", "--evidence", action="append", default=[], metavar="VAR=STATE",
                   help="a finding (repeatable)")
    p.add_argument("--soft", action="append", default=[], metavar="VAR=STATE:LIKELIHOOD",
                   help="an uncertain finding as a likelihood, e.g. straight_leg_raise=positive:0.7, "
                        "or VAR=L1,L2,... with one likelihood per state (repeatable)")
    p.add_argument("--case", metavar="FILE", help="a case file (JSON or YAML: findings, soft_findings, note); "
                                                  "-e and --soft add to or override it")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    from bn.engines import DEFAULT, ENGINES

    p.add_argument("--engine", choices=sorted(ENGINES), default=DEFAULT,
                   help="inference engine (einsum: the junction tree; contract and pgmpy: slow references, for "
                        "cross-checks)")


def _target_argument(p: argparse.ArgumentParser, extra: str = "") -> None:
    p.add_argument("--target", metavar="VAR[=STATE]",
                   help="the hypothesis: VAR=STATE, VAR (its present/positive state) or a knee-pain source "
                        f"(l4l5_spine, knee, hip, other){extra}; default l4l5_spine")


def _load_case(args: argparse.Namespace):
    """The compiled network and validated evidence from NETWORK, --case, -e and --soft."""
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
    return net, net.evidence(evidence)


def _header(net) -> str:
    info = net.info
    line = f"network {info.id} {info.version} (sha256 {info.sha256[:16]}...), engine {net.engine.name}"
    return f"{line}\nWARNING: {info.warning}" if info.warning else line


def _findings_line(ev) -> str:
    entered = [f"{k}={v}" for k, v in ev.findings.items()]
    entered += [f"{k}~{{{', '.join(f'{s}:{x:g}' for s, x in lik.items())}}}" for k, lik in ev.soft_findings.items()]
    return "findings: " + (", ".join(entered) if entered else "none")


# -- query ------------------------------------------------------------------------------------------


def _cmd_query(args: argparse.Namespace) -> int:
    net, evidence = _load_case(args)
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
    lines = [f"{network.title}", _header(net)]
    ev = result.evidence
    lines.append(_findings_line(ev))
    if ev:
        lines.append(f"P(findings) = {result.probability_of_evidence:.4g}")
    for alert in result.alerts:
        lines.append(f"!! RED FLAG {alert.id}: {alert.message}")
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
                             f"{percent_fine(post[s]):>7}  P({s}){flag}")
            else:
                lines.append(f"  {short_label(network, var)}")
                for s in states:
                    lines.append(f"    {s:<{width - 4}} {percent_fine(prior[s]):>7} -> {percent_fine(post[s]):>7}")
    mpe = result.most_probable_explanation
    if mpe is not None:
        present = [v for v, s in mpe.states.items() if s == network[v].on_state]
        lines += ["", f"Most probable combination of diagnoses (p = {percent_fine(mpe.probability)}): "
                      + (", ".join(present) if present else "none present")]
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


# -- explain, next, stability ------------------------------------------------------------------------


def _cmd_explain(args: argparse.Namespace) -> int:
    from bn.explain import explain

    net, evidence = _load_case(args)
    ex = explain(net, evidence, args.target)
    if args.json:
        print(json.dumps(ex.to_dict(), indent=2, allow_nan=False))
        return 0
    lines = [_header(net), _findings_line(evidence),
             f"target: {ex.target_label} ({ex.target.variable}={ex.target.state}): prior {percent_fine(ex.prior)}, "
             f"now {percent_fine(ex.posterior)}", ""]
    if not ex.findings:
        lines.append("No findings entered: nothing to explain.")
    for f in sorted(ex.findings, key=lambda f: -abs(f.weight_db or 1e9)):
        lines.append(f"  {f.sentence}")
    c = ex.conflict
    lines += ["", f"conflict: {c.score:+.2f} bits" + (
        f" -- FLAGGED: the findings fit the model poorly together (check entry; rare presentation?); "
        f"driven by {', '.join(c.drivers)}" if c.flagged else " (findings are consistent)"), "", DISCLAIMER]
    print("\n".join(lines))
    return 0


def _cmd_next(args: argparse.Namespace) -> int:
    from bn.voi import next_best

    net, evidence = _load_case(args)
    costs = {}
    for text in args.cost:
        var, sep, value = text.partition("=")
        try:
            costs[var.strip()] = float(value)
        except ValueError:
            raise BNError(f"malformed --cost '{text}': expected VAR=COST, e.g. mri_stenosis=20") from None
        if not sep:
            raise BNError(f"malformed --cost '{text}': expected VAR=COST")
    ranking = next_best(net, evidence, args.target, measure=args.measure, cost_weight=args.cost_weight,
                        costs=costs, top=args.top or None)
    if args.json:
        print(json.dumps(ranking.to_dict(), indent=2, allow_nan=False))
        return 0
    current = ranking.current
    now = percent_fine(current) if isinstance(current, float) else "see diagnoses"
    unit = "bits" if ranking.measure == "mi" else "expected change"
    lines = [_header(net), _findings_line(evidence), f"target: {ranking.target_label} (now {now}); "
             f"measure {ranking.measure} ({unit}), cost weight {ranking.cost_weight:g}", ""]
    for i, c in enumerate(ranking.ranking, 1):
        lines.append(f"{i:>3}. {c.label} [{c.group or '-'}, cost {c.cost:g}] score {c.score:.4f}")
        lines.append(f"       {c.summary()}")
    lines += ["", DISCLAIMER]
    print("\n".join(lines))
    return 0


def _cmd_stability(args: argparse.Namespace) -> int:
    from bn.stability import stability

    net, evidence = _load_case(args)
    st = stability(net, evidence, observe=args.observe, target=args.target, threshold=args.threshold,
                   samples=args.samples, seed=args.seed)
    if args.json:
        print(json.dumps(st.to_dict(), indent=2, allow_nan=False))
        return 0
    present = [v for v, s in st.explanation.items() if s == net.network[v].on_state]
    sd = st.same_decision
    how = "exact" if sd.method == "exact" else f"Monte Carlo, {sd.samples} samples, seed {sd.seed}, " \
                                               f"standard error {sd.standard_error:.3f}"
    lines = [_header(net), _findings_line(evidence), "",
             f"most probable combination of diagnoses (p = {percent_fine(st.explanation_probability)}): "
             + (", ".join(present) or "none present")]
    lines += [f"  note: {n}" for n in st.notes]
    lines += ["", f"decision now: {sd.decision}",
              f"same-decision probability after observing {len(sd.observe)} more findings: "
              f"{percent_fine(sd.probability)} ({how})"]
    if sd.outcomes:
        lines.append("  decision after observing them: " + ", ".join(
            f"{k} {percent_fine(v)}" for k, v in sorted(sd.outcomes.items(), key=lambda kv: -kv[1])))
    lines += ["", DISCLAIMER]
    print("\n".join(lines))
    return 0


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


def _cmd_check(args: argparse.Namespace) -> int:
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
            problems = exc.problems
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


def _cmd_networks(args: argparse.Namespace) -> int:
    from bn.registry import networks_dir, published

    for name, versions in published().items():
        print(f"{name}: {', '.join(versions)} (latest {versions[-1]})  [{networks_dir() / name}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
