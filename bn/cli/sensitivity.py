"""``bn sensitivity``: which numbers drive a conclusion, and does it survive their uncertainty?

::

    bn sensitivity NETWORK [--case FILE | -e VAR=STATE ...] [--target T] [--top K] [--out DIR] [--json]
    bn sensitivity flip NETWORK [case] [--target T] [--constraint C | --threshold P [--below] | --versus B]
    bn sensitivity uncertainty NETWORK [case] [--target T ...] [--draws N] [--seed S] [--range-scale X]
    bn sensitivity sweep [NETWORK] CASES_DIR [--target T] [--no-flips]

Registered by ``add_parser(subparsers)`` (see :mod:`bn.cli`). The verb is read from the first word after
``sensitivity`` (argparse cannot mix a positional NETWORK with optional sub-commands), so each verb has its
own parser and ``bn sensitivity VERB -h`` shows its options.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bn.errors import BNError
from bn.present import DISCLAIMER, percent_1dp
from bn.target import SOURCE_SHORT

VERBS = ("flip", "uncertainty", "sweep")

USAGE = """bn sensitivity NETWORK [--case FILE | -e VAR=STATE ...] [--target T] [--top K] [--out DIR] [--json]
       bn sensitivity flip NETWORK [...] [--constraint C | --threshold P [--below] | --versus B [--delta D]]
       bn sensitivity uncertainty NETWORK [...] [--target T ...] [--draws N] [--seed S] [--range-scale X]
       bn sensitivity sweep [NETWORK] CASES_DIR [--target T] [--top K] [--no-flips]"""


def add_parser(subparsers) -> None:
    """Register ``bn sensitivity`` (one-way by default; ``flip``, ``uncertainty``, ``sweep``)."""
    p = subparsers.add_parser(
        "sensitivity", help="which numbers drive the answer; what would change it; how uncertain it is",
        usage=USAGE,
        description="One-way sensitivity of a target to every parameter (exact sensitivity functions), "
                    "the single-parameter changes that would change the conclusion (flip), the posterior under "
                    "joint parameter uncertainty (uncertainty), and which parameters matter most over a folder "
                    "of cases (sweep). 'bn sensitivity VERB -h' shows each verb's options.",
        epilog="Example: bn sensitivity l4l5_knee -e knee_pain=present -e age_group=65_plus --target l4l5_spine "
               "--out report/")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="[VERB] NETWORK ...", help="see usage")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch on the first word: a verb, else the one-way analysis with that word as NETWORK."""
    argv = list(args.argv)
    if not argv:
        raise BNError("bn sensitivity needs a NETWORK (e.g. bn sensitivity l4l5_knee -e knee_pain=present); "
                      "verbs: flip, uncertainty, sweep")
    verb = argv[0] if argv[0] in VERBS else "oneway"
    parser = _parsers()[verb]
    sub = parser.parse_args(argv[1:] if verb != "oneway" else argv)
    return sub.func(sub)


# -- parsers ----------------------------------------------------------------------------------------------------


def _parsers() -> dict[str, argparse.ArgumentParser]:
    from bn.cli.common import case_arguments

    out = {}
    o = argparse.ArgumentParser(prog="bn sensitivity", description="Exact one-way sensitivity of P(target | "
                                "findings) to every parameter: its derivative and the posterior over the "
                                "parameter's plausible range, widest swing first.")
    case_arguments(o)
    _target(o)
    _parameters(o)
    o.add_argument("--top", type=int, default=15, metavar="K", help="show and chart the K widest (0: all)")
    _out(o)
    o.set_defaults(func=_cmd_one_way)
    out["oneway"] = o

    f = argparse.ArgumentParser(prog="bn sensitivity flip", description="Every single-parameter change that "
                                "achieves a constraint, with the new value, the change in log-odds and whether it "
                                "lies inside the plausible range. Default: the leading knee-pain source changes "
                                "(with --target alone: the 50%% call on the target flips).")
    case_arguments(f)
    _target(f)
    f.add_argument("--constraint", metavar="C", help="'leader', 'VAR=STATE>=P', 'VAR<=P' or 'A - B >= D' "
                                                     "(targets as for --target)")
    f.add_argument("--threshold", type=float, metavar="P", help="constraint P(target | findings) >= P")
    f.add_argument("--below", action="store_true", help="with --threshold: P(target | findings) <= P instead")
    f.add_argument("--versus", metavar="B", help="constraint P(target) - P(B) >= D (see --delta)")
    f.add_argument("--delta", type=float, default=0.0, metavar="D", help="with --versus (default 0)")
    _parameters(f)
    f.add_argument("--top", type=int, default=15, metavar="K", help="show the K smallest changes (0: all)")
    _out(f)
    f.set_defaults(func=_cmd_flip)
    out["flip"] = f

    u = argparse.ArgumentParser(prog="bn sensitivity uncertainty", description="Draw every parameter jointly "
                                "(Beta / Dirichlet centred on its value, matching its plausible range) and report "
                                "the median and 90%% interval of each target's posterior. Seeded.")
    case_arguments(u)
    u.add_argument("--target", action="append", metavar="T", help="a target (repeatable; default: the four "
                                                                 "knee-pain sources)")
    u.add_argument("--draws", type=int, default=1000, metavar="N")
    u.add_argument("--seed", type=int, default=0, metavar="S")
    u.add_argument("--range-scale", type=float, default=1.0, metavar="X",
                   help="scale every plausible range on the log-odds scale (0.5: half as wide)")
    _out(u)
    u.set_defaults(func=_cmd_uncertainty)
    out["uncertainty"] = u

    s = argparse.ArgumentParser(prog="bn sensitivity sweep", description="One-way sensitivity (and what would "
                                "change the conclusion) for every case file in a folder: which parameters matter "
                                "most overall.")
    s.add_argument("paths", metavar="[NETWORK] CASES_DIR", nargs="+",
                   help="the network (optional, as in the other verbs) and a folder of case files "
                        "(*.json, *.yaml, *.yml)")
    s.add_argument("--network", metavar="NETWORK", help="default: the network named in the case files, else "
                                                        "l4l5_knee")
    from bn.engines import DEFAULT, ENGINES

    s.add_argument("--engine", choices=sorted(ENGINES), default=DEFAULT)
    _target(s)
    s.add_argument("--top", type=int, default=20, metavar="K", help="show and chart the K most important")
    s.add_argument("--no-flips", action="store_true", help="skip the what-would-change-it analysis per case")
    s.add_argument("--unblind", metavar="WHY",
                   help="also analyse locked validation test cases (split: test; skipped otherwise), and record "
                        "that (and why) in validation/test_set_views.yaml, as bn validate --unblind does")
    _out(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_sweep)
    out["sweep"] = s
    return out


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", metavar="T", help="VAR=STATE, VAR (its present/positive state) or a knee-pain "
                                                 "source (l4l5_spine, knee, hip, other); default l4l5_spine")


def _parameters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parameter", action="append", metavar="ID", help="only this parameter, or every parameter of "
                   "this variable (repeatable); ids as in the output, e.g. 'back_pain <- leak'")


def _out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", help="write CSV, PNG/SVG charts and a markdown summary here")


# -- commands ---------------------------------------------------------------------------------------------------


def _cmd_one_way(args: argparse.Namespace) -> int:
    from bn.cli.common import findings_line, header, load_case
    from bn.sensitivity import one_way, report

    net, evidence = load_case(args)
    result = one_way(net, evidence, target=args.target, only=args.parameter, progress=True)
    files = _write(args, lambda out: report.write_one_way(
        result, out, args.top or len(result.rows)))
    if args.json:
        return _print_json(result.to_dict(args.top or None) | {"files": files})
    lines = [header(net), findings_line(evidence, net.network),
             f"target: {result.target_label} now {result.posterior:.1%}", "",
             f"{'parameter':<76} {'value':>7} {'range':>15}  posterior low -> high  {'slope':>7}  source"]
    for r in result.top(args.top):
        p = r.parameter
        rng = f"{p.range[0]:.3g}-{p.range[1]:.3g}" + ("*" if p.range_from == "default" else "")
        lines.append(f"{_cut(p.label, 76):<76} {p.value:>7.4g} {rng:>15}  {percent_1dp(r.posterior_at_low):>7} -> "
                     f"{percent_1dp(r.posterior_at_high):<7}  {r.derivative:>+7.3f}  {p.citation}")
    lines += ["", "* default range: value +/- 1 on the log-odds scale (no range in the network file)"]
    lines += [*_files_lines(files), "", DISCLAIMER]
    print("\n".join(lines))
    return 0


def _cmd_flip(args: argparse.Namespace) -> int:
    from bn.cli.common import findings_line, header, load_case
    from bn.sensitivity import Difference, Threshold, default_flip_constraint, flip, parse_constraint, report
    from bn.target import resolve_target

    net, evidence = load_case(args)
    network = net.network
    chosen = [x for x in (args.constraint, args.threshold, args.versus) if x is not None]
    if len(chosen) > 1:
        raise BNError("give one of --constraint, --threshold and --versus")
    if args.below and args.threshold is None:
        raise BNError("--below goes with --threshold P")
    if args.constraint is not None:
        constraint = parse_constraint(network, args.constraint)
    elif args.threshold is not None:
        if not 0.0 <= args.threshold <= 1.0:
            raise BNError(f"--threshold must lie in [0, 1]; got {args.threshold:g}")
        constraint = Threshold(resolve_target(network, args.target), args.threshold, above=not args.below)
    elif args.versus is not None:
        constraint = Difference(resolve_target(network, args.target), resolve_target(network, args.versus),
                                args.delta)
    elif args.target is not None:
        target = resolve_target(network, args.target)
        posterior = net.posterior(target.variable, findings=evidence)[target.state]
        constraint = Threshold(target, 0.5, above=posterior < 0.5)
    else:
        target = resolve_target(network, None)
        now = net.posterior(target.variable, findings=evidence)[target.state]
        constraint = default_flip_constraint(network, target, now)
    result = flip(net, evidence, constraint=constraint, only=args.parameter, progress=True)
    files = _write(args, lambda out: report.write_flip(
        result, out, args.top or max(len(result.changes), 1)))
    if args.json:
        return _print_json(result.to_dict() | {"files": files})
    now = ", ".join(f"{SOURCE_SHORT.get(k, k)} {percent_1dp(v)}" for k, v in result.current.items())
    lines = [header(net), findings_line(evidence, net.network), f"constraint: {result.constraint_label}", f"now: {now}"
             + (f" (leading: {SOURCE_SHORT.get(result.leader_now, result.leader_now)})"
                if result.leader_now else ""), "", result.headline]
    if result.changes:
        lines += ["", f"{'parameter':<76} {'value':>7} {'new':>8} {'log-odds':>9}  {'range':>15}  in range  outcome"]
        for c in result.changes[: args.top or None]:
            p = c.parameter
            lo = c.log_odds_change
            lines.append(f"{_cut(p.label, 76):<76} {p.value:>7.4g} {c.new_value:>8.4g} "
                         f"{(f'{lo:+.2f}' if math.isfinite(lo) else ('+inf' if lo > 0 else '-inf')):>9}  "
                         f"{f'{p.range[0]:.3g}-{p.range[1]:.3g}':>15}  {'yes' if c.within_range else 'no':<8}  "
                         f"{SOURCE_SHORT.get(c.outcome, c.outcome) if c.outcome else '-'}")
    lines += [*_files_lines(files), "", DISCLAIMER]
    print("\n".join(lines))
    return 0


def _cmd_uncertainty(args: argparse.Namespace) -> int:
    from bn.cli.common import findings_line, header, load_case
    from bn.sensitivity import report, uncertainty

    net, evidence = load_case(args)
    result = uncertainty(net, evidence, targets=args.target, draws=args.draws, seed=args.seed,
                         range_scale=args.range_scale, progress=True)
    files = _write(args, lambda out: report.write_uncertainty(
        result, out))
    if args.json:
        return _print_json(result.to_dict() | {"files": files})
    lines = [header(net), findings_line(evidence, net.network),
             f"{result.draws} joint parameter draws, seed {result.seed}"
             + (f", ranges scaled by {result.range_scale:g}" if result.range_scale != 1 else ""), ""]
    lines += [f"  {t.sentence()}" for t in result.targets]
    if result.leaders:
        shares = sorted(result.leaders.items(), key=lambda kv: -kv[1])
        lines += ["", f"leading knee-pain source now: {SOURCE_SHORT.get(result.leader_now, result.leader_now)}; "
                      "share of the draws in which each source leads: "
                      + ", ".join(f"{SOURCE_SHORT.get(k, k)} {percent_1dp(v)}" for k, v in shares)]
    lines += [*_files_lines(files), "", DISCLAIMER]
    print("\n".join(lines))
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    import bn
    from bn.cli.common import header
    from bn.evidence import read_case
    from bn.sensitivity import SensitivityError, case_files, report, sweep

    if len(args.paths) > 2:
        raise SensitivityError(f"sweep takes [NETWORK] CASES_DIR; got {len(args.paths)} arguments")
    if len(args.paths) == 2:
        if args.network is not None:
            raise SensitivityError("give the network once: as the first argument or with --network")
        args.network = args.paths[0]
    args.cases = args.paths[-1]
    files_in = case_files(args.cases)
    reference = args.network
    if reference is None:
        named = {c.network for c in (read_case(f) for f in files_in) if c.network}
        reference = named.pop() if len(named) == 1 else "l4l5_knee"
    net = bn.load(reference, engine=args.engine)
    if args.unblind is not None and not args.unblind.strip():
        raise SensitivityError("--unblind needs a reason: --unblind \"why\"")
    result = sweep(net, args.cases, target=args.target, top_k=10, flips=not args.no_flips, progress=True,
                   include_test=args.unblind is not None)
    if result.test_cases:
        from bn.validation import VIEWS_FILE
        from bn.validation.testset import record_view

        record_view(VIEWS_FILE, cases=result.test_cases, network=net.info.to_dict(), why=args.unblind)
    files = _write(args, lambda out: report.write_sweep(
        result, out, args.top or len(result.parameters)))
    if args.json:
        return _print_json(result.to_dict(args.top or None) | {"files": files})
    lines = [header(net), f"{len(result.cases)} cases from {args.cases}"
             + (f" ({len(result.skipped)} skipped)" if result.skipped else "")
             + f"; target {result.target_label}", "",
             f"{'parameter':<76} {'mean swing':>10} {'max swing':>9} {'top-10':>6} {'flips':>5}  source"]
    for p in result.parameters[: args.top or None]:
        flips = "-" if p.flips_in_range is None else str(p.flips_in_range)
        lines.append(f"{_cut(p.parameter.id, 76):<76} {p.mean_swing:>10.3f} {p.max_swing:>9.3f} {p.cases_in_top:>6} "
                     f"{flips:>5}  {p.parameter.citation}")
    flipping = [c for c in result.cases if c.flip is not None and c.flip.within_range]
    if not args.no_flips:
        lines += ["", f"cases whose conclusion one parameter within its range can change: {len(flipping)} of "
                      f"{len(result.cases)}"] + [f"  {c.name}" for c in flipping]
    lines += [f"skipped {n}: {r}" for n, r in result.skipped if n not in result.blind]
    if result.blind:
        lines.append(f"skipped {len(result.blind)} locked validation test case(s) (split: test), blind to per-case "
                     "analysis; --unblind \"why\" includes them and records the look")
    elif result.test_cases:
        lines.append(f"unblinded: {len(result.test_cases)} locked test case(s) analysed; the look is recorded in "
                     "validation/test_set_views.yaml")
    lines += [*_files_lines(files), "", DISCLAIMER]
    print("\n".join(lines))
    return 0


# -- helpers ----------------------------------------------------------------------------------------------------


def _write(args: argparse.Namespace, writer: Callable[[str], list[Path]]) -> list[str]:
    if not args.out:
        return []
    return [str(p) for p in writer(args.out)]


def _files_lines(files: list[str]) -> list[str]:
    return ["", "wrote " + ", ".join(files)] if files else []




def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _print_json(data: dict[str, Any]) -> int:
    from bn.jsonout import dumps

    print(dumps(data, indent=2))
    return 0
