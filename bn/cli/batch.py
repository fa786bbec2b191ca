"""The ``bn batch`` subcommand: score a CSV or parquet file of cases (see :mod:`bn.batch`).

Registered by :func:`add_parser` (see :mod:`bn.cli`); errors are :class:`~bn.errors.BNError` subclasses, which
``bn`` prints as one line with exit status 2.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="bn")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["batch", "l4l5_knee", "cases.csv", "--on-error", "fail"])
>>> args.on_error, args.out, args.dask
('fail', None, None)
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> None:
    """Register ``bn batch`` on the ``bn`` command's subparsers."""
    b = subparsers.add_parser(
        "batch", help="score a CSV or parquet file of cases, one case per row",
        description="Posterior probabilities for every row of a CSV or parquet file. Columns are finding ids "
                    "holding state names (blank = not known). Output: one row per case with P(variable=state) "
                    "columns, the knee-pain sources, log P(findings), an error column and the network id, "
                    "version and sha256. Rows are numbered from 1 (the header is not a row); for a CSV file a "
                    "line column gives each row's line in the file (header and blank lines counted), and errors "
                    "name it. A row with more or fewer fields than the header is a bad row. "
                    "Example: bn batch l4l5_knee cases.csv --out scored.parquet")
    b.add_argument("network", metavar="NETWORK")
    b.add_argument("cases", metavar="CASES", help="a .csv or .parquet file")
    b.add_argument("--out", metavar="FILE", help="output .csv or .parquet (default: CSV on standard output)")
    b.add_argument("--targets", metavar="VAR[,VAR...]", action="append", default=[],
                   help="variables to report (default: diagnoses and mechanisms; repeatable or comma-separated)")
    b.add_argument("--keep", metavar="COL", action="append", default=[],
                   help="a column that is not a variable, copied to the output unchanged, e.g. a case id "
                        "(repeatable; as in bn learn)")
    b.add_argument("--ignore", metavar="COL", action="append", default=[],
                   help="a column that is not a variable, left out of the output (repeatable; as in bn learn)")
    b.add_argument("--on-error", choices=["skip", "fail"], default="skip",
                   help="a bad row (unknown state, impossible findings): keep it with the reason in the error "
                        "column and go on (skip, the default), or stop with its row number (fail)")
    b.add_argument("--dask", metavar="local|ADDRESS",
                   help="score partitions on a Dask cluster: 'local' starts one on this machine, or give the "
                        "scheduler address (tcp://host:8786); results are identical to a local run")
    from bn.batch import CHUNK_SIZE

    b.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, metavar="N", help="cases per vectorised chunk")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bn.batch import BatchError, read_case_file, score_cases, write_output
    from bn.cache import load

    if args.chunk_size < 1:
        raise BatchError("--chunk-size must be at least 1")
    net = load(args.network)
    targets = [t.strip() for group in args.targets for t in group.split(",") if t.strip()] or None
    cases = read_case_file(args.cases, keep_bad_rows=True)
    errors_seen = []

    def report(error) -> None:
        errors_seen.append(error)
        if len(errors_seen) <= 20:
            print(f"bn: bad {error}", file=sys.stderr)

    missing = [c for c in args.ignore if c not in cases.frame.columns]
    if missing:
        raise BatchError(f"--ignore names column '{missing[0]}', which the cases file does not have")
    frame = cases.frame.drop(columns=list(dict.fromkeys(args.ignore)))
    scored, errors = score_cases(net, frame, targets=targets, keep=args.keep, on_error=args.on_error,
                                 chunk_size=args.chunk_size, dask=args.dask, reference=args.network,
                                 progress=not args.no_progress, report=report, lines=cases.lines,
                                 row_errors=cases.row_errors)
    write_output(scored, args.out)
    info = net.info
    more = " (first 20 listed)" if len(errors) > 20 else ""
    print(f"scored {len(scored) - len(errors)} of {len(scored)} rows with {info.id} {info.version} "
          f"(sha256 {info.sha256[:16]}...); {len(errors)} bad row{'s' if len(errors) != 1 else ''}{more}"
          + (f" -> {args.out}" if args.out else ""), file=sys.stderr)
    return 0
