"""Everything ``bn validate`` runs, as one :class:`ValidationRun`."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bn.inference import BayesNet
from bn.model import NetworkInfo
from bn.validation.base import (
    CASES_DIR,
    CONCORDANCE_FILE,
    DEFAULT_STABILITY_DRAWS,
    LOCK_FILE,
    VIEWS_FILE,
    ValidationError,
)
from bn.validation.cases import CaseSuite, load_cases, run_cases
from bn.validation.concordance import load_concordance, run_concordance
from bn.validation.gate import gate_metrics
from bn.validation.simulation import parameter_recovery, simulate
from bn.validation.testset import LockCheck, check_lock, list_digest, read_lock, read_views, record_view, seen_counts


@dataclass
class ValidationRun:
    network: NetworkInfo
    suite: CaseSuite
    concordance: dict[str, Any]
    simulation: dict[str, Any] | None = None
    simulation_history_exam: dict[str, Any] | None = None
    recovery: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    date: str = field(default_factory=lambda: _dt.date.today().isoformat())
    lock: LockCheck | None = None  # is the test set as locked, and is the lock older than this version?
    seen: dict[str, int] = field(default_factory=dict)  # test case file name -> recorded unblindings
    unblinded: bool = False  # per-case test results shown (recorded in the views file)

    @property
    def test_set(self) -> dict[str, str]:
        """The test cases scored: file name -> sha256."""
        return {Path(r.case.path).name: r.case.sha256 for r in self.suite.group("test")}

    @property
    def gate(self) -> dict[str, Any]:
        return gate_metrics(self.suite, self.concordance, list_digest(self.test_set) if self.test_set else "")


def run_all(net: BayesNet, cases_dir: str | Path = CASES_DIR, concordance_file: str | Path = CONCORDANCE_FILE,
            samples: int = 2000, recovery_sizes: Sequence[int] = (200, 1000, 5000, 20000), seed: int = 0,
            fast: bool = False, stability_draws: int | None = None, lock_file: str | Path | None = LOCK_FILE,
            views_file: str | Path | None = VIEWS_FILE, unblind: str | None = None) -> ValidationRun:
    """Everything ``bn validate`` reports; ``fast`` runs only the case suite and the concordance check (CI).

    ``stability_draws``: joint parameter draws per case for the stability columns (default
    ``DEFAULT_STABILITY_DRAWS``, or 0 = skipped with ``fast``); ``seed`` seeds them. The test cases are
    checked against ``lock_file`` (:func:`bn.validation.testset.check_lock`). ``unblind`` (a reason) shows the
    per-case test results and records that in ``views_file``.
    """
    import time

    if stability_draws is None:
        stability_draws = 0 if fast else DEFAULT_STABILITY_DRAWS
    timings = {}
    t = time.perf_counter()
    suite = run_cases(net, load_cases(net.network, cases_dir), stability_draws=stability_draws, seed=seed)
    timings["cases"] = time.perf_counter() - t  # with stability when stability_draws > 0
    t = time.perf_counter()
    concordance = run_concordance(net, load_concordance(net.network, concordance_file))
    timings["concordance"] = time.perf_counter() - t
    run = ValidationRun(net.info, suite, concordance, timings=timings)
    lock = read_lock(lock_file) if lock_file else None
    run.lock = check_lock(lock, run.test_set, net.network.id, net.network.version)
    views = read_views(views_file) if views_file else []
    if unblind is not None:
        if not views_file:
            raise ValidationError("unblinding needs a views file to record it in")
        views = record_view(views_file, cases=sorted(run.test_set), network=run.network.to_dict(), why=unblind)
        run.unblinded = True
    run.seen = seen_counts(views)
    if fast:
        return run
    t = time.perf_counter()
    run.simulation = simulate(net, samples, seed)
    run.simulation_history_exam = simulate(net, samples, seed, groups=("history", "exam"))
    timings["simulation"] = time.perf_counter() - t
    if recovery_sizes:
        t = time.perf_counter()
        run.recovery = parameter_recovery(net, recovery_sizes, seed)
        timings["recovery"] = time.perf_counter() - t
    return run
