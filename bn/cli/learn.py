"""The ``bn learn`` subcommand: a new version of a network file with tables updated from records
(see :mod:`bn.learn`).

Registered by :func:`add_parser` (see :mod:`bn.cli`); errors are :class:`~bn.errors.BNError` subclasses, which
``bn`` prints as one line with exit status 2.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="bn")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["learn", "l4l5_knee", "records.csv", "--version", "1.2.0", "--out", "mine.yaml"])
>>> args.method, args.prior_weight, args.out, args.publish
('bayes', 10.0, 'mine.yaml', False)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register ``bn learn`` on the ``bn`` command's subparsers."""
    p = subparsers.add_parser(
        "learn", help="update a network's tables from records (a CSV or parquet file, one patient per row)",
        description="Write a new version of a network file whose tables are updated from local records: columns "
                    "are variable ids holding state names (blank = unknown). Each table is updated from the "
                    "records in which its variable and all its parents are known. Bayesian by default: each row "
                    "of a table counts as --prior-weight records of prior knowledge. The new file cites the "
                    "records, says on every row how many records it rests on, and is validated before it is "
                    "written; an existing file is never overwritten. It is written where --out says; --publish "
                    "instead adds it to the published networks (a deliberate act: the version must be greater "
                    "than every published one, and its sha256 is pinned). --report DIR writes what the records "
                    "say against the network: calibration of each finding, conflicting records, the numbers "
                    "they move most, and arcs they suggest are missing. "
                    "Example: bn learn l4l5_knee clinic.csv --version 2.1.0 --out clinic-2.1.0.yaml "
                    "--report clinic-report/")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("records", metavar="RECORDS", help="a .csv or .parquet file")
    p.add_argument("--version", metavar="X.Y.Z", help="the new version number (needed with --out or --publish)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="FILE", help="where to write it (never inside the published networks)")
    where.add_argument("--publish", action="store_true",
                       help="publish it as networks/<id>/<version>.yaml and pin its sha256 (the version must be "
                            "greater than every published version)")
    p.add_argument("--method", choices=["bayes", "mle", "em"], default="bayes",
                   help="bayes: posterior mean with the network's rows as the prior (default); mle: frequencies; "
                        "em: every record, however incomplete, by expectation-maximisation with the same prior")
    p.add_argument("--max-iter", type=int, default=50, metavar="N", help="em: at most N iterations (default 50)")
    p.add_argument("--dask", metavar="local|ADDRESS",
                   help="em: compute each E-step's expected counts in partitions on a Dask cluster ('local' starts "
                        "two worker processes here) and add them up")
    p.add_argument("--tol", type=float, default=1e-6, metavar="T",
                   help="em: stop when the log-posterior rises by less than T (default 1e-6)")
    p.add_argument("--freeze", metavar="VAR", action="append", default=[],
                   help="em: leave this variable's table as it is (repeatable)")
    p.add_argument("--prior-weight", type=float, default=10.0, metavar="N",
                   help="how many records each row of the current tables counts as (bayes; default 10)")
    p.add_argument("--variables", metavar="VAR[,VAR...]", action="append", default=[],
                   help="update only these tables (default: every table the records cover)")
    p.add_argument("--ignore", metavar="COL", action="append", default=[],
                   help="a column that is not a variable, e.g. a patient id (repeatable; as in bn batch)")
    p.add_argument("--keep", metavar="COL", action="append", default=[],
                   help="a column that is not a variable and would be copied to a per-record output (as in bn "
                        "batch); bn learn writes none, so it is left out like --ignore and the same options work "
                        "for both verbs on one file")
    p.add_argument("--report", metavar="DIR",
                   help="also (or only) write the 'does the data contradict the network?' report: report.md, "
                        "data_check.json and charts")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import hashlib

    from bn.batch import read_cases
    from bn.cache import load
    from bn.learn import LearnError

    if not (args.out or args.publish or args.report):
        raise LearnError("say what to write: --out FILE (a new network file), --publish, or --report DIR")
    if (args.out or args.publish) and not args.version:
        raise LearnError("--version X.Y.Z is needed to write a new network file")
    net = load(args.network)
    records = read_cases(args.records, what="records file")
    sha = hashlib.sha256(Path(args.records).read_bytes()).hexdigest()
    summary: dict = {}
    if args.report:
        from bn.datacheck import check_records
        from bn.datacheck_report import write_report

        check = check_records(net, records, prior_weight=args.prior_weight, ignore=[*args.ignore, *args.keep],
                              data_name=Path(args.records).name, data_sha256=sha)
        files = write_report(check, args.report, network=net.network)
        summary["report"] = {"folder": args.report, "files": [p.name for p in files],
                             "calibration_flagged": [c.variable for c in check.calibration if c.flagged],
                             "moved_flagged": [m.name for m in check.moved if m.flagged],
                             "arcs_suggested": [[a.cause, a.finding] for a in check.arcs if a.suggested]}
        if not args.json:
            print(f"report written to {args.report}: {len(summary['report']['calibration_flagged'])} findings "
                  f"miscalibrated, {sum(m.flagged and m.kind == 'finding' for m in check.moved)} finding-table rows "
                  f"and {sum(m.flagged and m.kind == 'cause' for m in check.moved)} cause-table rows moved, "
                  f"{len(summary['report']['arcs_suggested'])} arcs suggested (q < 0.05)", file=sys.stderr)
    if args.out or args.publish:
        summary.update(_learn(args, net, records, sha))
    if args.json:
        print(json.dumps(summary, indent=1))
    return 0


def _learn(args: argparse.Namespace, net, records, sha: str) -> dict:
    from bn.files import atomic_path, refuse_registry
    from bn.learn import LearnError, learn
    from bn.netfile import parse_network_text, read_network_file
    from bn.registry import publish

    variables = [v.strip() for group in args.variables for v in group.split(",") if v.strip()] or None
    result = learn(net, records, version=args.version, method=args.method, prior_weight=args.prior_weight,
                   variables=variables, ignore=[*args.ignore, *args.keep], data_name=Path(args.records).name,
                   data_sha256=sha,
                   freeze=[v.strip() for group in args.freeze for v in group.split(",") if v.strip()],
                   max_iter=args.max_iter, tol=args.tol, progress=True, dask=args.dask)
    if args.publish:
        network_id = result.network.id
        written = parse_network_text(result.text, name=f"{network_id}/{args.version}.yaml")
        out = publish(result.text, network_id=network_id, version=args.version)
    else:
        out = Path(args.out)
        if out.exists():
            raise LearnError(f"{out} exists; bn learn never overwrites a network file (choose another --out)")
        refuse_registry(out, what=f"bn learn {args.version}")
        out.parent.mkdir(parents=True, exist_ok=True)
        # Checked before it is written (the loader's own checks, with the file name: the version must match
        # it), then written whole: a file that fails its check never reaches the disk.
        with atomic_path(out) as tmp:
            tmp.write_text(result.text, encoding="utf-8")
            written = read_network_file(tmp, name=out)
    summary = {"network": written.info.to_dict(), "file": str(out),
               "tables": [t.to_dict() for t in result.tables], "skipped": result.skipped,
               "contradictions": result.contradictions}
    if result.fit is not None:
        summary["em"] = {"iterations": result.fit.iterations, "converged": result.fit.converged,
                         "log_posterior": result.fit.log_posterior, "records_used": result.fit.records_used,
                         "skipped_rows": result.fit.skipped_rows}
    if not args.json:
        print(result.summary())
        print(f"written to {out}", file=sys.stderr)
    return summary
