"""The ``bn validate`` subcommand: case suite, literature concordance, simulation, recovery, version comparison.

Registered by :func:`add_parser` (``bn/cli.py`` calls it). Examples::

    bn validate l4l5_knee                          # everything (with stability); writes validation/report/
    bn validate l4l5_knee --fast --check-baseline  # CI: cases + concordance, fail on regression
    bn validate --compare l4l5_knee@1.0.0 l4l5_knee@1.1.0 --out /tmp/cmp

Bad input (unknown network, malformed case file, bad option) raises a :class:`~bn.errors.BNError`, which
``bn`` prints as one line with exit status 2. A regression against the recorded baseline exits with 1.

>>> import argparse
>>> p = argparse.ArgumentParser(prog="bn"); sub = p.add_subparsers(dest="command")
>>> add_parser(sub)
>>> args = p.parse_args(["validate", "l4l5_knee", "--fast"])
>>> args.network, args.fast, args.func is run
('l4l5_knee', True, True)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register ``validate`` on the ``bn`` command's subparsers (without importing :mod:`bn.validate`: every
    ``bn`` command builds this parser)."""
    v = subparsers.add_parser(
        "validate", help="clinical validation: cases, literature concordance, simulated data, version comparison",
        description="Run the validation suite on a network and write a markdown report with charts. "
                    "Example: bn validate l4l5_knee --out validation/report")
    v.add_argument("network", metavar="NETWORK", nargs="?", help="the network to validate (default l4l5_knee)")
    v.add_argument("--out", metavar="DIR", help="report folder (default validation/report)")
    v.add_argument("--cases", metavar="DIR", help="folder of validation case files (default validation/cases)")
    v.add_argument("--concordance", metavar="FILE",
                   help="literature concordance table, YAML (default validation/concordance.yaml)")
    v.add_argument("--samples", type=int, default=2000, metavar="N", help="simulated cases (default 2000)")
    v.add_argument("--recovery", default="200,1000,5000,20000", metavar="N1,N2,...",
                   help="sample sizes for parameter recovery ('' to skip)")
    v.add_argument("--seed", type=int, default=0, help="seed for the simulation, recovery and stability draws")
    v.add_argument("--stability-draws", type=int, default=None, metavar="N",
                   help="joint parameter draws per case for the stability of each call (default 300; "
                        "0 with --fast, 0 skips)")
    v.add_argument("--fast", action="store_true",
                   help="cases and concordance only, no stability unless --stability-draws (what CI runs)")
    v.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="compare two networks (e.g. l4l5_knee@1.0.0 l4l5_knee@1.1.0) on the cases")
    v.add_argument("--check-baseline", action="store_true",
                   help="exit 1 if top-1 accuracy, Brier score or concordance got worse than recorded")
    v.add_argument("--write-baseline", action="store_true", help="record this run's gated values as the baseline")
    v.add_argument("--baseline", metavar="FILE", help="baseline file (default validation/baseline.json)")
    v.add_argument("--json", action="store_true", help="print the summary as JSON")
    v.set_defaults(func=run)


def _sizes(text: str) -> list[int]:
    from bn.validate import ValidationError

    if not text.strip():
        return []
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValidationError(f"--recovery: expected comma-separated sample sizes, got '{text}'") from None
    if any(s < 1 for s in sizes):
        raise ValidationError("--recovery: sample sizes must be positive")
    return sizes


def run(args: argparse.Namespace) -> int:
    """Execute ``bn validate``; returns the exit status."""
    import bn
    from bn import validate as V

    args.out = args.out or str(V.REPORT_DIR)
    args.cases = args.cases or str(V.CASES_DIR)
    args.concordance = args.concordance or str(V.CONCORDANCE_FILE)
    if args.samples < 10:
        raise V.ValidationError(f"--samples must be at least 10 (got {args.samples})")
    if args.stability_draws is not None and args.stability_draws < 0:
        raise V.ValidationError(f"--stability-draws must be 0 or more (got {args.stability_draws})")
    if args.compare and args.network:
        raise V.ValidationError("give either NETWORK or --compare A B, not both")
    baseline_path = Path(args.baseline) if args.baseline else V.BASELINE_FILE
    if args.compare:
        net_a, net_b = bn.load(args.compare[0]), bn.load(args.compare[1])
        cases = V.load_cases(net_a.network, args.cases)
        V.load_cases(net_b.network, args.cases)  # every finding must also exist in B: one clear line if not
        comparison = V.compare_versions(net_a, net_b, cases)
        run_b = V.run_all(net_b, args.cases, args.concordance, fast=True)
        path = V.write_report(run_b, args.out, comparison=comparison)
        print(f"compared {_name(net_a)} with {_name(net_b)}: {len(comparison['changed_cases'])} case(s) changed "
              f"their leading call, {len(comparison['parameters']['parameters'])} parameter(s) differ")
        print(f"report: {path}")
        return 0
    net = bn.load(args.network or "l4l5_knee")
    result = V.run_all(net, args.cases, args.concordance, samples=args.samples,
                       recovery_sizes=_sizes(args.recovery), seed=args.seed, fast=args.fast,
                       stability_draws=args.stability_draws)
    path = V.write_report(result, args.out)
    gate = result.gate
    if args.json:
        print(json.dumps({"network": result.network, "gate": gate, "summary": result.suite.summary,
                          "concordance": result.concordance["summary"], "timings": result.timings}, indent=2))
    else:
        s = result.suite.summary
        c = result.concordance["summary"]
        print(f"network {_name(net)}")
        print(f"cases: {s['cases']} ({s['published_cases']} published, {s['archetypes']} textbook archetypes); "
              f"top-1 {s['top1_accuracy']:.2f}, top-2 {s['top2_accuracy']:.2f}, Brier (sources) "
              f"{s['brier_source']:.3f}")
        print(f"concordance: {c['inside']} of {c['with_interval']} figures inside their published interval "
              f"({c['items']} in all)")
        if "stable_cases" in s:
            print(f"stability: {s['stable_cases']} of {s['stability_cases']} knee-pain source calls stable "
                  f"(leader kept in >= {s['stable_share_threshold']:.0%} of {s['stability_draws']} draws; not "
                  f"stable: {', '.join(s['unstable']) or 'none'}); one parameter can change "
                  f"{len(s['flippable'])}")
        print(f"report: {path}")
    if args.write_baseline:
        V.write_baseline(gate, result.network, baseline_path)
        print(f"baseline recorded for {result.network['id']} {result.network['version']} in {baseline_path}")
    if args.check_baseline:
        recorded = V.read_baseline(baseline_path).get(result.network["id"], {}).get(result.network["version"])
        if recorded is None:
            raise V.ValidationError(f"no baseline recorded for {result.network['id']} {result.network['version']} "
                                    f"in {baseline_path}; run 'bn validate --fast --write-baseline' and commit it")
        problems = V.regressions(gate, recorded)
        for p in problems:
            print(f"bn: regression: {p}", file=sys.stderr)
        return 1 if problems else 0
    return 0


def _name(net) -> str:
    info = net.info
    return f"{info.id} {info.version} (sha256 {info.sha256[:16]}...)"

