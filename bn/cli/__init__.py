"""The ``bn`` command: a thin shell over the :mod:`bn` API, one module per verb.

Every verb is a module here with ``add_parser(subparsers)``, which registers it and sets ``func`` to its
``run(args) -> int``; :data:`VERBS` lists them in the order ``bn --help`` shows. Bad input (unknown network,
variable or state, malformed finding, unreadable file) prints one line on stderr and exits with status 2;
``bn check`` and the ``bn validate`` gate exit with 1 when they find problems; a bug exits with 3.

>>> parser = build_parser()
>>> parser.parse_args(["query", "l4l5_knee", "-e", "knee_pain=present"]).func.__module__
'bn.cli.query'
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bn.cli import (
    batch,
    check,
    explain,
    export,
    info,
    learn,
    limits,
    networks,
    query,
    report,
    sensitivity,
    stability,
    validate,
)
from bn.cli import next as next_finding  # the module of `bn next`; not the builtin
from bn.errors import BNError
from bn.present import DISCLAIMER

VERBS = (query, explain, next_finding, stability, report, info, export, check, networks, validate, sensitivity, batch,
         learn, limits)

EXIT_CODES = ("exit status: 0 success; 1 problems found (bn check, the bn validate gate); 2 bad input or usage "
              "(one line on stderr saying what and how to fix it); 3 an internal error (--debug shows the traceback)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _exit_on_sigterm()
    try:
        from bn import limits as configured

        for item in args.limit:
            configured.configure(**configured.parse(item))
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


def build_parser() -> argparse.ArgumentParser:
    """The ``bn`` parser with every verb of :data:`VERBS` registered."""
    p = argparse.ArgumentParser(
        prog="bn", description="Bayesian-network diagnostic reasoner: is this knee pain from the L4-L5 "
                               f"segment, the knee or the hip? {DISCLAIMER}",
        epilog="NETWORK is a published id (l4l5_knee), id@version (l4l5_knee@1.0.0) or a path to a "
               f".yaml, .bif or .xmlbif file. {EXIT_CODES}.")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                   help="raise or lower a limit for this command, e.g. network_bytes=50MB or csv_rows=20_000_000 "
                        "(repeatable; 'bn limits' lists them; BN_LIMITS sets them for every command)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb in VERBS:
        verb.add_parser(sub)
    return p
