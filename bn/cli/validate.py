"""The ``bn validate`` subcommand: case suite, literature concordance, simulation, recovery, version comparison.

Registered by :func:`add_parser` (see :mod:`bn.cli`). Examples::

    bn validate l4l5_knee                          # everything (with stability); writes build/validation/
    bn validate l4l5_knee --update-report          # ... and the committed validation/report/
    bn validate l4l5_knee --fast --check-baseline  # CI: cases + concordance, fail on regression
    bn validate --compare l4l5_knee@1.0.0 l4l5_knee@1.1.0 --out /tmp/cmp
    bn validate lock --why "first lock of the published test cases"   # freeze the test split
    bn validate l4l5_knee --unblind "reviewing 2.0.0 before release"  # per-case test results, recorded
    bn validate panel --booklet /tmp/panel         # blinded booklet + response sheet for clinicians
    bn validate panel --responses a.csv b.csv --key /tmp/panel/key.csv

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
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register ``validate`` on the ``bn`` command's subparsers (without importing :mod:`bn.validation`: every
    ``bn`` command builds this parser)."""
    v = subparsers.add_parser(
        "validate", help="clinical validation: cases, literature concordance, simulated data, version comparison",
        description="Run the validation suite on a network and write a markdown report with charts. "
                    "Example: bn validate l4l5_knee (writes build/validation/)")
    v.add_argument("network", metavar="NETWORK", nargs="?",
                   help="the network to validate (default l4l5_knee); or 'lock' to lock the test split, or "
                        "'panel' for the clinician-panel protocol")
    v.add_argument("--out", metavar="DIR", help="report folder (default build/validation)")
    v.add_argument("--update-report", action="store_true",
                   help="also write the committed report, validation/report/ (otherwise a run changes no file "
                        "in the working tree)")
    v.add_argument("--unblind", metavar="WHY",
                   help="show the per-case test results, and record that (and why) in "
                        "validation/test_set_views.yaml")
    v.add_argument("--why", metavar="TEXT", help="with 'lock': the changelog entry of the new lock")
    v.add_argument("--lock-file", metavar="FILE", help="the test-set lock (default validation/test_set.lock)")
    v.add_argument("--booklet", metavar="DIR", help="with 'panel': write the blinded booklet and response sheet here")
    v.add_argument("--responses", nargs="+", metavar="CSV", help="with 'panel': filled response sheets to score")
    v.add_argument("--key", metavar="CSV", help="with 'panel --responses': the booklet's key.csv")
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
    from bn.validation import ValidationError

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
    from bn import jsonout
    from bn import validation as V
    from bn.validation.report import write_report

    args.cases = args.cases or str(V.CASES_DIR)
    if args.network == "lock":
        return _lock(args)
    if args.network == "panel":
        return _panel(args)
    if args.why or args.booklet or args.responses or args.key:
        raise V.ValidationError("--why belongs to 'bn validate lock'; --booklet, --responses and --key to "
                                "'bn validate panel'")
    args.out = args.out or str(V.OUT_DIR)
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
        comparison = V.compare_on_cases(net_a, net_b, args.cases, unblind=bool(args.unblind))
        run_b = V.run_all(net_b, args.cases, args.concordance, fast=True, lock_file=_lock_path(args),
                          unblind=args.unblind)
        path = write_report(run_b, args.out, comparison=comparison)
        if args.update_report:
            write_report(run_b, V.REPORT_DIR, comparison=comparison)
        print(f"compared {_name(net_a)} with {_name(net_b)}: {len(comparison['changed_cases'])} case(s) changed "
              f"their leading call, {len(comparison['parameters']['parameters'])} parameter(s) differ")
        print(f"report: {path}")
        return 0
    net = bn.load(args.network or "l4l5_knee")
    result = V.run_all(net, args.cases, args.concordance, samples=args.samples,
                       recovery_sizes=_sizes(args.recovery), seed=args.seed, fast=args.fast,
                       stability_draws=args.stability_draws, lock_file=_lock_path(args), unblind=args.unblind)
    path = write_report(result, args.out)
    if args.update_report:
        write_report(result, V.REPORT_DIR)
    gate = result.gate
    if args.json:
        print(jsonout.dumps({"network": result.network.to_dict(), "gate": gate, "summary": result.suite.summary,
                             "concordance": result.concordance["summary"], "timings": result.timings}, indent=2))
    else:
        s = result.suite.summary
        print(f"network {_name(net)}")
        lock = result.lock
        print(f"test set: {'valid' if lock.valid else 'INVALID (' + '; '.join(lock.reasons) + ')'}")
        for g, title in (("test", "test set (published, locked)"), ("development", "development set"),
                         ("archetypes", "textbook archetypes")):
            m = result.suite.groups[g]
            if not m["cases"]:
                print(f"{title}: no cases")
                continue
            lo, hi = m["source_top1"]["ci95"]
            print(f"{title}: {m['cases']} cases; source top-1 {_pct(m['source_top1'])} (95% {lo:.2f}-{hi:.2f}), "
                  f"diagnosis top-1 {_pct(m['diagnosis_top1'])}, Brier (sources) {m['brier_source']['value']:.3f}")
        for kind in ("check", "input"):
            c = result.concordance["by_kind"][kind]
            print(f"concordance, {kind} rows: {c['inside']} of {c['with_interval']} inside their published interval "
                  f"({c['items']} rows, {c['items'] - c['computed']} not computable in this version)")
        if "stable_cases" in s and not result.unblinded:  # test cases' calls are theirs to keep
            s = {**s, **V.stability_summary([r for r in result.suite.results if r.case.split != "test"])}
        if "stable_cases" in s:
            print(f"stability: {s['stable_cases']} of {s['stability_cases']} knee-pain source calls stable "
                  f"(leader kept in >= {s['stable_share_threshold']:.0%} of {s['stability_draws']} draws; not "
                  f"stable: {', '.join(s['unstable']) or 'none'}); one parameter can change "
                  f"{len(s['flippable'])}")
        print(f"report: {path}")
    if args.write_baseline:
        V.write_baseline(gate, result.network, baseline_path)
        print(f"baseline recorded for {result.network.id} {result.network.version} in {baseline_path}")
    if args.check_baseline:
        recorded = V.read_baseline(baseline_path).get(result.network.id, {}).get(result.network.version)
        if recorded is None:
            raise V.ValidationError(f"no baseline recorded for {result.network.id} {result.network.version} "
                                    f"in {baseline_path}; run 'bn validate --fast --write-baseline' and commit it")
        problems = V.regressions(gate, recorded) + [f"test set: {p}" for p in result.lock.problems]
        for p in problems:
            print(f"bn: regression: {p}", file=sys.stderr)
        return 1 if problems else 0
    return 0


def _pct(m) -> str:
    return f"{m['value']:.2f} ({m['k']}/{m['n']})" if m["n"] else "n/a"


def _lock_path(args) -> Path:
    from bn import validation as V

    return Path(args.lock_file) if args.lock_file else V.LOCK_FILE


def _lock(args: argparse.Namespace) -> int:
    """``bn validate lock --why "..."``: freeze the current test cases (a new lock with a changelog entry)."""
    import bn
    from bn import validation as V
    from bn.validation import testset

    if not args.why:
        raise V.ValidationError("a new lock needs a changelog entry: bn validate lock --why \"...\"")
    net = bn.load("l4l5_knee")  # the version current when the set is locked
    cases = V.load_cases(net.network, args.cases)
    tests = {Path(c.path).name: c.sha256 for c in cases if c.split == "test"}
    path = _lock_path(args)
    lock = testset.make_lock(tests, network_id=net.network.id, network_version=net.network.version, why=args.why,
                             previous=testset.read_lock(path))
    testset.write_lock(lock, path)
    entry = lock.changelog[-1]
    print(f"locked {len(tests)} test cases for {net.network.id} (current version {net.network.version}) in {path}: "
          f"{len(entry['added'])} added, {len(entry['removed'])} removed, {len(entry['changed'])} changed")
    return 0


def _panel(args: argparse.Namespace) -> int:
    """``bn validate panel --booklet DIR`` or ``--responses CSV... --key key.csv``."""
    import bn
    from bn import jsonout
    from bn import validation as V
    from bn.registry import networks_dir
    from bn.validation import panel

    net = bn.load("l4l5_knee")
    vocabulary = networks_dir() / net.network.id / "vocabulary.yaml"
    if bool(args.booklet) == bool(args.responses):
        raise V.ValidationError("bn validate panel needs --booklet DIR or --responses CSV... --key key.csv")
    if args.booklet:
        booklet = panel.write_booklet(args.cases, args.booklet, vocabulary_file=vocabulary, seed=args.seed,
                                      network=net.info.to_dict())
        print(f"booklet of {len(booklet)} test cases (seed {args.seed}) in {args.booklet}: booklet.html, "
              "responses.csv (for the clinicians), key.csv (for the organiser only)")
        return 0
    if not args.key:
        raise V.ValidationError("--responses needs the booklet's key: --key DIR/key.csv")
    sources = list(V.SOURCE_KEYS)
    key = panel.read_key(args.key)
    responses = panel.read_responses(args.responses, sources)
    cases = {Path(c.path).name: c for c in V.load_cases(net.network, args.cases)}
    unknown = sorted(set(key.values()) - set(cases))
    if unknown:
        raise V.ValidationError(f"the key names case files that are not in {args.cases}: {', '.join(unknown)}")
    answers, established = {}, {}
    for name in key.values():
        result = V.score_case(net, cases[name])
        # A version without a source key cannot name it: it answers 0 for it.
        answers[name] = {s: result.source_posteriors.get(s, 0.0) for s in sources}
        established[name] = list(cases[name].knee_pain_sources)
    result = panel.score_panel(responses, key, answers, established, sources)
    out = Path(args.out or V.OUT_DIR / "panel")
    out.mkdir(parents=True, exist_ok=True)
    text = panel.panel_markdown(result, net.info.to_dict())
    (out / "panel.md").write_text(text, encoding="utf-8")
    (out / "panel.json").write_text(jsonout.dumps({"network": net.info.to_dict(), **result}, indent=2) + "\n",
                                    encoding="utf-8")
    print(text, end="")
    print(f"written: {out / 'panel.md'}, {out / 'panel.json'}")
    return 0


def _name(net) -> str:
    info = net.info
    return f"{info.id} {info.version} (sha256 {info.sha256[:16]}...)"

