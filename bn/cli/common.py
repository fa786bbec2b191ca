"""What several verbs share: the case arguments (NETWORK, -e, --soft, --case, --json, --engine), the target
argument, reading the case, and the header lines every text result starts with."""

from __future__ import annotations

import argparse
import sys


def finding_arguments(p: argparse.ArgumentParser) -> None:
    """``-e VAR=STATE`` and ``--soft VAR=STATE:LIKELIHOOD``, repeatable."""
    p.add_argument("-e", "--evidence", action="append", default=[], metavar="VAR=STATE",
                   help="a finding (repeatable)")
    p.add_argument("--soft", action="append", default=[], metavar="VAR=STATE:LIKELIHOOD",
                   help="an uncertain finding as a likelihood, e.g. straight_leg_raise=positive:0.7, "
                        "or VAR=L1,L2,... with one likelihood per state (repeatable)")


def case_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", metavar="NETWORK")
    finding_arguments(p)
    p.add_argument("--case", metavar="FILE", help="a case file (JSON or YAML: findings, soft_findings, note); "
                                                  "-e and --soft add to or override it")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    from bn.engines import DEFAULT, ENGINES

    p.add_argument("--engine", choices=sorted(ENGINES), default=DEFAULT,
                   help="inference engine (einsum: the junction tree; contract and pgmpy: slow references, for "
                        "cross-checks)")


def target_argument(p: argparse.ArgumentParser, extra: str = "") -> None:
    p.add_argument("--target", metavar="VAR[=STATE]",
                   help="the hypothesis: VAR=STATE, VAR (its present/positive state) or a knee-pain source "
                        f"(l4l5_spine, knee, hip, other){extra}; default l4l5_spine")


def load_case(args: argparse.Namespace):
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


def header(net) -> str:
    info = net.info
    line = f"network {info.id} {info.version} (sha256 {info.sha256[:16]}...), engine {net.engine.name}"
    return f"{line}\nWARNING: {info.warning}" if info.warning else line


def findings_line(ev, network) -> str:
    """The findings in the network's labels (the ids are in ``--json``)."""
    from bn.present import findings_said

    entered = [f"{label}: {state}" for label, state in findings_said(ev, network)]
    return "findings: " + ("; ".join(entered) if entered else "none")
